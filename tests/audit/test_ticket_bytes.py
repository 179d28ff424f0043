"""The bytes the Ticketbleed probe reads: a TLS 1.2 NewSessionTicket before the server's
ChangeCipherSpec, and nothing after it (encrypted), however the records are cut."""

from __future__ import annotations

import pytest

from zerotls.audit.probes.ticketbleed import ticket_from_flight


def _record(ctype: int, payload: bytes) -> bytes:
    return bytes((ctype, 3, 3)) + len(payload).to_bytes(2, "big") + payload


def _handshake(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


TICKET = bytes(range(200))
NST = _handshake(4, (7200).to_bytes(4, "big") + len(TICKET).to_bytes(2, "big") + TICKET)
HELLO = _handshake(2, b"\x03\x03" + bytes(32) + b"\x00\xc0\x2f\x00")


def test_the_ticket_before_change_cipher_spec() -> None:
    flight = _record(22, HELLO) + _record(22, NST) + _record(20, b"\x01") + _record(22, b"x" * 40)
    assert ticket_from_flight(flight) == TICKET


@pytest.mark.parametrize("cut", [1, 7, 100])
def test_a_message_split_across_records(cut: int) -> None:
    both = HELLO + NST
    flight = _record(22, both[: len(HELLO) + cut]) + _record(22, both[len(HELLO) + cut :])
    assert ticket_from_flight(flight + _record(20, b"\x01")) == TICKET


def test_nothing_after_change_cipher_spec_and_nothing_broken() -> None:
    assert ticket_from_flight(_record(22, HELLO) + _record(20, b"\x01") + _record(22, NST)) is None
    truncated = _handshake(4, (7200).to_bytes(4, "big") + (500).to_bytes(2, "big") + TICKET)
    assert ticket_from_flight(_record(22, truncated)) is None  # claims 500, carries 200
    empty = _handshake(4, (0).to_bytes(4, "big") + b"\x00\x00")
    assert ticket_from_flight(_record(22, empty)) is None  # RFC 5077: no ticket after all
    assert ticket_from_flight(b"\x16\x03\x03\xff\xff" + b"junk") is None
