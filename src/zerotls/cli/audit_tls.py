"""``zerotls audit tls``: grade TLS endpoints and gate CI on the result.

A thin shell around :mod:`zerotls.audit`: parse targets and options, run the scan (with a
progress line on a terminal when there are several targets), render the chosen format, and
turn ``--min-grade`` / ``--profile`` / ``--pin`` into the exit code: 0 the gate passed, 1 it
failed, 2 bad arguments, 3 no target could be scanned.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zerotls.errors import ConfigError, TransportError

__all__ = ["add_arguments", "run"]

EPILOG = """\
what it checks (probes; all run by default, choose with --probes):
{probes}

grading follows the SSL Labs rating guide (A+ to F; T for trust problems, M for a name
mismatch), and every cap says why and how to fix it. Profiles are Mozilla's Server Side TLS
"modern" and "intermediate".

exit codes: 0 gate passed (or no gate given), 1 a target is below --min-grade, breaks
--profile or fails --pin, 2 usage error, 3 no target could be scanned.

examples:
  zerotls audit example.com                        # same as: zerotls audit tls example.com:443
  zerotls audit tls 127.0.0.1:8443 --ca ca.pem --min-grade B
  zerotls audit tls db.internal:5432 --starttls postgres --profile intermediate
  zerotls audit tls smtp://mail.example.com        # STARTTLS on port 25
  zerotls audit tls dtls://127.0.0.1:4433          # DTLS over UDP (or: --dtls HOST:PORT)
  zerotls audit tls --targets fleet.txt --json > audit.json
  zerotls audit tls --targets fleet.txt --sarif -o audit.sarif --min-grade A
  zerotls audit tls api.example.com --pin 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg='

JSON schema, grading rules and probes: docs/audit.md"""

_GRADES = ("A+", "A", "A-", "B", "C", "D", "E", "F")


def add_arguments(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tls`` to the ``audit`` command's kinds."""
    from zerotls.audit.model import STARTTLS_PORTS
    from zerotls.audit.probes import ORDER, REGISTRY

    probes = "\n".join(f"  {name:<14} {REGISTRY[name].cli_help}" for name in ORDER)
    p = kinds.add_parser(
        "tls",
        help="grade TLS endpoints: protocols, cipher suites, certificates, known attacks",
        description="Probe TLS endpoints from SSLv2 to TLS 1.3 with raw handshakes (whatever "
        "OpenSSL is installed), check their certificates, grade them like SSL Labs, say how to "
        "fix each problem, and set the exit code for CI.",
        epilog=EPILOG.format(probes=probes),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "targets",
        nargs="*",
        metavar="HOST[:PORT]",
        help="endpoints: host, host:port, [v6]:port, or scheme://host[:port] with scheme "
        "https, dtls, smtp, submission, imap, pop3, ftp or postgres (default port 443)",
    )
    p.add_argument(
        "--dtls",
        action="store_true",
        help="the targets speak DTLS over UDP (as dtls://): versions, suites, cookie exchange "
        "(reflection amplification) and the certificate",
    )
    p.add_argument(
        "--targets",
        dest="targets_file",
        type=Path,
        metavar="FILE",
        help="read more targets from FILE, one per line (# starts a comment)",
    )
    p.add_argument(
        "--starttls",
        choices=sorted(STARTTLS_PORTS),
        help="speak this protocol's STARTTLS before TLS (default port follows the protocol)",
    )
    p.add_argument("--sni", metavar="NAME", help="server name to send and check (one target)")
    p.add_argument(
        "--ca",
        type=Path,
        metavar="FILE",
        help="trust these CA certificates (PEM) instead of the system store; intermediates in "
        "it help tell an incomplete chain from an untrusted one",
    )
    p.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="SHA256",
        help="expected SPKI pin (base64 SHA-256, as `zerotls pki` prints); repeatable; a chain "
        "matching none is pin drift and fails the gate",
    )
    p.add_argument(
        "--min-grade",
        choices=_GRADES,
        metavar="GRADE",
        help="fail (exit 1) when a target grades below this (A+, A, A-, B, C, D, E, F); "
        "T and M always fail",
    )
    p.add_argument(
        "--profile",
        choices=("modern", "intermediate"),
        help="fail (exit 1) when a target breaks this Mozilla profile",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json",
                     help="JSON report (schema zerotls.audit/1)")  # fmt: skip
    fmt.add_argument("--html", dest="format", action="store_const", const="html",
                     help="one self-contained HTML page")  # fmt: skip
    fmt.add_argument("--sarif", dest="format", action="store_const", const="sarif",
                     help="SARIF 2.1.0 for code-scanning dashboards")  # fmt: skip
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the report here")
    p.add_argument(
        "--probes",
        metavar="LIST",
        help=f"comma-separated probes to run (default: all): {','.join(ORDER)}",
    )
    p.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS",
        help="connect and read timeout (default 5)",
    )  # fmt: skip
    p.add_argument(
        "--per-host", type=int, default=6, metavar="N",
        help="connections open at once to one target (default 6)",
    )  # fmt: skip
    p.add_argument(
        "--concurrency", type=int, default=64, metavar="N",
        help="connections open at once overall (default 64)",
    )  # fmt: skip
    p.add_argument(
        "--warn-days", type=int, default=30, metavar="DAYS",
        help="report certificates expiring within DAYS (default 30)",
    )  # fmt: skip
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: on a terminal, with several targets)",
    )
    p.set_defaults(func=run, format="text")


