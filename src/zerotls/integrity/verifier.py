"""Signing envelopes and verifying them: key, MAC, time window, replay.

Theory of operation
-------------------
:func:`sign` writes ``zt1`` envelopes with the ring's current key, the time and 16 fresh random
bytes of nonce. :meth:`Verifier.verify` runs the checks in an order chosen so that nothing an
attacker controls is trusted before the MAC has been checked:

1. decode the envelope (:class:`~zerotls.errors.DecodeError`);
2. find the key it names among the ring's *active* keys (:class:`~zerotls.errors.UnknownKey`);
3. compare MACs in constant time (:class:`~zerotls.errors.BadSignature`);
4. check the now-authenticated timestamp against the window: at most ``max_age`` seconds old
   and at most ``skew`` seconds in the future (:class:`~zerotls.errors.MessageExpired`);
5. check and remember the nonce (:class:`~zerotls.errors.ReplayDetected`). Only envelopes
   with a valid MAC reach the replay cache, so forged envelopes cannot flush it.

Replay protection is as wide as one :class:`Verifier` object: verifiers in different
processes, or one re-created per message, cannot see each other's nonces.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass

from zerotls.errors import BadSignature, ConfigError, MessageExpired
from zerotls.integrity.envelope import (
    NONCE_SIZE,
    Envelope,
    compute_mac,
    parse_envelope_untrusted,
)
from zerotls.integrity.keyring import KeyRing, _utc
from zerotls.integrity.replay import ReplayCache

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_REPLAY_CACHE_SIZE",
    "DEFAULT_SKEW",
    "VerifiedMessage",
    "Verifier",
    "sign",
]

DEFAULT_MAX_AGE = 300.0
"""Seconds an envelope stays acceptable after it was signed (queues and webhooks retry within
minutes; longer windows mean a larger replay cache and a longer replay opportunity)."""

DEFAULT_SKEW = 30.0
"""Seconds an envelope may claim to come from the future: tolerated clock difference."""

DEFAULT_REPLAY_CACHE_SIZE = 100_000
"""Nonces remembered at once (about 200 bytes each: some 20 MB when full)."""


def sign(ring: KeyRing, payload: bytes, *, now: float | None = None) -> bytes:
    """Sign a payload with the ring's current key.

    Args:
        ring: the key ring; its current key signs.
        payload: the message, at most :data:`~zerotls.integrity.envelope.MAX_PAYLOAD_SIZE`
            bytes.
        now: the signing time in seconds since the epoch; the clock when ``None``.

    Returns:
        The envelope as ASCII bytes, without a trailing newline (``.decode()`` gives text).

    Raises:
        ConfigError: the payload is too large, or ``now`` is negative or not finite.
    """
    at = time.time() if now is None else now
    if not (math.isfinite(at) and at >= 0):
        raise ConfigError(f"now={at!r} is not a time after the Unix epoch")
    key = ring.current
    timestamp = math.floor(at)
    nonce = secrets.token_bytes(NONCE_SIZE)
    mac = compute_mac(
        key.secret, key_id=key.kid, timestamp=timestamp, nonce=nonce, payload=bytes(payload)
    )
    envelope = Envelope(
        key_id=key.kid, timestamp=timestamp, nonce=nonce, payload=bytes(payload), mac=mac
    )
    return envelope.to_bytes()


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedMessage:
    """An envelope that passed every check."""

    payload: bytes
    """The message, exactly as it was signed."""
    key_id: str
    """The id of the key that signed it."""
    timestamp: int
    """When it was signed, seconds since the Unix epoch (as claimed by the signer, and
    authenticated by the MAC)."""
    nonce: bytes
    """Its 16 random bytes; unique per envelope, usable as an idempotency key."""


class Verifier:
    """Verifies envelopes against a key ring, a time window and a replay cache.

    Keep one ``Verifier`` for the life of the process and share it: the replay cache lives in
    it. It is safe to use from several threads.
    """

    __slots__ = ("_lock", "_max_age", "_replay", "_ring", "_skew")

    def __init__(
        self,
        ring: KeyRing,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        skew: float = DEFAULT_SKEW,
        replay_cache_size: int = DEFAULT_REPLAY_CACHE_SIZE,
    ) -> None:
        """Make a verifier.

        Args:
            ring: the key ring; envelopes signed by any of its active keys verify. Rotations
                and retirements of the ring take effect at once.
            max_age: seconds after signing during which an envelope is accepted (> 0).
            skew: seconds an envelope's timestamp may be ahead of ``now`` (>= 0).
            replay_cache_size: the most nonces remembered at once (>= 1).

        Raises:
            ConfigError: a setting is out of range.
        """
        if not (math.isfinite(max_age) and max_age > 0):
            raise ConfigError(f"max_age={max_age!r}: give a positive number of seconds")
        if not (math.isfinite(skew) and skew >= 0):
            raise ConfigError(f"skew={skew!r}: give a number of seconds, 0 or more")
        self._ring = ring
        self._max_age = float(max_age)
        self._skew = float(skew)
        self._replay = ReplayCache(replay_cache_size)
        self._lock = threading.Lock()

    @property
    def ring(self) -> KeyRing:
        """The key ring envelopes are verified against."""
        return self._ring

    @property
    def max_age(self) -> float:
        """Seconds after signing during which an envelope is accepted."""
        return self._max_age

    @property
    def skew(self) -> float:
        """Seconds an envelope's timestamp may be ahead of the verifier's clock."""
        return self._skew

    @property
    def replay_cache(self) -> ReplayCache:
        """The nonces accepted so far (read it; do not feed it directly)."""
        return self._replay

    def verify(self, envelope: bytes | str, *, now: float | None = None) -> VerifiedMessage:
        """Verify an envelope and return its payload.

        Args:
            envelope: the envelope exactly as :func:`sign` produced it (bytes or text, no
                trailing newline).
            now: the verification time in seconds since the epoch; the clock when ``None``.

        Returns:
            The verified message.

        Raises:
            DecodeError: the envelope is malformed.
            UnknownKey: it names a key the ring does not hold, or a retired one.
            BadSignature: its MAC does not match (altered, or signed with another secret).
            MessageExpired: it is older than ``max_age`` or further than ``skew`` in the future.
            ReplayDetected: this verifier already accepted it.
            ConfigError: ``now`` is not a finite number.
        """
        at = time.time() if now is None else now
        if not math.isfinite(at):  # NaN compares false with everything: it would pass any window
            raise ConfigError(f"now={at!r} is not a time; pass seconds since the Unix epoch")
        parsed = parse_envelope_untrusted(envelope)
        key = self._ring.verification_key(parsed.key_id, now=at)
        expected = compute_mac(
            key.secret,
            key_id=parsed.key_id,
            timestamp=parsed.timestamp,
            nonce=parsed.nonce,
            payload=parsed.payload,
        )
        # compare_digest takes the same time wherever the first differing byte is; `==` stops
        # early, and that timing difference would let an attacker find a valid MAC for a
        # forged message byte by byte.
        if not hmac.compare_digest(expected, parsed.mac):
            raise BadSignature(
                f"envelope MAC does not match under key {parsed.key_id!r}: it was altered "
                "after signing, or signed with a different secret under the same key id; "
                "check that signer and verifier use the same key ring file"
            )
        self._check_window(parsed.timestamp, at)
        with self._lock:
            self._replay.check_and_remember(
                parsed.nonce, expires_at=parsed.timestamp + self._max_age, now=at
            )
        return VerifiedMessage(
            payload=parsed.payload,
            key_id=parsed.key_id,
            timestamp=parsed.timestamp,
            nonce=parsed.nonce,
        )

    def _check_window(self, timestamp: int, now: float) -> None:
        age = now - timestamp
        if age > self._max_age:
            raise MessageExpired(
                f"envelope was signed {age:.1f} s ago ({_utc(timestamp)}), more than the "
                f"{self._max_age:g} s allowed; have the sender sign a fresh message, or raise "
                "max_age if the transport legitimately delays messages this long"
            )
        if -age > self._skew:
            raise MessageExpired(
                f"envelope claims to be signed {-age:.1f} s in the future ({_utc(timestamp)}), "
                f"more than the {self._skew:g} s clock skew allowed; check the clocks of "
                "signer and verifier (NTP)"
            )
