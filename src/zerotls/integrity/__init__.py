"""HMAC integrity for messages that leave the TLS channel: queues, webhooks, files.

A sender signs a payload into a ``zt1`` envelope with the current key of a shared
:class:`KeyRing`; a receiver checks it with a long-lived :class:`Verifier`, which refuses
altered, unknown-key, stale, future-dated and replayed envelopes, each with its own error::

    from zerotls.integrity import KeyRing, Verifier, sign

    ring = KeyRing.load("hmac-ring.json")
    envelope = sign(ring, b'{"order": 42}')    # b"zt1.3f9a12bc.1764320000.<nonce>.<payload>.<mac>"
    message = Verifier(ring).verify(envelope)  # message.payload == b'{"order": 42}'

Envelopes are authenticated, not encrypted: anyone who sees one can read the payload. The wire
format, threat model and rotation procedure are in ``docs/integrity.md``.

Errors (all from :mod:`zerotls.errors`)::

    DecodeError        the envelope is malformed (the only error of parse_envelope_untrusted)
    IntegrityError
    ├── UnknownKey     the key id is not in the ring, or the key was retired
    ├── BadSignature   the MAC does not match
    ├── MessageExpired too old, too far in the future, or older than the replay cache remembers
    └── ReplayDetected this verifier already accepted the envelope
    ConfigError        bad settings, bad or unreadable key-ring file
"""

from zerotls.integrity.envelope import (
    MAX_PAYLOAD_SIZE,
    Envelope,
    parse_envelope_untrusted,
)
from zerotls.integrity.keyring import HmacKey, KeyRing
from zerotls.integrity.replay import ReplayCache
from zerotls.integrity.verifier import (
    DEFAULT_MAX_AGE,
    DEFAULT_REPLAY_CACHE_SIZE,
    DEFAULT_SKEW,
    VerifiedMessage,
    Verifier,
    sign,
)

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_REPLAY_CACHE_SIZE",
    "DEFAULT_SKEW",
    "MAX_PAYLOAD_SIZE",
    "Envelope",
    "HmacKey",
    "KeyRing",
    "ReplayCache",
    "VerifiedMessage",
    "Verifier",
    "parse_envelope_untrusted",
    "sign",
]