def _read_targets(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read targets file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"targets file {path} is not UTF-8 text") from None
    out = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            out.append(entry)
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``zerotls audit tls``."""
    from zerotls.audit import ScanOptions, Target, meets, scan
    from zerotls.audit.reports import render_html, render_json, render_sarif, render_text

    texts: list[str] = list(args.targets)
    if args.targets_file is not None:
        texts += _read_targets(args.targets_file)
    if not texts:
        raise ConfigError(
            "no target: give HOST[:PORT] arguments or --targets FILE "
            "(e.g. `zerotls audit tls example.com`)"
        )
    if args.sni and len(texts) > 1:
        raise ConfigError("--sni applies to one target; give one target, or drop --sni")
    targets = [
        Target.parse(t, starttls=args.starttls, server_name=args.sni, dtls=args.dtls) for t in texts
    ]
    probes = None
    if args.probes:
        probes = tuple(p.strip() for p in args.probes.split(",") if p.strip())
    options = ScanOptions(
        probes=probes,
        timeout=args.timeout,
        per_host=args.per_host,
        concurrency=args.concurrency,
        ca_file=args.ca,
        pins=frozenset(args.pin),
        warn_days=args.warn_days,
    )
    show_progress = args.progress
    if show_progress is None:
        show_progress = len(targets) > 1 and sys.stderr.isatty()
    reports = scan(targets, options, progress=_progress_bar if show_progress else None)
    if show_progress:
        print(file=sys.stderr)
    if args.format == "json":
        rendered = render_json(reports)
    elif args.format == "html":
        rendered = render_html(reports)
    elif args.format == "sarif":
        rendered = render_sarif(reports)
    else:
        color = args.output is None and sys.stdout.isatty()
        rendered = render_text(reports, color=color)
    if args.output is not None:
        from zerotls._util import atomic_write

        try:
            atomic_write(args.output, rendered.encode())
        except OSError as exc:
            raise ConfigError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(rendered)
        sys.stdout.flush()

    scanned = [r for r in reports if r.error is None]
    if not scanned:
        raise TransportError(
            "no target could be scanned: " + "; ".join(f"{r.error}" for r in reports)
        )
    failures: list[str] = []
    for r in scanned:
        label = r.target.label
        if args.min_grade and r.grade is not None and not meets(r.grade, args.min_grade):
            failures.append(f"{label} grades {r.grade.grade}, below {args.min_grade}")
        if args.profile:
            profile = next(p for p in r.profiles if p.profile == args.profile)
            if not profile.compliant:
                failures.append(
                    f"{label} breaks the {args.profile} profile ({len(profile.violations)} "
                    "violations)"
                )
        if any(f.id == "cert.pin_drift" for f in r.findings):
            failures.append(f"{label} matches none of the --pin values")
    unreachable = [r for r in reports if r.error is not None]
    if failures or (unreachable and (args.min_grade or args.profile)):
        for line in failures:
            print(f"zerotls: gate failed: {line}", file=sys.stderr)
        for r in unreachable:
            print(f"zerotls: gate failed: {r.target.label}: {r.error}", file=sys.stderr)
        return 1
    return 0


def _progress_bar(done: int, total: int, report: object) -> None:
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    # Our own text only, and its carriage return is the point: past the escaping writer.
    raw = sys.__stderr__ or sys.stderr
    raw.write(f"\r[{bar}] {done}/{total} targets")
    raw.flush()
