"""sign() and Verifier: the round trip, and one specific error for every way an envelope fails."""

from __future__ import annotations

import base64

import pytest

from zerotls.errors import (
    BadSignature,
    ConfigError,
    DecodeError,
    MessageExpired,
    ReplayDetected,
    UnknownKey,
)
from zerotls.integrity import HmacKey, KeyRing, VerifiedMessage, Verifier, sign

T0 = 1_764_320_000.0


def _ring() -> KeyRing:
    return KeyRing.generate(now=T0)


def _replace_field(envelope: bytes, index: int, value: str) -> bytes:
    fields = envelope.decode("ascii").split(".")
    fields[index] = value
    return ".".join(fields).encode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_round_trip() -> None:
    ring = _ring()
    envelope = sign(ring, b"hello\x00world", now=T0 + 0.9)
    message = Verifier(ring).verify(envelope, now=T0 + 5)
    assert isinstance(message, VerifiedMessage)
    assert message.payload == b"hello\x00world"
    assert message.key_id == ring.current.kid
    assert message.timestamp == int(T0)  # whole seconds, rounded down
    assert len(message.nonce) == 16
    assert envelope.startswith(f"zt1.{ring.current.kid}.{int(T0)}.".encode())


def test_text_form_verifies_too() -> None:
    ring = _ring()
    text = sign(ring, b"x", now=T0).decode("ascii")
    assert Verifier(ring).verify(text, now=T0).payload == b"x"


def test_each_envelope_gets_a_fresh_nonce() -> None:
    ring = _ring()
    nonces = {sign(ring, b"same", now=T0).split(b".")[3] for _ in range(50)}
    assert len(nonces) == 50


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (2, str(int(T0) + 1)),  # timestamp
        (3, _b64(bytes(16))),  # nonce
        (4, _b64(b"hellO")),  # payload
        (5, _b64(bytes(32))),  # MAC
    ],
    ids=["timestamp", "nonce", "payload", "mac"],
)
def test_tampered_field_is_a_bad_signature(index: int, value: str) -> None:
    ring = _ring()
    envelope = sign(ring, b"hello", now=T0)
    verifier = Verifier(ring)
    with pytest.raises(BadSignature, match="MAC does not match"):
        verifier.verify(_replace_field(envelope, index, value), now=T0)
    assert len(verifier.replay_cache) == 0  # forged envelopes never reach the replay cache
    assert verifier.verify(envelope, now=T0).payload == b"hello"  # the original still verifies


def test_key_id_swapped_for_another_known_key_is_a_bad_signature() -> None:
    ring = _ring()
    envelope = sign(ring, b"hello", now=T0)
    old_kid = ring.current.kid
    ring.rotate(now=T0)  # two active keys now
    with pytest.raises(BadSignature):
        Verifier(ring).verify(_replace_field(envelope, 1, ring.current.kid), now=T0)
    assert Verifier(ring).verify(envelope, now=T0).key_id == old_kid


def test_wrong_secret_under_the_same_key_id_is_a_bad_signature() -> None:
    ring = _ring()
    impostor = HmacKey.generate(kid=ring.current.kid, now=T0)
    impostor_ring = KeyRing([impostor], current=impostor.kid)
    envelope = sign(impostor_ring, b"pay 1000 to mallory", now=T0)
    with pytest.raises(BadSignature):
        Verifier(ring).verify(envelope, now=T0)


def test_unknown_key_id() -> None:
    envelope = sign(_ring(), b"hello", now=T0)
    with pytest.raises(UnknownKey, match="does not hold"):
        Verifier(_ring()).verify(envelope, now=T0)


def test_retired_key_is_refused_with_its_own_message() -> None:
    ring = _ring()
    old = sign(ring, b"old", now=T0)
    ring.rotate(now=T0, retire_after=0)
    with pytest.raises(UnknownKey, match="retired at 2025-11-28T08:53:20Z"):
        Verifier(ring).verify(old, now=T0 + 1)


def test_version_change_is_a_decode_error() -> None:
    envelope = sign(_ring(), b"hello", now=T0)
    with pytest.raises(DecodeError, match=r"does not start with 'zt1\.'"):
        Verifier(_ring()).verify(_replace_field(envelope, 0, "zt2"), now=T0)


@pytest.mark.parametrize("data", [b"", b"garbage", b"\xff\xfe", b"zt1....."])
def test_garbage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Verifier(_ring()).verify(data, now=T0)


def test_truncated_envelope_is_a_decode_error() -> None:
    ring = _ring()
    envelope = sign(ring, b"hello", now=T0)
    verifier = Verifier(ring)
    for end in (len(envelope) - 1, len(envelope) - 20, 30, 4):
        with pytest.raises(DecodeError):
            verifier.verify(envelope[:end], now=T0)


