"""The ``zerotls`` command.

Each command group lives in its own module with a ``register(subparsers)`` function that adds
its parser and sets ``func`` (a callable taking the parsed namespace and returning an exit
code). ``main`` turns every expected failure into one line on stderr and a documented exit code;
a traceback is only ever shown for a bug.

Exit codes:
    0  success
    1  the thing checked is not acceptable (verification failed, signature invalid, ...)
    2  usage or configuration error (bad arguments, unreadable files, insecure request)
    3  runtime failure (network unreachable, peer refused, timeout)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from zerotls._util import escape_controls
from zerotls.errors import (
    ConfigError,
    IntegrityError,
    PKIError,
    ProtocolError,
    TransportError,
    VerificationError,
    ZeroTLSError,
)

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "EXIT_RUNTIME", "build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_RUNTIME = 3

EPILOG = """\
exit codes: 0 success, 1 check failed (verification, signature), 2 usage or configuration
error, 3 runtime failure (network, peer, timeout).

Start with `zerotls demo` for a guided tour, or `zerotls pki init` to create a local CA."""


def _exit_code_for(exc: ZeroTLSError) -> int:
    if isinstance(exc, ConfigError | PKIError):
        return EXIT_CONFIG
    if isinstance(exc, VerificationError | IntegrityError):
        return EXIT_FAILED
    if isinstance(exc, ProtocolError | TransportError):
        return EXIT_RUNTIME
    return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser (exposed for tests and documentation)."""
    from zerotls import __version__
    from zerotls.cli import audit, connect, demo, doctor, hmac, monitor, pki, tunnel

    parser = argparse.ArgumentParser(
        prog="zerotls",
        description="Secure network programming the zero-trust way: mutual TLS and DTLS with "
        "workload identities, pinning, OCSP stapling and revocation, a local PKI, HMAC "
        "integrity, a tunnel that puts it all in front of cleartext services, auditors for "
        "endpoints and code, and a monitor for connection logs. TLS 1.3 by default.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"zerotls {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in (demo, pki, connect, tunnel, hmac, audit, doctor, monitor):
        module.register(sub)
    return parser


class _EscapingWriter(io.TextIOBase):
    """A text stream that escapes terminal control and bidi characters on the way out.

    What the commands print comes partly from others: certificate fields, SNI names, log
    lines, a server's reply. Escaping once, here, covers every command and every output;
    our own colour codes pass (see :func:`zerotls._util.escape_controls`). Binary output
    (``.buffer``) is untouched.
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        try:
            self._tty = inner.isatty()
        except (AttributeError, ValueError):
            self._tty = False

    def write(self, text: str) -> int:
        # Colour codes only reach a terminal we paint ourselves (ours are on only then);
        # into a file or a pipe nothing of the kind passes, whoever wrote it.
        self._inner.write(escape_controls(text, keep_colors=self._tty))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def buffer(self) -> Any:
        return self._inner.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._inner.encoding


@contextlib.contextmanager
def _escaping_output() -> Iterator[None]:
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _EscapingWriter(out), _EscapingWriter(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


_NEGATIVE_VALUE = re.compile(r"-\d[\w.]*")


def _join_negative_values(words: list[str]) -> list[str]:
    """``--ttl -1h`` -> ``--ttl=-1h``, so the value's own check explains what is wrong.

    argparse takes ``-1h`` for an unknown option and answers with a usage line; joined, the
    duration parser says that durations must be positive.
    """
    out: list[str] = []
    for word in words:
        if (
            out
            and out[-1].startswith("--")
            and "=" not in out[-1]
            and _NEGATIVE_VALUE.fullmatch(word)
        ):
            out[-1] = f"{out[-1]}={word}"
        else:
            out.append(word)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``zerotls`` command and return its exit code."""
    parser = build_parser()
    from zerotls.cli.audit import expand_shorthand

    words = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(expand_shorthand(words))
    func: Callable[[argparse.Namespace], int] = args.func
    with _escaping_output():
        try:
            return func(args)
        except ZeroTLSError as exc:
            print(f"zerotls: {exc}", file=sys.stderr)
            return _exit_code_for(exc)
        except KeyboardInterrupt:
            print("zerotls: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
