"""Inline suppressions: ``# zerotls: ignore[TLS004,TLS005] reason``.

A suppression silences the named rules for findings on the comment's line, or on any line of a
statement that *starts* on that line (so one comment covers a call spread over several lines).
The reason is required: a suppression without one, without rule ids, or naming an unknown rule
is itself a finding (ZTL002) and suppresses nothing. A valid suppression that silenced nothing
is reported as ZTL003 (info), so stale ones get cleaned up.

Comments are found with :mod:`tokenize`, so ``"# zerotls: ignore[...]"`` inside a string is
not a suppression.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

__all__ = ["Suppression", "find_suppressions"]

_MARKER = re.compile(r"zerotls\s*:\s*ignore\b", re.IGNORECASE)
_FULL = re.compile(r"zerotls\s*:\s*ignore\s*\[(?P<ids>[^\]]*)\]\s*(?P<reason>[^#]*)", re.IGNORECASE)
_RULE_ID = re.compile(r"[A-Z]{2,5}[0-9]{3}")


@dataclass(frozen=True, slots=True)
class Suppression:
    """One ``# zerotls: ignore[...]`` comment."""

    line: int
    col: int
    rule_ids: tuple[str, ...]
    reason: str
    problem: str | None
    """Why the comment is invalid (then it suppresses nothing), or None."""


def find_suppressions(source: str, known_rules: frozenset[str]) -> list[Suppression]:
    """Every suppression comment of a file that :func:`ast.parse` accepted.

    Args:
        source: the file's text.
        known_rules: the ids a suppression may name.
    """
    found: list[Suppression] = []
    if _MARKER.search(source) is None:
        return found  # tokenizing costs more than parsing: skip files with no marker at all
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # pragma: no cover - ast.parse accepted it
        return found
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        text = token.string.lstrip("#").strip()
        marker = _MARKER.search(text)
        if marker is None:
            continue
        line, col = token.start
        full = _FULL.search(text, marker.start())
        if full is None:
            found.append(
                Suppression(
                    line,
                    col,
                    (),
                    "",
                    "write the rule ids in brackets and a reason: "
                    "# zerotls: ignore[TLS004] <why this is acceptable>",
                )
            )
            continue
        ids = tuple(i.strip().upper() for i in full.group("ids").split(",") if i.strip())
        reason = full.group("reason").strip()
        problem: str | None = None
        bad = [i for i in ids if not _RULE_ID.fullmatch(i) or i not in known_rules]
        if not ids:
            problem = "no rule id in the brackets: name the rules it silences"
        elif bad:
            problem = f"unknown rule id {', '.join(bad)}: see `zerotls audit code --list-rules`"
        elif not re.search(r"\w", reason):
            problem = (
                f"no reason given after ignore[{','.join(ids)}]: say why the finding is "
                "acceptable here"
            )
        found.append(Suppression(line, col, ids, reason, problem))
    return found
