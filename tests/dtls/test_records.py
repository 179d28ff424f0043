"""The DTLS record splitter and datagram packer (properties and golden bytes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerotls._wire.dtls import (
    looks_like_dtls_untrusted,
    pack_datagrams,
    split_records_untrusted,
)
from zerotls.errors import DecodeError

# A real DTLS 1.2 alert record: type 21, version FE FD, epoch 0, sequence 5, length 2, fatal
# handshake_failure.
GOLDEN = bytes.fromhex("15fefd000000000000000500020228")[:15]


def record(ctype: int, body: bytes, seq: int = 0) -> bytes:
    return (
        bytes([ctype, 0xFE, 0xFD])
        + b"\x00\x00"
        + seq.to_bytes(6, "big")
        + len(body).to_bytes(2, "big")
        + body
    )


def test_golden_alert_record() -> None:
    assert record(21, b"\x02\x28", seq=5) == GOLDEN
    assert split_records_untrusted(GOLDEN + GOLDEN) == [GOLDEN, GOLDEN]


@given(
    st.lists(st.tuples(st.sampled_from([20, 21, 22, 23]), st.binary(max_size=1500)), max_size=20),
    st.integers(min_value=256, max_value=2000),
)
def test_pack_then_split_is_lossless_and_respects_the_mtu(
    items: list[tuple[int, bytes]], mtu: int
) -> None:
    records = [record(t, b, i) for i, (t, b) in enumerate(items)]
    datagrams = pack_datagrams(records, mtu)
    for d in datagrams:
        parts = split_records_untrusted(d)
        assert len(d) <= mtu or len(parts) == 1  # only a lone oversized record may exceed it
    assert [r for d in datagrams for r in split_records_untrusted(d)] == records


@given(st.binary(max_size=300))
def test_untrusted_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        records = split_records_untrusted(data)
    except DecodeError:
        return
    assert b"".join(records) == data


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (GOLDEN[:10], "truncated"),
        (b"\x63" + GOLDEN[1:], "content type"),
        (GOLDEN[:1] + b"\x03\x03" + GOLDEN[3:], "not a DTLS record version"),
        (GOLDEN[:-1], "announces"),
    ],
)
def test_malformed_records(data: bytes, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        split_records_untrusted(data)


def test_first_datagram_filter() -> None:
    hello = record(22, b"\x01" + b"\x00" * 40)
    assert looks_like_dtls_untrusted(hello)
    assert not looks_like_dtls_untrusted(record(23, b"\x00" * 40))  # data from a stranger
    assert not looks_like_dtls_untrusted(b"\x16\xfe")
