"""The ``zt1`` envelope: its text form, its MAC input, and the parser of untrusted envelopes.

Theory of operation
-------------------
An envelope travels as one line of printable ASCII, six fields joined by ``.``::

    zt1.<key_id>.<timestamp>.<nonce>.<payload>.<mac>

``key_id`` is 1-32 characters of ``[A-Za-z0-9_-]``, ``timestamp`` is whole seconds since the
Unix epoch in canonical decimal, and ``nonce`` (16 bytes), ``payload`` (0 to
:data:`MAX_PAYLOAD_SIZE` bytes) and ``mac`` (32 bytes) are unpadded base64url. None of the field
alphabets contains ``.``, so splitting on it cannot be fooled.

The MAC is HMAC-SHA256, and it is *not* computed over the text: it is computed over a separate
binary encoding (:func:`mac_input`) in which every variable-length field carries its length and
every other field has a fixed size, so no choice of values can make two different envelopes
produce the same MAC input. The text form is then made canonical by the parser, which accepts
exactly one spelling of each value (no leading zeros, no padding, no stray base64 bits, no
trailing bytes), so an envelope cannot be re-spelled into a second valid envelope either.

:func:`parse_envelope_untrusted` only decodes: whatever it is given, it returns an
:class:`Envelope` or raises :class:`~zerotls.errors.DecodeError`. It checks no MAC and reads no
key; :class:`~zerotls.integrity.verifier.Verifier` does that. The byte-by-byte layout is in
``docs/integrity.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

from zerotls.errors import ConfigError, DecodeError

__all__ = [
    "KEY_ID_PATTERN",
    "MAC_SIZE",
    "MAX_ENVELOPE_SIZE",
    "MAX_PAYLOAD_SIZE",
    "NONCE_SIZE",
    "VERSION",
    "Envelope",
    "compute_mac",
    "mac_input",
    "parse_envelope_untrusted",
]

VERSION = "zt1"
"""The first field of every envelope; also the first three bytes of the MAC input."""

NONCE_SIZE = 16
"""Bytes of randomness per envelope: 128 bits, so two envelopes never share one by chance."""

MAC_SIZE = 32
"""Bytes of HMAC-SHA256 output; the MAC is never truncated."""

MAX_PAYLOAD_SIZE = 16 * 1024 * 1024
"""Largest payload (in bytes) that is signed or accepted: envelopes are for messages, not files
of any size, and the parser must bound the memory an unauthenticated input can make it use."""

KEY_ID_PATTERN = r"[A-Za-z0-9_-]{1,32}"
"""What a key id may look like: short, printable, safe in a shell, a file name and a log line."""

_MAX_TIMESTAMP = 2**64 - 1  # the MAC input carries the timestamp as an unsigned 64-bit integer


def _b64_length(size: int) -> int:
    """Length of the unpadded base64url text of ``size`` bytes."""
    return (size * 4 + 2) // 3


MAX_ENVELOPE_SIZE = (
    len(VERSION)
    + 1
    + 32  # key id
    + 1
    + 20  # timestamp: 2**64 - 1 has 20 digits
    + 1
    + _b64_length(NONCE_SIZE)
    + 1
    + _b64_length(MAX_PAYLOAD_SIZE)
    + 1
    + _b64_length(MAC_SIZE)
)
"""Longest envelope text (in characters) the parser reads before refusing it."""

_KEY_ID_RE = re.compile(KEY_ID_PATTERN)
_TIMESTAMP_RE = re.compile(r"0|[1-9][0-9]{0,19}")  # canonical decimal: no sign, no leading zero
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")  # unpadded base64url (RFC 4648 §5, padding omitted)
_FIELD_COUNT = 6
_FORMAT_HINT = "zt1.KEY_ID.TIMESTAMP.NONCE.PAYLOAD.MAC"


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """One decoded envelope. Decoded is not verified: nothing here has been checked yet."""

    key_id: str
    """Id of the key the sender claims to have signed with."""
    timestamp: int
    """When the sender signed, in whole seconds since the Unix epoch (UTC)."""
    nonce: bytes
    """:data:`NONCE_SIZE` random bytes that make this envelope unique (the replay cache's key)."""
    payload: bytes
    """The message itself, exactly as the sender passed it to ``sign``."""
    mac: bytes
    """HMAC-SHA256 over :func:`mac_input` of the other fields (:data:`MAC_SIZE` bytes)."""

    def to_bytes(self) -> bytes:
        """Return the envelope's text form as ASCII bytes, without a trailing newline."""
        fields = (
            VERSION,
            self.key_id,
            str(self.timestamp),
            _b64encode(self.nonce),
            _b64encode(self.payload),
            _b64encode(self.mac),
        )
        return ".".join(fields).encode("ascii")

    def to_text(self) -> str:
        """Return the envelope's text form as a ``str``, without a trailing newline."""
        return self.to_bytes().decode("ascii")


def mac_input(*, key_id: str, timestamp: int, nonce: bytes, payload: bytes) -> bytes:
    """Return the bytes the MAC is computed over.

    The layout (all integers big-endian) is::

        3 bytes   b"zt1"                        version, and domain separation
        1 byte    len(key_id)                   1..32
        n bytes   key_id, ASCII
        8 bytes   timestamp                     unsigned
        16 bytes  nonce
        8 bytes   len(payload)                  unsigned
        m bytes   payload

    Each variable-length field is preceded by its length and every other field has a fixed
    size, so the encoding is injective: no field can bleed into its neighbour.

    Args:
        key_id: the signing key's id; must match :data:`KEY_ID_PATTERN`.
        timestamp: seconds since the epoch, 0 to 2**64 - 1.
        nonce: exactly :data:`NONCE_SIZE` bytes.
        payload: the message, at most :data:`MAX_PAYLOAD_SIZE` bytes.

    Returns:
        The MAC input.

    Raises:
        ConfigError: a field is out of range (a bug in the caller: parsed envelopes and
            ``sign`` only produce valid fields).
    """
    _require_valid_fields(key_id=key_id, timestamp=timestamp, nonce=nonce, payload=payload)
    kid = key_id.encode("ascii")
    return b"".join(
        (
            VERSION.encode("ascii"),
            struct.pack(">B", len(kid)),
            kid,
            struct.pack(">Q", timestamp),
            nonce,
            struct.pack(">Q", len(payload)),
            payload,
        )
    )


def compute_mac(
    secret: bytes, *, key_id: str, timestamp: int, nonce: bytes, payload: bytes
) -> bytes:
    """Return HMAC-SHA256(secret, :func:`mac_input` of the fields).

    Args:
        secret: the key's secret bytes.
        key_id: the key's id.
        timestamp: seconds since the epoch.
        nonce: :data:`NONCE_SIZE` random bytes.
        payload: the message.

    Returns:
        The :data:`MAC_SIZE`-byte MAC.

    Raises:
        ConfigError: a field is out of range.
    """
    data = mac_input(key_id=key_id, timestamp=timestamp, nonce=nonce, payload=payload)
    return hmac.new(secret, data, hashlib.sha256).digest()


def parse_envelope_untrusted(data: bytes | str) -> Envelope:
    """Decode an envelope from untrusted input, without verifying it.

    Exactly one spelling of each envelope is accepted: the one ``sign`` writes. Trailing bytes
    (a newline included), padding, leading zeros, non-ASCII characters and base64 with stray
    bits are all refused.

    Args:
        data: the envelope, as ASCII bytes or text.

    Returns:
        The decoded, not yet verified, envelope.

    Raises:
        DecodeError: whatever is wrong with the input; no other exception escapes.
    """
    if len(data) > MAX_ENVELOPE_SIZE:
        raise DecodeError(
            f"envelope is {len(data)} characters long, more than the {MAX_ENVELOPE_SIZE} "
            f"allowed (payloads are limited to {MAX_PAYLOAD_SIZE} bytes); this is not an "
            "envelope made by `zerotls hmac sign`"
        )
    if isinstance(data, str):
        text = data
        if not text.isascii():
            raise DecodeError(_malformed("it contains non-ASCII characters"))
    else:
        try:
            text = bytes(data).decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError(_malformed("it contains non-ASCII bytes")) from exc

    fields = text.split(".")
    if fields[0] != VERSION:
        raise DecodeError(
            "envelope does not start with 'zt1.': it is not a zerotls envelope, or a newer "
            "version this zerotls cannot read; upgrade zerotls or check what was passed in"
        )
    if len(fields) != _FIELD_COUNT:
        raise DecodeError(
            _malformed(f"it has {len(fields)} dot-separated fields instead of {_FIELD_COUNT}")
        )
    _, key_id, timestamp_text, nonce_text, payload_text, mac_text = fields

    if _KEY_ID_RE.fullmatch(key_id) is None:
        raise DecodeError(_malformed(f"the key id is not 1-32 characters of {KEY_ID_PATTERN}"))
    if _TIMESTAMP_RE.fullmatch(timestamp_text) is None:
        raise DecodeError(_malformed("the timestamp is not a canonical decimal number"))
    timestamp = int(timestamp_text)
    if timestamp > _MAX_TIMESTAMP:
        raise DecodeError(_malformed("the timestamp does not fit in 64 bits"))
    nonce = _b64decode_untrusted(nonce_text, "nonce")
    if len(nonce) != NONCE_SIZE:
        raise DecodeError(_malformed(f"the nonce is {len(nonce)} bytes, not {NONCE_SIZE}"))
    payload = _b64decode_untrusted(payload_text, "payload")
    mac = _b64decode_untrusted(mac_text, "MAC")
    if len(mac) != MAC_SIZE:
        raise DecodeError(_malformed(f"the MAC is {len(mac)} bytes, not {MAC_SIZE}"))
    return Envelope(key_id=key_id, timestamp=timestamp, nonce=nonce, payload=payload, mac=mac)


def _malformed(what: str) -> str:
    return (
        f"envelope is malformed: {what}; expected {_FORMAT_HINT} exactly as "
        "`zerotls hmac sign` wrote it (truncated, re-encoded or edited in transit?)"
    )


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode_untrusted(text: str, name: str) -> bytes:
    """Decode canonical unpadded base64url (RFC 4648 §5), or raise DecodeError."""
    # A length of 1 mod 4 cannot come from any byte string: refuse it before decoding.
    if _B64URL_RE.fullmatch(text) is None or len(text) % 4 == 1:
        raise DecodeError(_malformed(f"the {name} is not unpadded base64url"))
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:  # unreachable after the checks above; kept as a backstop
        raise DecodeError(_malformed(f"the {name} is not unpadded base64url")) from exc
    # The last character may carry unused low bits; only the spelling with those bits at zero
    # is canonical. Re-encoding and comparing refuses every other spelling (RFC 4648 §3.5).
    if _b64encode(data) != text:
        raise DecodeError(_malformed(f"the {name} is not canonical base64url"))
    return data


def _require_valid_fields(*, key_id: str, timestamp: int, nonce: bytes, payload: bytes) -> None:
    if _KEY_ID_RE.fullmatch(key_id) is None:
        raise ConfigError(f"key id {key_id!r} is not 1-32 characters of {KEY_ID_PATTERN}")
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ConfigError(
            f"timestamp {timestamp} is outside 0..2**64-1; pass seconds since the Unix epoch"
        )
    if len(nonce) != NONCE_SIZE:
        raise ConfigError(f"nonce is {len(nonce)} bytes; it must be exactly {NONCE_SIZE}")
    if len(payload) > MAX_PAYLOAD_SIZE:
        raise ConfigError(
            f"payload is {len(payload)} bytes, more than the {MAX_PAYLOAD_SIZE} an envelope "
            "carries; sign a digest or a reference to the data instead of the data itself"
        )
