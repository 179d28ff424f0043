"""ReplayCache: the size bound holds, eviction by time, and forgetting never lets a replay in."""

from __future__ import annotations

import random

import pytest

from zerotls.errors import ConfigError, MessageExpired, ReplayDetected
from zerotls.integrity import ReplayCache


def _nonce(i: int) -> bytes:
    return i.to_bytes(16, "big")


def test_duplicate_is_a_replay() -> None:
    cache = ReplayCache(10)
    cache.check_and_remember(_nonce(1), expires_at=100, now=0)
    with pytest.raises(ReplayDetected):
        cache.check_and_remember(_nonce(1), expires_at=100, now=50)
    assert len(cache) == 1


def test_eviction_by_time() -> None:
    cache = ReplayCache(10)
    for i in range(5):
        cache.check_and_remember(_nonce(i), expires_at=100 + i, now=0)
    cache.check_and_remember(_nonce(99), expires_at=500, now=102)
    # deadlines 100 and 101 passed; 102 is still needed at now == 102
    assert [i for i in range(5) if _nonce(i) in cache] == [2, 3, 4]
    assert len(cache) == 4
    assert cache.watermark == 101


def test_size_bound_holds_under_a_flood() -> None:
    rng = random.Random(0)
    cache = ReplayCache(100)
    refused = 0
    for i in range(5_000):
        try:
            cache.check_and_remember(_nonce(i), expires_at=1_000 + rng.random() * 100, now=0)
        except MessageExpired:  # older than what the full cache already had to forget
            refused += 1
        assert len(cache) <= 100
    assert len(cache) == 100
    assert cache.maxsize == 100
    assert 0 < refused < 5_000


def test_size_eviction_drops_the_oldest_and_fails_closed() -> None:
    cache = ReplayCache(3)
    for i, deadline in enumerate([10, 30, 20, 40]):
        cache.check_and_remember(_nonce(i), expires_at=deadline, now=0)
    assert [i for i in range(4) if _nonce(i) in cache] == [1, 2, 3]  # deadline 10 went first
    assert cache.watermark == 10
    # The forgotten nonce cannot be replayed: it is refused, not accepted again.
    with pytest.raises(MessageExpired, match="too old for the replay cache"):
        cache.check_and_remember(_nonce(0), expires_at=10, now=1)
    # A new message as old as that one is refused too; a younger one is fine.
    with pytest.raises(MessageExpired):
        cache.check_and_remember(_nonce(7), expires_at=9, now=1)
    cache.check_and_remember(_nonce(8), expires_at=50, now=1)
    assert len(cache) == 3


def test_a_message_evicted_as_soon_as_added_still_cannot_be_replayed() -> None:
    cache = ReplayCache(1)
    cache.check_and_remember(_nonce(1), expires_at=100, now=0)
    cache.check_and_remember(_nonce(2), expires_at=50, now=0)  # accepted, then evicted at once
    assert _nonce(2) not in cache
    with pytest.raises(MessageExpired):
        cache.check_and_remember(_nonce(2), expires_at=50, now=0)


def test_clock_stepping_back_does_not_reopen_the_window() -> None:
    cache = ReplayCache(10)
    cache.check_and_remember(_nonce(1), expires_at=100, now=0)
    cache.check_and_remember(_nonce(2), expires_at=300, now=200)  # evicts nonce 1 by time
    with pytest.raises(MessageExpired):
        cache.check_and_remember(_nonce(1), expires_at=100, now=50)  # clock went back to 50


@pytest.mark.parametrize("size", [0, -1, True, 1.5])
def test_size_must_be_a_positive_integer(size: object) -> None:
    with pytest.raises(ConfigError):
        ReplayCache(size)  # type: ignore[arg-type]