def test_age_window_boundaries() -> None:
    ring = _ring()
    verifier = Verifier(ring, max_age=300, skew=30)
    at_limit = sign(ring, b"a", now=T0)
    assert verifier.verify(at_limit, now=T0 + 300).payload == b"a"  # exactly max_age: accepted
    too_old = sign(ring, b"b", now=T0)
    with pytest.raises(MessageExpired, match=r"signed 300\.5 s ago .* more than the 300 s"):
        verifier.verify(too_old, now=T0 + 300.5)


def test_future_window_boundaries() -> None:
    ring = _ring()
    verifier = Verifier(ring, max_age=300, skew=30)
    assert verifier.verify(sign(ring, b"a", now=T0 + 30), now=T0).payload == b"a"
    with pytest.raises(MessageExpired, match=r"31\.0 s in the future.*clock skew"):
        verifier.verify(sign(ring, b"b", now=T0 + 31), now=T0)


def test_mac_is_checked_before_the_time_window() -> None:
    ring = _ring()
    envelope = sign(ring, b"hello", now=T0)
    with pytest.raises(BadSignature):
        Verifier(ring).verify(_replace_field(envelope, 4, _b64(b"x")), now=T0 + 10_000)


def test_replay_is_detected() -> None:
    ring = _ring()
    verifier = Verifier(ring)
    envelope = sign(ring, b"pay once", now=T0)
    assert verifier.verify(envelope, now=T0 + 1).payload == b"pay once"
    with pytest.raises(ReplayDetected, match="already accepted"):
        verifier.verify(envelope, now=T0 + 2)
    # Once the window has passed, the nonce is forgotten, but the envelope is refused as old.
    with pytest.raises(MessageExpired):
        verifier.verify(envelope, now=T0 + 301)
    fresh = sign(ring, b"fresh", now=T0 + 301)
    verifier.verify(fresh, now=T0 + 301)
    assert len(verifier.replay_cache) == 1  # the first nonce was evicted by time


def test_a_full_replay_cache_fails_closed() -> None:
    ring = _ring()
    verifier = Verifier(ring, replay_cache_size=2)
    first = sign(ring, b"1", now=T0)
    verifier.verify(first, now=T0)
    verifier.verify(sign(ring, b"2", now=T0 + 1), now=T0 + 1)
    verifier.verify(sign(ring, b"3", now=T0 + 2), now=T0 + 2)  # evicts the nonce of "1"
    assert len(verifier.replay_cache) == 2
    with pytest.raises(MessageExpired, match="too old for the replay cache"):
        verifier.verify(first, now=T0 + 3)


def test_rotation_old_messages_verify_until_the_old_key_retires() -> None:
    ring = _ring()
    verifier = Verifier(ring, max_age=3600)
    old_kid = ring.current.kid
    signer_not_yet_updated = KeyRing([ring.current], current=old_kid)
    old = sign(ring, b"old", now=T0)
    new_key = ring.rotate(now=T0 + 10, retire_after=600)
    new = sign(ring, b"new", now=T0 + 10)
    assert new_key.kid != old_kid
    assert new.split(b".")[1].decode() == new_key.kid
    assert ring.current == new_key
    assert verifier.verify(old, now=T0 + 20).key_id == old_kid
    assert verifier.verify(new, now=T0 + 20).key_id == new_key.kid
    assert ring.keys[1].retire_at == int(T0) + 610
    late = sign(signer_not_yet_updated, b"late", now=T0 + 609)
    assert verifier.verify(late, now=T0 + 609).payload == b"late"  # one second left
    later = sign(signer_not_yet_updated, b"later", now=T0 + 610)
    with pytest.raises(UnknownKey, match="retired"):
        verifier.verify(later, now=T0 + 610)


def test_retire_by_hand() -> None:
    ring = _ring()
    old_kid = ring.current.kid
    old = sign(ring, b"old", now=T0)
    ring.rotate(now=T0)  # previous key stays active until retired
    verifier = Verifier(ring)
    assert verifier.verify(old, now=T0 + 1).payload == b"old"
    ring.retire(old_kid, now=T0 + 2)
    assert old_kid in ring.retired
    assert [k.kid for k in ring.keys] == [ring.current.kid]  # the secret is gone
    with pytest.raises(UnknownKey, match="retired"):
        verifier.verify(old, now=T0 + 3)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_age": 0}, {"max_age": float("nan")}, {"skew": -1}, {"replay_cache_size": 0}],
)
def test_verifier_refuses_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        Verifier(_ring(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("now", [float("nan"), float("inf")])
def test_verify_refuses_a_time_that_is_not_a_number(now: float) -> None:
    ring = _ring()
    with pytest.raises(ConfigError, match="not a time"):
        Verifier(ring).verify(sign(ring, b"x", now=T0), now=now)


def test_sign_refuses_bad_time_and_huge_payloads() -> None:
    ring = _ring()
    with pytest.raises(ConfigError, match="Unix epoch"):
        sign(ring, b"x", now=-1)
    with pytest.raises(ConfigError, match="sign a digest"):
        sign(ring, b"x" * (16 * 1024 * 1024 + 1), now=T0)
