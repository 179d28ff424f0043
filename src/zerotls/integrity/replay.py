"""A bounded memory of the nonces already accepted, for replay detection.

Theory of operation
-------------------
An envelope is accepted only while it is young (``now - timestamp <= max_age``), so its nonce
only has to be remembered until then: each nonce is stored with that deadline, ``expires_at``.
Two evictions keep memory bounded:

1. **By time.** Before every check, nonces whose ``expires_at`` has passed are dropped; an
   envelope carrying one of them is refused as too old anyway.
2. **By size.** If the cache still holds more than ``maxsize`` nonces, the one closest to its
   deadline (the oldest message) is dropped, repeatedly, until it fits.

Forgetting a nonce early would let its envelope be replayed, so the cache keeps a *watermark*:
the latest ``expires_at`` it has ever dropped, for either reason. An envelope whose
``expires_at`` is not after the watermark is refused (:class:`~zerotls.errors.MessageExpired`),
because the cache can no longer vouch that it is new. Under a flood the effective window
shrinks from the old end, but a replay is never accepted: the cache fails closed. The same
watermark keeps the cache safe if the wall clock steps backwards.

The cache owns no clock: every call takes ``now``. It is not thread-safe by itself; the
:class:`~zerotls.integrity.verifier.Verifier` serialises calls with a lock.
"""

from __future__ import annotations

import heapq
import math

from zerotls.errors import ConfigError, MessageExpired, ReplayDetected

__all__ = ["ReplayCache"]


class ReplayCache:
    """Nonces accepted within the time window, at most ``maxsize`` of them."""

    __slots__ = ("_expiry", "_heap", "_maxsize", "_watermark")

    def __init__(self, maxsize: int) -> None:
        """Make an empty cache.

        Args:
            maxsize: the most nonces remembered at once (about 200 bytes each).

        Raises:
            ConfigError: ``maxsize`` is less than 1.
        """
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigError(
                f"replay cache size {maxsize!r} must be a whole number of nonces, at least 1"
            )
        self._maxsize = maxsize
        self._expiry: dict[bytes, float] = {}
        self._heap: list[tuple[float, bytes]] = []  # (expires_at, nonce), min-heap
        self._watermark = -math.inf

    def __len__(self) -> int:
        return len(self._expiry)

    def __contains__(self, nonce: object) -> bool:
        return nonce in self._expiry

    @property
    def maxsize(self) -> int:
        """The most nonces remembered at once."""
        return self._maxsize

    @property
    def watermark(self) -> float:
        """The latest deadline of any nonce forgotten so far (``-inf`` if none)."""
        return self._watermark

    def check_and_remember(self, nonce: bytes, *, expires_at: float, now: float) -> None:
        """Accept a nonce seen for the first time and remember it until ``expires_at``.

        Args:
            nonce: the envelope's nonce (only call this after its MAC was verified, or
                forged envelopes could fill the cache).
            expires_at: when the envelope stops being accepted anyway (timestamp + max age).
            now: the current time, seconds since the epoch.

        Raises:
            ReplayDetected: the nonce was already accepted and is still remembered.
            MessageExpired: the cache has already forgotten nonces as young as this one, so
                it cannot tell whether this is a replay.
        """
        self._evict_expired(now)
        if nonce in self._expiry:
            raise ReplayDetected(
                "envelope was already accepted once (its nonce was seen before): this is a "
                "replay or a duplicate delivery; drop it, and make consumers idempotent if "
                "the transport redelivers"
            )
        if expires_at <= self._watermark:
            raise MessageExpired(
                "envelope is too old for the replay cache to vouch for: nonces of messages "
                f"this old were already forgotten (the cache holds {self._maxsize} nonces); "
                "re-send a freshly signed message, and if this happens under load raise "
                "replay_cache_size or lower max_age"
            )
        self._expiry[nonce] = expires_at
        heapq.heappush(self._heap, (expires_at, nonce))
        while len(self._expiry) > self._maxsize:
            # Size eviction: drop the message closest to its deadline. It may be the one just
            # added; its replays are still refused, by the watermark.
            self._forget_oldest()

    def _evict_expired(self, now: float) -> None:
        # A nonce is needed while now <= expires_at (the verifier accepts age == max_age).
        while self._heap and self._heap[0][0] < now:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        expires_at, nonce = heapq.heappop(self._heap)
        del self._expiry[nonce]
        self._watermark = max(self._watermark, expires_at)
