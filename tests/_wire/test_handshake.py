"""The raw handshake codec: golden bytes, an independent parser (tlslite-ng), and fuzzing."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zerotls._wire.buffer import Buffer
from zerotls._wire.handshake import (
    HRR_RANDOM,
    ClientHello,
    ContentType,
    Extension,
    HandshakeReader,
    RecordReader,
    build_client_hello,
    pull_alert_untrusted,
    pull_certificate_status_untrusted,
    pull_certificate_untrusted,
    pull_client_hello_untrusted,
    pull_server_hello_untrusted,
    pull_server_key_exchange_untrusted,
    pull_sslv2_server_hello_untrusted,
    push_client_hello,
    push_heartbeat_request,
    push_record,
    push_sslv2_client_hello,
)
from zerotls._wire.suites import CIPHER_SUITES, GROUPS, suite_info, suites_for_version
from zerotls.errors import DecodeError

# A TLS 1.2 ClientHello with a fixed random, two suites, SNI "a.b" and no other extension.
GOLDEN_CLIENT_HELLO = bytes.fromhex(
    "01000039"  # client_hello, 57 bytes (RFC 5246 §7.4.1.2)
    "0303" + "11" * 32 + "00"  # client_version TLS 1.2, random, empty session id
    "0004"
    "c02f"
    "00ff"  # ECDHE-RSA-AES128-GCM-SHA256, TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    "01"
    "00"  # compression: null
    "000c"
    "0000"
    "0008"
    "0006"
    "00"
    "0003"
    "612e62"  # server_name "a.b" (RFC 6066 §3)
)

# A TLS 1.3 ServerHello (x25519 key share, TLS 1.3 selected) and the same as a retry request.
SERVER_HELLO_13 = bytes.fromhex(
    "0303" + "22" * 32 + "20" + "33" * 32 + "130100002e002b0002030400330024001d0020" + "44" * 32
)
HRR = bytes.fromhex("0303" + HRR_RANDOM.hex() + "00130200000c002b00020304003300020017")


def test_golden_client_hello_round_trip() -> None:
    hello = build_client_hello(
        0x0303, [0xC02F], server_name="a.b", random=b"\x11" * 32, groups=(),
        signature_schemes=(), status_request=False, sct=False, session_ticket=False,
    )  # fmt: skip
    hello = ClientHello(
        legacy_version=hello.legacy_version,
        random=hello.random,
        cipher_suites=hello.cipher_suites,
        extensions=tuple(e for e in hello.extensions if e.type == 0),
    )
    encoded = push_client_hello(hello)
    assert encoded == GOLDEN_CLIENT_HELLO
    assert pull_client_hello_untrusted(encoded[4:]) == hello


def test_server_hello_13_and_retry_request() -> None:
    hello = pull_server_hello_untrusted(SERVER_HELLO_13)
    assert hello.selected_version == 0x0304
    assert hello.cipher_suite == 0x1301 and hello.selected_group == 29
    assert not hello.is_retry_request
    retry = pull_server_hello_untrusted(HRR)
    assert retry.is_retry_request and retry.selected_group == 23 and retry.cipher_suite == 0x1302


def _tlslite(*names: str) -> list[Any]:
    # tlslite-ng still imports asyncore, deprecated in 3.11: not our warning to fix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from tlslite import messages
        from tlslite.utils import codec
    return [getattr(messages, n, None) or getattr(codec, n) for n in names]


def test_tlslite_parses_our_client_hello() -> None:
    """An independent implementation reads our hello the way we meant it."""
    TlsliteHello, Parser = _tlslite("ClientHello", "Parser")

    ours = build_client_hello(0x0304, [0x1301, 0x1302], server_name="example.com",
                              groups=[29, 23, 0x11EC])  # fmt: skip
    parsed = TlsliteHello().parse(Parser(bytearray(push_client_hello(ours)[1:])))
    assert list(parsed.cipher_suites) == [0x1301, 0x1302]
    assert parsed.server_name == bytearray(b"example.com")
    assert parsed.getExtension(43).versions == [(3, 4)]
    assert [e.group for e in parsed.getExtension(51).client_shares] == [29, 23]


def test_tlslite_server_hello_parses() -> None:
    (TlsliteServerHello,) = _tlslite("ServerHello")

    theirs = TlsliteServerHello().create((3, 3), bytearray(b"\x05" * 32), bytearray(b""), 0xC02F)
    encoded = bytes(theirs.write())
    hello = pull_server_hello_untrusted(encoded[4:])
    assert hello.cipher_suite == 0xC02F and hello.selected_version == 0x0303


def test_sslv2_hello_and_server_hello() -> None:
    data = push_sslv2_client_hello([0x0700C0], challenge=b"\x00" * 16)
    assert data == bytes.fromhex("801c0100020003000000100700c0") + b"\x00" * 16
    cert = b"\x30\x03\x02\x01\x01"
    body = bytes.fromhex("0400010002") + len(cert).to_bytes(2, "big") + b"\x00\x03\x00\x00"
    body += cert + bytes.fromhex("0700c0")
    hello = pull_sslv2_server_hello_untrusted((0x8000 | len(body)).to_bytes(2, "big") + body)
    assert hello.cipher_kinds == (0x0700C0,) and hello.certificate == cert


def test_records_split_and_join() -> None:
    payload = bytes(range(256)) * 100  # 25600 bytes: two records
    data = push_record(ContentType.handshake, payload)
    reader = RecordReader()
    records = reader.feed_untrusted(data[:7]) + reader.feed_untrusted(data[7:])
    assert b"".join(r.payload for r in records) == payload
    assert len(records) == 2
    messages = HandshakeReader()
    out = messages.feed_untrusted(b"\x0e\x00") + messages.feed_untrusted(b"\x00\x00")
    assert out[0].msg_type == 14 and out[0].body == b""


def test_record_reader_refuses_garbage_and_stays_broken() -> None:
    reader = RecordReader()
    with pytest.raises(DecodeError, match="content type"):
        reader.feed_untrusted(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(DecodeError):
        reader.feed_untrusted(b"\x16\x03\x03\x00\x00")


def test_certificate_and_status_and_key_exchange() -> None:
    certs = [b"\x30\x01\x00", b"\x30\x02\x00\x00"]
    body = b"".join(len(c).to_bytes(3, "big") + c for c in certs)
    assert pull_certificate_untrusted(len(body).to_bytes(3, "big") + body) == tuple(certs)
    assert pull_certificate_status_untrusted(b"\x01\x00\x00\x02ab").ocsp_response == b"ab"
    ske = pull_server_key_exchange_untrusted(b"\x03\x00\x1d\x01\x09", "ECDHE")
    assert ske.group == 29
    prime = b"\x80" + b"\x00" * 127
    dh = len(prime).to_bytes(2, "big") + prime + b"\x00\x01\x02\x00\x01\x05"
    assert pull_server_key_exchange_untrusted(dh, "DHE").dh_prime_bits == 1024
    with pytest.raises(DecodeError):
        pull_server_key_exchange_untrusted(b"\x01\x00\x17", "ECDHE")  # explicit curve


def test_heartbeat_request_lies_only_when_asked() -> None:
    honest = push_heartbeat_request(b"abc")
    assert honest[5:8] == b"\x01\x00\x03" and len(honest) == 5 + 3 + 3 + 16
    lying = push_heartbeat_request(b"a", claimed_length=0x4000)
    assert lying[5:] == b"\x01\x40\x00a"


def test_suite_table() -> None:
    assert len(CIPHER_SUITES) > 200
    gcm = suite_info(0xC02F)
    assert gcm.aead and gcm.forward_secrecy and gcm.kex == "ECDHE" and not gcm.weak
    rc4 = suite_info(0x0005)
    assert rc4.insecure and rc4.mode == "stream"
    des3 = suite_info(0x000A)
    assert des3.block_bits == 64 and des3.weak and not des3.insecure
    assert suite_info(0x0003).export and suite_info(0x0003).bits == 40
    assert suite_info(0x1301).tls13
    assert 0x1301 not in suites_for_version(0x0303)
    assert 0xC02F not in suites_for_version(0x0301)
    assert GROUPS[0x11EC].post_quantum


# -- fuzzing: untrusted parsers raise DecodeError and nothing else ---------------------------------

PARSERS = [
    pull_client_hello_untrusted,
    pull_server_hello_untrusted,
    pull_certificate_untrusted,
    pull_certificate_status_untrusted,
    pull_alert_untrusted,
    pull_sslv2_server_hello_untrusted,
    lambda b: pull_server_key_exchange_untrusted(b, "ECDHE"),
    lambda b: pull_server_key_exchange_untrusted(b, "DHE"),
    lambda b: pull_server_key_exchange_untrusted(b, "RSA"),
    lambda b: RecordReader().feed_untrusted(b),
    lambda b: HandshakeReader().feed_untrusted(b),
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, len(PARSERS) - 1))
def test_parsers_raise_only_decode_error(data: bytes, which: int) -> None:
    with contextlib.suppress(DecodeError):
        PARSERS[which](data)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=60), st.integers(0, 80))
def test_mutated_server_hello_raises_only_decode_error(noise: bytes, position: int) -> None:
    mutated = bytearray(SERVER_HELLO_13)
    mutated[position % len(mutated) : position % len(mutated) + len(noise)] = noise
    with contextlib.suppress(DecodeError):
        pull_server_hello_untrusted(bytes(mutated))


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0x0300, 0x0303),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=50),
    st.lists(
        st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=20)),
        max_size=5,
        unique_by=lambda e: e[0],
    ),
)
def test_client_hello_round_trip(
    version: int, suites: list[int], exts: list[tuple[int, bytes]]
) -> None:
    hello = ClientHello(
        legacy_version=version,
        cipher_suites=tuple(suites),
        extensions=tuple(Extension(t, d) for t, d in exts),
    )
    assert pull_client_hello_untrusted(push_client_hello(hello)[4:]) == hello


def test_buffer_refuses_trailing_bytes() -> None:
    buf = Buffer(b"\x00\x01\x02", what="thing")
    block = buf.pull_block(1)
    assert block.eof()
    with pytest.raises(DecodeError, match="trailing"):
        buf.expect_end()
