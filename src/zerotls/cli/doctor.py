"""``zerotls doctor``: report the TLS runtime this Python process uses, and what is unsafe.

A thin shell around :func:`zerotls.doctor.run_doctor`: exit 0 when nothing is unsafe, 1 when
something is (an advisory reachable by peers, a default client that accepts a legacy
protocol, a clock provably behind), 2 for usage errors (``--pip-audit`` without pip-audit).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]

EPILOG = """\
What is measured, not assumed: protocol versions and key-exchange groups come from real TLS
handshakes between in-memory endpoints (no socket, no network); the clock state from the
kernel (adjtimex, read only); the trust stores as each library loads them. Installed
versions of OpenSSL (both copies), cryptography, pyOpenSSL, uvloop and certifi are checked
against a small advisory table shipped with zerotls (dated; `--json` shows the date).

status: ok, info, WARN (weaker than it should be, or cannot be confirmed), UNSAFE (exposed
now). exit codes: 0 nothing unsafe, 1 something unsafe, 2 usage error.

examples:
  zerotls doctor                      # the runtime, then what needs attention
  zerotls doctor --verbose            # every check, including the ones that pass
  zerotls doctor --json | jq '.checks[] | select(.status == "unsafe")'
  zerotls doctor --pip-audit          # also run pip-audit (queries PyPI/OSV: network)
  zerotls doctor --workload-api       # also what the SPIFFE agent at $SPIFFE_ENDPOINT_SOCKET serves

Details and the advisory table: docs/doctor.md"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``doctor`` command to the ``zerotls`` parser."""
    parser = sub.add_parser(
        "doctor",
        help="report the TLS runtime of this Python (OpenSSL, protocols, groups, trust, clock)",
        description="Report what TLS this Python process will actually use: both OpenSSL "
        "copies (the stdlib's and the one bundled with cryptography that zerotls uses), the "
        "protocols and groups each negotiates (post-quantum hybrid or not), the default trust "
        "stores, the clock, and known advisories for the installed security dependencies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="write the report as JSON")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="list every check, not only the problems"
    )
    parser.add_argument(
        "--pip-audit",
        action="store_true",
        help="also run pip-audit on this environment, when installed (needs the network)",
    )
    parser.add_argument(
        "--workload-api",
        nargs="?",
        const="env",
        metavar="ADDR",
        help="also ask a SPIFFE Workload API what it serves (unix:///..., tcp://IP:PORT, or "
        "no value for $SPIFFE_ENDPOINT_SOCKET): the SVID, its expiry, the trust domains",
    )
    parser.set_defaults(func=_doctor)


def _agent(address: str) -> dict[str, object]:
    from zerotls.spiffe import WorkloadAPI, WorkloadAPIError

    source = WorkloadAPI(None if address == "env" else address, timeout=5)
    try:
        source.start()
    except WorkloadAPIError as exc:
        return {"address": source.address, "error": str(exc)}
    try:
        return source.status()
    finally:
        source.close()


def _doctor(args: argparse.Namespace) -> int:
    from zerotls.doctor import run_doctor

    agent = _agent(args.workload_api) if args.workload_api else None
    report = run_doctor(pip_audit=args.pip_audit, workload_api=agent)
    sys.stdout.write(report.to_json() if args.json else report.to_text(verbose=args.verbose))
    return report.exit_code
