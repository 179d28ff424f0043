"""``zerotls hmac``: sign and verify messages that leave the TLS channel, from the shell.

The commands are a thin shell around :mod:`zerotls.integrity`: they read files and standard
input, call the library, and write standard output. Expected failures are raised as
:class:`~zerotls.errors.ZeroTLSError` subclasses; ``zerotls.cli.main`` prints them as one line
and maps them to exit codes (1: the envelope was refused, 2: bad arguments or key-ring file).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from zerotls.errors import ConfigError, DecodeError, IntegrityError
from zerotls.integrity import (
    DEFAULT_MAX_AGE,
    DEFAULT_SKEW,
    MAX_PAYLOAD_SIZE,
    KeyRing,
    Verifier,
    sign,
)
from zerotls.integrity.envelope import MAX_ENVELOPE_SIZE
from zerotls.integrity.keyring import _utc

__all__ = ["register"]

DEFAULT_RETIRE_AFTER = "1d"

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)")

HMAC_EPILOG = """\
Envelopes authenticate a message (who signed it, that it is unchanged, that it is fresh); they
do not encrypt it. Signer and verifier share one key-ring file: keep it secret (mode 0600).

examples:
  zerotls hmac keygen --keyring ring.json
  echo '{"order": 42}' | zerotls hmac sign --keyring ring.json > order.zt1
  zerotls hmac verify --keyring ring.json --in order.zt1     # prints {"order": 42}
  zerotls hmac rotate --keyring ring.json --retire-after 1d

Wire format, threat model and key rotation: docs/integrity.md"""

KEYGEN_EPILOG = """\
The ring gets one key of 32 random bytes with a short random id. The file is written with mode
0600; copy it to signers and verifiers over a secure channel.

examples:
  zerotls hmac keygen --keyring /etc/myapp/hmac-ring.json
  zerotls hmac keygen --keyring ring.json --force     # replace it: old envelopes stop verifying"""

SIGN_EPILOG = """\
The envelope is one line of ASCII (plus a newline), safe to put in a queue, a header or a file:
  zt1.<key id>.<unix time>.<nonce>.<payload>.<mac>
The payload is base64url inside it, readable by anyone: this signs, it does not encrypt.

examples:
  echo '{"order": 42}' | zerotls hmac sign --keyring ring.json > order.zt1
  zerotls hmac sign --keyring ring.json --in report.json > report.json.zt1
  curl -H "X-Signature: $(zerotls hmac sign --keyring ring.json --in body.json)" ..."""

VERIFY_EPILOG = f"""\
Checks, in order: format, key id (active keys of the ring), MAC, age (--max-age, default
{DEFAULT_MAX_AGE:g} s) and clock skew (--skew, default {DEFAULT_SKEW:g} s). On success it writes
the payload, byte for byte, to standard output and exits 0. On failure it writes one line
saying why to standard error and exits 1, with nothing on standard output.

Replay protection: each run of this command starts with an empty memory, so it cannot tell that
the same envelope was already verified by an earlier run or by another process. Within --max-age
an envelope captured by an attacker verifies again. If that matters, verify in a long-running
process that keeps one zerotls.integrity.Verifier, or make the consumer idempotent (deduplicate
on the envelope).

examples:
  zerotls hmac verify --keyring ring.json --in order.zt1 > order.json
  zerotls hmac sign --keyring ring.json --in a.txt | zerotls hmac verify --keyring ring.json
  zerotls hmac verify --keyring ring.json --max-age 1h --in nightly.zt1 || echo refused"""

ROTATE_EPILOG = """\
Adds a fresh key and makes it current; the previous current key keeps verifying for
--retire-after (default 1d), then stops. Keys whose time has passed are purged: their secrets
are deleted from the file and only their ids are kept, so late envelopes are reported as
signed by a retired key.

procedure:
  1. zerotls hmac rotate --keyring ring.json --retire-after 1d
  2. deploy ring.json to every verifier (they now accept the old and the new key)
  3. deploy ring.json to every signer (they now sign with the new key)
  4. the old key stops verifying after one day: finish steps 2-3 earlier than that, by at
     least the verifiers' --max-age

examples:
  zerotls hmac rotate --keyring ring.json
  zerotls hmac rotate --keyring ring.json --retire-after 7d
  zerotls hmac rotate --keyring ring.json --retire-after 0    # leaked key: retire it now"""


