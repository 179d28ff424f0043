"""``zerotls audit``: find what is insecure, on endpoints (``tls``) and in source code (``code``).

``zerotls audit HOST[:PORT] ...`` is shorthand for ``zerotls audit tls HOST[:PORT] ...``:
:func:`expand_shorthand` rewrites the arguments before parsing. Each kind of audit lives in its
own module (``audit_tls``, ``audit_code``) exposing ``add_arguments(parser)`` and ``run(args)``.

Exit codes follow the rest of the command: 0 nothing at or above the threshold, 1 findings that
fail the gate, 2 usage or configuration error, 3 runtime failure.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from zerotls.cli import audit_code, audit_tls

__all__ = ["SUBCOMMANDS", "expand_shorthand", "register"]

SUBCOMMANDS = ("tls", "code")

EPILOG = """\
examples:
  zerotls audit example.com                  # same as: zerotls audit tls example.com:443
  zerotls audit tls 127.0.0.1:8443 --ca ca.pem --min-grade B
  zerotls audit code src/ --sarif > findings.sarif

`zerotls doctor` reports on the TLS runtime this Python process itself uses."""


def expand_shorthand(argv: Sequence[str]) -> list[str]:
    """Turn ``audit HOST ...`` into ``audit tls HOST ...``; leave everything else alone."""
    args = list(argv)
    if len(args) >= 2 and args[0] == "audit":
        first = args[1]
        if first not in SUBCOMMANDS and not first.startswith("-"):
            args.insert(1, "tls")
    return args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="grade TLS endpoints (legacy protocols, weak ciphers, certificates) or audit code",
        description="Find insecure TLS before an attacker does: `audit tls` probes endpoints "
        "(SSLv2 to TLS 1.3, cipher suites, certificates, OCSP, known attacks) and grades them; "
        "`audit code` reads Python source for insecure TLS and socket use.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = p.add_subparsers(dest="audit_kind", metavar="KIND")
    kinds.required = True
    audit_tls.add_arguments(kinds)
    audit_code.add_arguments(kinds)
