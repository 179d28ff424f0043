"""Find Python files, parse them, run the rules, apply suppressions and the rule selection.

Files are read as bytes and decoded with their PEP 263 encoding; they are parsed with
:func:`ast.parse` and never imported or executed, so auditing untrusted code is safe. A file
that cannot be read, decoded or parsed becomes one ZTL001 finding naming the problem, and the
scan goes on with the next file: one bad file never hides the others, and never shows a
traceback.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import os
import stat
import tokenize
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from zerotls.codeaudit._analysis import Hit, analyse
from zerotls.codeaudit._suppress import find_suppressions
from zerotls.codeaudit.model import CodeAuditReport, Finding
from zerotls.codeaudit.rules import RULES
from zerotls.errors import ConfigError

__all__ = [
    "DEFAULT_EXCLUDES",
    "MAX_FILE_SIZE",
    "audit_paths",
    "audit_source",
    "iter_python_files",
    "resolve_rule_selection",
]

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".venv",
    ".git",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
)
"""Directory names never descended into (unless named on the command line)."""

MAX_FILE_SIZE = 10 * 2**20
"""Larger files are reported (ZTL001) rather than parsed: generated data, not code."""

_KNOWN = frozenset(RULES)


def resolve_rule_selection(
    select: Iterable[str] = (), ignore: Iterable[str] = ()
) -> frozenset[str]:
    """The rule ids to report, from ``--select`` and ``--ignore`` entries.

    Entries are ids (``TLS004``) or prefixes (``TLS``, ``NET00``), case-insensitive. No
    ``select`` means every rule.

    Raises:
        ConfigError: an entry matches no rule (the message lists the known ids).
    """

    def expand(entry: str, flag: str) -> set[str]:
        prefix = entry.strip().upper()
        matched = {r for r in RULES if r.startswith(prefix)} if prefix else set()
        if not matched:
            raise ConfigError(
                f"{flag} {entry!r} matches no rule; known rules: {', '.join(RULES)} "
                "(`zerotls audit code --list-rules` explains each)"
            )
        return matched

    chosen: set[str] = set()
    select_entries = [e for item in select for e in item.split(",") if e.strip()]
    for entry in select_entries:
        chosen |= expand(entry, "--select")
    if not select_entries:
        chosen = set(RULES)
    for item in ignore:
        for entry in item.split(","):
            if entry.strip():
                chosen -= expand(entry, "--ignore")
    return frozenset(chosen)


def _char_col(lines: Sequence[str], line: int, byte_col: int) -> int:
    """1-based character column from ast's 0-based UTF-8 byte offset."""
    if 1 <= line <= len(lines):
        prefix = lines[line - 1].encode("utf-8")[:byte_col]
        return len(prefix.decode("utf-8", errors="ignore")) + 1
    return byte_col + 1


def _finding(
    rule_id: str, path: str, line: int, col: int, message: str, *, fix: str | None = None
) -> Finding:
    rule = RULES[rule_id]
    return Finding(rule_id, rule.severity, path, line, col, message, rule.why, fix or rule.fix)


def _unparsable(path: str, line: int, what: str) -> list[Finding]:
    return [_finding("ZTL001", path, max(line, 1), 1, f"not audited: {what}")]


def audit_source(
    source: str, path: str = "<string>", *, rules: frozenset[str] | None = None
) -> list[Finding]:
    """Audit one file's text.

    Args:
        source: Python source code (it is parsed, never run).
        path: the name to report findings under.
        rules: the rule ids to report (default: all).

    Returns:
        The findings, suppressed ones included (``suppressed=True``), sorted by position.
    """
    with warnings.catch_warnings():
        # Invalid escape sequences and the like warn at parse time; they are not our finding.
        warnings.simplefilter("ignore")
        try:
            tree = ast.parse(source, filename=path)
        except SyntaxError as exc:
            return _filter(_unparsable(path, exc.lineno or 1, f"syntax error: {exc.msg}"), rules)
        except (RecursionError, MemoryError):
            # CPython's parser gives up on very deep nesting (a long unary chain, thousands of
            # brackets) with an empty MemoryError or a RecursionError: say what it means.
            why = "expressions nested too deeply for the Python parser (no finding possible)"
            return _filter(_unparsable(path, 1, why), rules)
        except ValueError as exc:  # e.g. null bytes in the source
            return _filter(
                _unparsable(path, 1, f"cannot parse: {exc or type(exc).__name__}"), rules
            )
    try:
        hits = analyse(tree)
    except RecursionError:
        return _filter(_unparsable(path, 1, "expressions nested too deeply to analyse"), rules)
    lines = source.splitlines()
    return _filter(_apply_suppressions(source, path, lines, hits), rules)


def _apply_suppressions(
    source: str, path: str, lines: Sequence[str], hits: Sequence[Hit]
) -> list[Finding]:
    suppressions = find_suppressions(source, _KNOWN)
    by_line = {s.line: s for s in suppressions if s.problem is None}
    used: set[int] = set()
    findings: list[Finding] = []
    for hit in hits:
        col = _char_col(lines, hit.line, hit.col)
        finding = _finding(hit.rule_id, path, hit.line, col, hit.message, fix=hit.fix)
        for line in dict.fromkeys((hit.line, hit.stmt_line)):
            suppression = by_line.get(line)
            if suppression is not None and hit.rule_id in suppression.rule_ids:
                used.add(line)
                finding = Finding(
                    finding.rule_id,
                    finding.severity,
                    finding.path,
                    finding.line,
                    finding.col,
                    finding.message,
                    finding.why,
                    finding.fix,
                    suppressed=True,
                    suppression_reason=suppression.reason,
                )
                break
        findings.append(finding)
    for suppression in suppressions:
        col = _char_col(lines, suppression.line, suppression.col)
        if suppression.problem is not None:
            findings.append(
                _finding(
                    "ZTL002",
                    path,
                    suppression.line,
                    col,
                    f"suppression ignored: {suppression.problem}",
                )
            )
        elif suppression.line not in used:
            findings.append(
                _finding(
                    "ZTL003",
                    path,
                    suppression.line,
                    col,
                    f"ignore[{','.join(suppression.rule_ids)}] silences nothing on this line",
                )
            )
    findings.sort(key=lambda f: (f.line, f.col, f.rule_id))
    return findings


