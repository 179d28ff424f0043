"""Stateless DTLS cookies (RFC 6347 §4.2.1): proof that a client owns its source address.

A UDP source address costs nothing to forge, so a DTLS server answers a first ClientHello
with a HelloVerifyRequest carrying a cookie, and allocates state only for a ClientHello that
echoes a valid one. The cookie is ``tick || HMAC-SHA256(secret, tick || address)[:16]``:

* the server keeps no per-client state to check it (the HMAC does);
* ``tick`` is the time in ``lifetime``-second steps; the current and the previous tick are
  accepted, so a cookie lives between one and two lifetimes;
* the secret is replaced every ``rotate`` seconds (the previous one is kept for a rotation),
  so a leaked secret or a harvested cookie stops working on its own.

The HelloVerifyRequest is smaller than the ClientHello that caused it, so a spoofed source
gets no amplification.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

__all__ = ["COOKIE_SIZE", "CookieJar"]

_MAC_SIZE = 16
_TICK_SIZE = 4
COOKIE_SIZE = _TICK_SIZE + _MAC_SIZE


class CookieJar:
    """Makes and checks cookies bound to a peer address and a time tick.

    Args:
        lifetime: seconds per tick (a cookie is valid for one to two of them).
        rotate: seconds between secret rotations.
        clock: wall clock (injected for tests).
    """

    def __init__(
        self,
        *,
        lifetime: float = 30.0,
        rotate: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lifetime = lifetime
        self.rotate = rotate
        self._clock = clock
        self._lock = threading.Lock()
        self._secrets = [secrets.token_bytes(32)]
        self._rotated_at = clock()

    def _current_secrets(self) -> list[bytes]:
        now = self._clock()
        with self._lock:
            if now - self._rotated_at >= self.rotate:
                self._secrets = [secrets.token_bytes(32), self._secrets[0]]
                self._rotated_at = now
            return list(self._secrets)

    def _tick(self) -> int:
        return int(self._clock() // self.lifetime) & 0xFFFFFFFF

    @staticmethod
    def _mac(secret: bytes, tick: bytes, address: bytes) -> bytes:
        return hmac.new(secret, tick + address, hashlib.sha256).digest()[:_MAC_SIZE]

    def make(self, address: bytes) -> bytes:
        """A cookie for ``address`` (the peer's IP and port, as bytes)."""
        tick = self._tick().to_bytes(_TICK_SIZE, "big")
        return tick + self._mac(self._current_secrets()[0], tick, address)

    def check(self, address: bytes, cookie: bytes) -> bool:
        """Whether ``cookie`` was made by us, for ``address``, at most two ticks ago."""
        if len(cookie) != COOKIE_SIZE:
            return False
        tick_bytes, mac = cookie[:_TICK_SIZE], cookie[_TICK_SIZE:]
        age = (self._tick() - int.from_bytes(tick_bytes, "big")) & 0xFFFFFFFF
        if age > 1:
            return False
        return any(
            hmac.compare_digest(mac, self._mac(secret, tick_bytes, address))
            for secret in self._current_secrets()
        )
