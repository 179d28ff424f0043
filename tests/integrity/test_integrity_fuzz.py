"""Whatever reaches the untrusted parser or verify(), only DecodeError or IntegrityError comes out.

Never IndexError, ValueError, binascii.Error, UnicodeDecodeError, struct.error or OverflowError.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zerotls.errors import DecodeError, IntegrityError
from zerotls.integrity import KeyRing, Verifier, parse_envelope_untrusted, sign

T0 = 1_764_320_000.0
RING = KeyRing.generate(now=T0)
VALID = sign(RING, b'{"order": 42}', now=T0).decode("ascii")

# No example database: a failure is reproduced from the printed example, not from disk.
FUZZ = settings(
    database=None,
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_ENVELOPE_ALPHABET = "zt1.0123456789AZaz_-=+/ \n\x00\u0661\xff"


@st.composite
def envelope_like(draw: st.DrawFn) -> str:
    """Text shaped like an envelope, so the parser gets past its first checks."""
    fields = draw(st.lists(st.text(alphabet=_ENVELOPE_ALPHABET, max_size=60), max_size=8))
    return ".".join(["zt1", *fields])


@st.composite
def mutated_valid(draw: st.DrawFn) -> str:
    """A valid envelope with a few characters replaced, inserted or deleted."""
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        char = draw(st.characters(codec="utf-8") | st.sampled_from("AZaz09-_.=+/"))
        if action == "replace":
            text = text[:position] + char + text[position + 1 :]
        elif action == "insert":
            text = text[:position] + char + text[position:]
        else:
            text = text[:position] + text[position + 1 :]
    return text


anything = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200),
    envelope_like(),
    mutated_valid(),
    mutated_valid().map(lambda s: s.encode("utf-8")),
)


@FUZZ
@given(anything)
def test_untrusted_parser_raises_only_decode_error(data: bytes | str) -> None:
    try:
        envelope = parse_envelope_untrusted(data)
    except DecodeError:
        return
    # If it parsed, it re-encodes to exactly the input: there is one spelling per envelope.
    expected = data if isinstance(data, bytes) else data.encode("ascii")
    assert envelope.to_bytes() == expected


@FUZZ
@given(anything, st.floats(min_value=T0 - 1_000, max_value=T0 + 1_000))
def test_verify_raises_only_decode_or_integrity_errors(data: bytes | str, now: float) -> None:
    verifier = Verifier(RING)
    try:
        message = verifier.verify(data, now=now)
    except (DecodeError, IntegrityError):
        return
    # Only the untouched envelope can verify.
    expected = data if isinstance(data, bytes) else data.encode("ascii")
    assert expected == VALID.encode("ascii")
    assert message.payload == b'{"order": 42}'


@FUZZ
@given(st.binary(max_size=2_000), st.integers(min_value=0, max_value=2**40))
def test_any_payload_round_trips(payload: bytes, timestamp: int) -> None:
    envelope = sign(RING, payload, now=timestamp)
    message = Verifier(RING).verify(envelope, now=timestamp + 1)
    assert message.payload == payload
    assert message.timestamp == timestamp
