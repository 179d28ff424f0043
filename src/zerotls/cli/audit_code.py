"""``zerotls audit code``: find insecure TLS, socket, MAC and crypto use in Python source.

A thin shell around :mod:`zerotls.codeaudit`: it parses the arguments, runs
:func:`~zerotls.codeaudit.audit_paths`, prints the report (text, JSON or SARIF) and turns the
gate into the exit code: 0 nothing unsuppressed at or above ``--min-severity``, 1 something
is, 2 bad arguments (raised as :class:`~zerotls.errors.ConfigError`, printed by ``main``).
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from zerotls.errors import ConfigError

__all__ = ["add_arguments", "run"]

EPILOG = """\
Files are parsed, never imported or run. Values are followed through imports and simple
assignments (ctx = ssl.create_default_context(); ctx.check_hostname = False); anything that
cannot be resolved is left alone, so the audit is conservative: no finding is not proof of
safety.

silencing one finding, with a reason (required; without one the comment is itself reported):
  requests.get(url, verify=False)  # zerotls: ignore[TLS004] lab device, self-signed, no secrets

exit codes: 0 nothing unsuppressed at or above --min-severity, 1 findings fail the gate,
2 bad arguments or a path that does not exist.

examples:
  zerotls audit code src/                           # text report, fails on low and above
  zerotls audit code . --min-severity high          # gate on high only
  zerotls audit code src/ --sarif > zerotls.sarif   # for code-scanning UIs
  zerotls audit code app.py --json | jq '.findings[] | .rule_id'
  zerotls audit code src/ --select TLS,NET --ignore TLS002 --exclude 'tests/fixtures/*'
  zerotls audit code --list-rules

Rules, value tracking and suppressions: docs/code-audit.md"""


def add_arguments(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``code`` kind to ``zerotls audit``."""
    from zerotls.codeaudit import DEFAULT_EXCLUDES, Severity

    parser = kinds.add_parser(
        "code",
        help="find insecure TLS, socket, MAC and crypto use in Python source",
        description="Read Python source (never run it) and report insecure TLS and socket "
        "use: legacy protocols, verification or host-name checks turned off, weak cipher "
        "strings, cleartext connections, MACs compared with ==, MD5/SHA-1 in MACs, weak "
        "keys. Each finding says why it is dangerous and how to fix it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        default=["."],
        metavar="PATH",
        help="Python files or directories to audit (default: the current directory)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="write the report as JSON")
    output.add_argument(
        "--sarif", action="store_true", help="write a SARIF 2.1.0 log (for code-scanning UIs)"
    )
    parser.add_argument(
        "--min-severity",
        default="low",
        choices=[s.value for s in Severity],
        help="exit 1 when an unsuppressed finding is at or above this severity (default: low)",
    )
    parser.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="IDS",
        help="report only these rule ids or prefixes, comma-separated (e.g. TLS,MAC001)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="IDS",
        help="do not report these rule ids or prefixes (e.g. TLS002,ZTL003)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip paths matching this glob (relative path or any path component); repeatable",
    )
    parser.add_argument(
        "--no-default-excludes",
        action="store_true",
        help=f"also descend into {', '.join(DEFAULT_EXCLUDES)}",
    )
    parser.add_argument(
        "--show-suppressed",
        action="store_true",
        help="list suppressed findings in the text report, with their reasons",
    )
    parser.add_argument("--list-rules", action="store_true", help="describe every rule and exit")
    parser.set_defaults(func=run)


def list_rules() -> str:
    """Every rule with its severity, title, reason and fix, for ``--list-rules``."""
    from zerotls.codeaudit import RULES

    blocks = []
    for rule in RULES.values():
        why = textwrap.fill(rule.why, 96, initial_indent="    why: ", subsequent_indent="    ")
        fix = textwrap.fill(rule.fix, 96, initial_indent="    fix: ", subsequent_indent="    ")
        blocks.append(f"{rule.id} ({rule.severity.value}) {rule.title}\n{why}\n{fix}")
    return "\n\n".join(blocks) + "\n"


def run(args: argparse.Namespace) -> int:
    """Run the audit and print the report; return the exit code of the gate."""
    from zerotls import __version__
    from zerotls.codeaudit import Severity, audit_paths, to_json, to_sarif, to_text

    if args.list_rules:
        sys.stdout.write(list_rules())
        return 0
    try:
        min_severity = Severity.parse(args.min_severity)
    except ValueError as exc:  # pragma: no cover - argparse choices already refuse it
        raise ConfigError(str(exc)) from None
    report = audit_paths(
        args.paths,
        select=args.select,
        ignore=args.ignore,
        exclude=args.exclude,
        default_excludes=not args.no_default_excludes,
    )
    if args.sarif:
        sys.stdout.write(to_sarif(report, version=__version__))
    elif args.json:
        sys.stdout.write(to_json(report, min_severity=min_severity))
    else:
        sys.stdout.write(
            to_text(report, min_severity=min_severity, show_suppressed=args.show_suppressed)
        )
    return 1 if report.failing(min_severity) else 0
