"""The zt1 wire format: a golden vector, and the parser's refusal of every other spelling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

import pytest

from zerotls.errors import ConfigError, DecodeError
from zerotls.integrity import Envelope, parse_envelope_untrusted
from zerotls.integrity.envelope import MAX_ENVELOPE_SIZE, compute_mac, mac_input

# The golden vector of docs/integrity.md (its MAC was cross-checked with `openssl dgst -hmac`).
SECRET = bytes(range(32))
KID = "demo-key"
TIMESTAMP = 1764320000
NONCE = bytes(range(16))
PAYLOAD = b'{"order": 42}'
GOLDEN_MAC_INPUT = bytes.fromhex(
    "7a7431"  # "zt1"
    "08"  # len(key id)
    "64656d6f2d6b6579"  # "demo-key"
    "0000000069296300"  # timestamp 1764320000
    "000102030405060708090a0b0c0d0e0f"  # nonce
    "000000000000000d"  # len(payload) = 13
    "7b226f72646572223a2034327d"  # '{"order": 42}'
)
GOLDEN_MAC = bytes.fromhex("ddfbc3221424a5a7ed08262def5dfd73bb5971fc42a83e968651a159a57b3069")
GOLDEN = (
    "zt1.demo-key.1764320000.AAECAwQFBgcICQoLDA0ODw.eyJvcmRlciI6IDQyfQ"
    ".3fvDIhQkpaftCCYt7139c7tZcfxCqD6WhlGhWaV7MGk"
)


def test_mac_input_matches_the_documented_layout() -> None:
    by_hand = (
        b"zt1"
        + bytes([len(KID)])
        + KID.encode()
        + struct.pack(">Q", TIMESTAMP)
        + NONCE
        + struct.pack(">Q", len(PAYLOAD))
        + PAYLOAD
    )
    assert by_hand == GOLDEN_MAC_INPUT
    assert mac_input(key_id=KID, timestamp=TIMESTAMP, nonce=NONCE, payload=PAYLOAD) == by_hand


def test_golden_vector() -> None:
    mac = compute_mac(SECRET, key_id=KID, timestamp=TIMESTAMP, nonce=NONCE, payload=PAYLOAD)
    assert mac == GOLDEN_MAC
    assert mac == hmac.new(SECRET, GOLDEN_MAC_INPUT, hashlib.sha256).digest()
    envelope = Envelope(key_id=KID, timestamp=TIMESTAMP, nonce=NONCE, payload=PAYLOAD, mac=mac)
    assert envelope.to_text() == GOLDEN
    assert envelope.to_bytes() == GOLDEN.encode("ascii")


@pytest.mark.parametrize("data", [GOLDEN, GOLDEN.encode("ascii")], ids=["str", "bytes"])
def test_parse_golden_vector(data: str | bytes) -> None:
    assert parse_envelope_untrusted(data) == Envelope(
        key_id=KID, timestamp=TIMESTAMP, nonce=NONCE, payload=PAYLOAD, mac=GOLDEN_MAC
    )


def test_empty_payload_round_trips() -> None:
    envelope = Envelope(key_id="k", timestamp=0, nonce=NONCE, payload=b"", mac=GOLDEN_MAC)
    assert envelope.to_text().split(".")[4] == ""
    assert parse_envelope_untrusted(envelope.to_bytes()) == envelope


def test_mac_input_is_injective_across_field_boundaries() -> None:
    # Moving a byte from the key id into the payload changes the MAC input.
    a = mac_input(key_id="ab", timestamp=1, nonce=NONCE, payload=b"c")
    b = mac_input(key_id="a", timestamp=1, nonce=NONCE, payload=b"bc")
    assert a != b


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _with_field(index: int, value: str) -> str:
    fields = GOLDEN.split(".")
    fields[index] = value
    return ".".join(fields)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "does not start with 'zt1.'"),
        ("hello", "does not start with 'zt1.'"),
        (_with_field(0, "zt2"), "does not start with 'zt1.'"),
        (_with_field(0, "ZT1"), "does not start with 'zt1.'"),
        (GOLDEN + "\n", "not unpadded base64url"),  # trailing newline: the library takes none
        (GOLDEN + " ", "not unpadded base64url"),
        (GOLDEN + ".", "7 dot-separated fields"),
        (GOLDEN.rsplit(".", 1)[0], "5 dot-separated fields"),
        (_with_field(1, ""), "key id"),
        (_with_field(1, "x" * 33), "key id"),
        (_with_field(1, "demo key"), "key id"),
        (_with_field(2, "01764320000"), "canonical decimal"),  # leading zero
        (_with_field(2, "+1764320000"), "canonical decimal"),
        (_with_field(2, "1_764_320_000"), "canonical decimal"),
        (_with_field(2, "\u0661\u0662"), "non-ASCII"),  # Arabic-Indic digits: int() accepts them
        (_with_field(2, ""), "canonical decimal"),
        (_with_field(2, str(2**64)), "64 bits"),
        (_with_field(3, "AAECAwQFBgcICQoLDA0ODw=="), "not unpadded base64url"),  # padding
        (_with_field(3, "AAECAwQFBgcICQoLDA0ODx"), "not canonical"),  # stray low bits
        (_with_field(3, "AAECAwQFBgcICQoLDA0O"), "nonce is 15 bytes"),
        (_with_field(3, "AAECAwQFBgcICQoLDA0ODw+"), "not unpadded base64url"),  # std alphabet
        (_with_field(4, "eyJvcmRlciI6IDQyfQ="), "not unpadded base64url"),
        (_with_field(4, "e"), "not unpadded base64url"),  # 1 mod 4: no byte string has it
        (_with_field(5, _b64(GOLDEN_MAC[:-1])), "MAC is 31 bytes"),
        (_with_field(5, _b64(GOLDEN_MAC + b"\0")), "MAC is 33 bytes"),
        ("zt1." + "A" * MAX_ENVELOPE_SIZE, "characters long"),
    ],
)
def test_parser_refuses_every_other_spelling(data: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        parse_envelope_untrusted(data)
    if data.isascii():
        with pytest.raises(DecodeError, match=reason):
            parse_envelope_untrusted(data.encode("ascii"))


def test_parser_refuses_non_ascii_bytes() -> None:
    with pytest.raises(DecodeError, match="non-ASCII bytes"):
        parse_envelope_untrusted(GOLDEN.encode("ascii") + b"\xff")


def test_every_truncation_is_a_decode_error() -> None:
    for end in range(len(GOLDEN)):
        with pytest.raises(DecodeError):
            parse_envelope_untrusted(GOLDEN[:end])


def test_mac_input_refuses_out_of_range_fields() -> None:
    with pytest.raises(ConfigError, match="nonce is 3 bytes"):
        mac_input(key_id=KID, timestamp=1, nonce=b"abc", payload=b"")
    with pytest.raises(ConfigError, match="timestamp -1"):
        mac_input(key_id=KID, timestamp=-1, nonce=NONCE, payload=b"")
    with pytest.raises(ConfigError, match="key id"):
        mac_input(key_id="a.b", timestamp=1, nonce=NONCE, payload=b"")