def _filter(findings: list[Finding], rules: frozenset[str] | None) -> list[Finding]:
    return findings if rules is None else [f for f in findings if f.rule_id in rules]


def _excluded(relative: str, patterns: Sequence[str]) -> bool:
    parts = relative.split("/")
    for pattern in patterns:
        if fnmatch.fnmatch(relative, pattern) or any(fnmatch.fnmatch(p, pattern) for p in parts):
            return True
    return False


def iter_python_files(
    paths: Sequence[str | Path],
    *,
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
) -> Iterator[Path]:
    """Every ``.py`` file under ``paths`` that will be read, sorted (see :func:`walk`)."""
    for path, problem in walk(paths, exclude=exclude, default_excludes=default_excludes):
        if problem is None:
            yield path


def walk(
    paths: Sequence[str | Path],
    *,
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
) -> Iterator[tuple[Path, str | None]]:
    """Every ``.py`` file under ``paths``, sorted, with the reason it is not read (or None).

    The tree may be hostile (a pull request): directory symlinks are not followed, a file
    symlink is followed only to a file inside the same tree (never to ``/etc/shadow``), and
    only regular files are read (a FIFO named ``x.py`` would hang the audit, ``/dev/zero``
    exhaust its memory). A file named explicitly is always included (unless ``exclude``
    matches it), whatever its suffix. Directories named in :data:`DEFAULT_EXCLUDES` are
    skipped below a given path.

    Raises:
        ConfigError: a path does not exist, or names something other than a regular file or
            a directory.
    """
    skip_dirs = set(DEFAULT_EXCLUDES) if default_excludes else set()
    for given in paths:
        root = Path(given)
        try:
            mode = root.stat().st_mode
        except OSError:
            raise ConfigError(
                f"{given}: no such file or directory; give Python files or directories to audit"
            ) from None
        if stat.S_ISREG(mode):
            if not _excluded(root.as_posix(), exclude):
                yield root, None
            continue
        if not stat.S_ISDIR(mode):
            raise ConfigError(
                f"{given} is {_kind(mode)}, not a regular file or a directory: give Python "
                "files or directories to audit"
            )
        real_root = root.resolve()
        for directory, subdirs, files in os.walk(root):
            base = Path(directory)
            kept = []
            for name in sorted(subdirs):
                relative = (base / name).relative_to(root).as_posix()
                if name in skip_dirs or _excluded(relative, exclude):
                    continue
                kept.append(name)
            subdirs[:] = kept
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                file = base / name
                if _excluded(file.relative_to(root).as_posix(), exclude):
                    continue
                yield file, _why_not_read(file, real_root)


def _why_not_read(file: Path, real_root: Path) -> str | None:
    try:
        if file.is_symlink():
            target = file.resolve()
            if not target.is_relative_to(real_root):
                return "a symbolic link out of the audited tree (not followed)"
        mode = file.stat().st_mode
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return f"cannot read: {getattr(exc, 'strerror', None) or exc}"
    if not stat.S_ISREG(mode):
        return f"{_kind(mode)}, not a regular file (not read)"
    return None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _read_source(path: Path) -> tuple[str | None, str]:
    """The decoded text of a file, or None and the reason it could not be read.

    Opened without blocking and checked again on the open descriptor (the tree may change
    between the walk and the read); at most :data:`MAX_FILE_SIZE` bytes are read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            return None, f"{_kind(mode)}, not a regular file (not read)"
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_SIZE + 1)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_SIZE:
        return None, f"larger than {MAX_FILE_SIZE // 2**20} MiB"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding), ""
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return None, f"cannot decode the text: {exc}"


def audit_paths(
    paths: Sequence[str | Path],
    *,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
) -> CodeAuditReport:
    """Audit every Python file under ``paths``.

    Args:
        paths: files and directories.
        select: rule ids or prefixes to report (default: all).
        ignore: rule ids or prefixes not to report.
        exclude: glob patterns (matched against paths relative to each given directory and
            against each path component), e.g. ``tests/fixtures/*``, ``*_pb2.py``.
        default_excludes: skip ``.venv``, ``.git``, ``__pycache__`` and other tool
            directories (:data:`DEFAULT_EXCLUDES`).

    Returns:
        The report: every finding, suppressed ones marked.

    Raises:
        ConfigError: a path does not exist, or a select/ignore entry matches no rule.
    """
    rules = resolve_rule_selection(select, ignore)
    findings: list[Finding] = []
    count = 0
    for file, skipped in walk(paths, exclude=exclude, default_excludes=default_excludes):
        count += 1
        shown = file.as_posix()
        source, problem = _read_source(file) if skipped is None else (None, skipped)
        if source is None:
            findings.extend(_filter(_unparsable(shown, 1, problem), rules))
            continue
        findings.extend(audit_source(source, shown, rules=rules))
    findings.sort(key=lambda f: (f.path, f.line, f.col, f.rule_id))
    return CodeAuditReport(tuple(findings), count)