def parse_duration(text: str) -> float:
    """Parse ``300``, ``90s``, ``15m``, ``24h`` or ``7d`` into seconds (argparse ``type``).

    Raises:
        argparse.ArgumentTypeError: ``text`` is not a duration.
    """
    match = _DURATION_RE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: write seconds (300) or a number with s, m, h or d "
            "(90s, 15m, 24h, 7d)"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``hmac`` command group to the ``zerotls`` parser."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = subparsers.add_parser(
        "hmac",
        help="sign and verify messages for queues, webhooks and files (HMAC-SHA256)",
        description="Sign messages that leave the TLS channel, and verify them on the other "
        "side: integrity, authenticity and freshness with HMAC-SHA256 and a shared key ring.",
        epilog=HMAC_EPILOG,
        formatter_class=formatter,
    )
    commands = parser.add_subparsers(dest="hmac_command", metavar="SUBCOMMAND")
    commands.required = True

    keygen = commands.add_parser(
        "keygen",
        help="create a key ring file",
        description="Create a key ring with one fresh key.",
        epilog=KEYGEN_EPILOG,
        formatter_class=formatter,
    )
    _add_keyring(keygen, "the key-ring file to create (written with mode 0600)")
    keygen.add_argument(
        "--force",
        action="store_true",
        help="replace an existing file (its keys are lost: envelopes they signed stop verifying)",
    )
    keygen.set_defaults(func=_keygen)

    sign_parser = commands.add_parser(
        "sign",
        help="sign a message, write the envelope to stdout",
        description="Sign a message with the current key; write the envelope and a newline to "
        "standard output.",
        epilog=SIGN_EPILOG,
        formatter_class=formatter,
    )
    _add_keyring(sign_parser, "the key-ring file; its current key signs")
    _add_input(sign_parser, f"the message to sign, at most {MAX_PAYLOAD_SIZE // 2**20} MiB")
    sign_parser.set_defaults(func=_sign)

    verify = commands.add_parser(
        "verify",
        help="verify an envelope, write the message to stdout",
        description="Verify an envelope and write its payload to standard output. Cannot "
        "detect replays across separate runs (see below).",
        epilog=VERIFY_EPILOG,
        formatter_class=formatter,
    )
    _add_keyring(verify, "the key-ring file; any of its active keys verifies")
    _add_input(verify, "the envelope, as `zerotls hmac sign` wrote it (one trailing newline is ok)")
    verify.add_argument(
        "--max-age",
        type=parse_duration,
        default=DEFAULT_MAX_AGE,
        metavar="DURATION",
        help=f"refuse envelopes signed longer ago than this (default {DEFAULT_MAX_AGE:g}s; "
        "300, 90s, 15m, 1h, 7d)",
    )
    verify.add_argument(
        "--skew",
        type=parse_duration,
        default=DEFAULT_SKEW,
        metavar="DURATION",
        help=f"tolerated clock difference for envelopes dated in the future "
        f"(default {DEFAULT_SKEW:g}s)",
    )
    verify.set_defaults(func=_verify)

    rotate = commands.add_parser(
        "rotate",
        help="add a new current key, retire the old one later",
        description="Rotate the key ring: a fresh key becomes current; the previous one keeps "
        "verifying for a grace period.",
        epilog=ROTATE_EPILOG,
        formatter_class=formatter,
    )
    _add_keyring(rotate, "the key-ring file to rotate (rewritten atomically)")
    rotate.add_argument(
        "--retire-after",
        type=parse_duration,
        default=parse_duration(DEFAULT_RETIRE_AFTER),
        metavar="DURATION",
        help="how long the previous key keeps verifying: 0 (now), 15m, 24h, 7d "
        f"(default {DEFAULT_RETIRE_AFTER})",
    )
    rotate.set_defaults(func=_rotate)


def _add_keyring(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--keyring", required=True, type=Path, metavar="FILE", help=help_text)


def _add_input(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--in",
        dest="input",
        default="-",
        metavar="FILE",
        help=f"{help_text}; - (the default) reads standard input",
    )


def _keygen(args: argparse.Namespace) -> int:
    path: Path = args.keyring
    if (path.exists() or path.is_symlink()) and not args.force:
        raise ConfigError(
            f"key ring {path} already exists; pass --force to replace it (its keys will be "
            "lost and envelopes they signed will stop verifying), or rotate it with "
            f"`zerotls hmac rotate --keyring {path}`"
        )
    ring = KeyRing.generate()
    ring.save(path)
    print(f"created key ring {path} (mode 0600) with current key {ring.current.kid}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    ring = KeyRing.load(args.keyring)
    payload = _read_input(args.input, max_bytes=MAX_PAYLOAD_SIZE + 1, what="message")
    if len(payload) > MAX_PAYLOAD_SIZE:
        raise ConfigError(
            f"the message is larger than {MAX_PAYLOAD_SIZE} bytes, the most an envelope "
            "carries; sign a digest of the data (or a reference to it) instead"
        )
    envelope = sign(ring, payload)
    print(envelope.decode("ascii"))
    return 0


def _verify(args: argparse.Namespace) -> int:
    ring = KeyRing.load(args.keyring)
    verifier = Verifier(ring, max_age=args.max_age, skew=args.skew, replay_cache_size=1)
    # One byte more than the longest envelope (plus newline): the parser refuses it as too long.
    data = _read_input(args.input, max_bytes=MAX_ENVELOPE_SIZE + 3, what="envelope")
    # Shells and `echo` add a newline; tolerate exactly one (the library itself accepts none).
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    try:
        message = verifier.verify(data)
    except DecodeError as exc:
        # A malformed envelope is a refused envelope (exit 1), not a network failure.
        raise IntegrityError(str(exc)) from exc
    sys.stdout.flush()
    sys.stdout.buffer.write(message.payload)
    sys.stdout.buffer.flush()
    return 0


def _rotate(args: argparse.Namespace) -> int:
    ring = KeyRing.load(args.keyring)
    previous = ring.current.kid
    now = time.time()
    retire_after: float = args.retire_after
    new_key = ring.rotate(now=now, retire_after=retire_after)
    ring.save(args.keyring)
    if retire_after == 0:
        fate = "is retired now"
    else:
        fate = f"keeps verifying until {_utc(now + retire_after)}"
    print(f"rotated {args.keyring}: new current key {new_key.kid}; previous key {previous} {fate}")
    active = ", ".join(k.kid for k in ring.active_keys(now=now))
    retired = ", ".join(sorted(ring.retired)) or "none"
    print(f"active keys: {active}; retired keys: {retired}")
    return 0


def _read_input(name: str, *, max_bytes: int, what: str) -> bytes:
    """Read at most ``max_bytes`` from a file, or from standard input for ``-``."""
    try:
        if name == "-":
            return sys.stdin.buffer.read(max_bytes)
        with open(name, "rb") as f:
            return f.read(max_bytes)
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} from {name}: {exc.strerror or exc}") from exc
