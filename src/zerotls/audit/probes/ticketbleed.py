"""Ticketbleed (CVE-2016-9244), by resuming with a real session ticket and a short session ID.

RFC 5077 §3.4: a server that accepts a ticket from a ClientHello with a session ID echoes
that session ID. F5 BIG-IP's TLS stack echoed 32 bytes whatever the length sent, so the
bytes after the client's were uninitialized memory (other connections' secrets), 31 at a
time. The probe completes one TLS 1.2 handshake with the bundled OpenSSL and takes the
ticket from the server's NewSessionTicket (TLS 1.2 sends it before ChangeCipherSpec, in the
clear), then offers that ticket in a raw ClientHello with a 16-byte session ID. An echo of
the same 16 bytes (or a fresh ID: the ticket refused) is the correct answer; a 32-byte ID
that starts with ours is the leak. A server that issues no ticket, or speaks no TLS 1.2,
cannot be vulnerable. Two connections.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Generator
from typing import Any

from zerotls._wire.handshake import (
    ContentType,
    Extension,
    ExtensionType,
    HandshakeReader,
    HandshakeType,
    ProtocolVersion,
    RecordReader,
    build_client_hello,
    push_client_hello,
    push_record,
)
from zerotls._wire.suites import GROUPS, suites_for_version
from zerotls.audit.conversation import Conversation, openssl_handshake, read_first_flight
from zerotls.audit.model import TicketbleedResult
from zerotls.audit.probes.base import JobFailed, Probe, ProbeContext, ProbeFlow, register
from zerotls.errors import DecodeError

__all__ = ["TicketbleedProbe", "ticket_from_flight", "ticketbleed_conversation"]

SESSION_ID_LENGTH = 16
"""Long enough that a fresh random ID cannot start with ours by chance (2^-128)."""


def ticket_from_flight(data: bytes) -> bytes | None:
    """The ticket of a TLS 1.2 NewSessionTicket among the server's bytes, read up to its
    ChangeCipherSpec (everything after it is encrypted); None when there is none."""
    records = RecordReader()
    messages = HandshakeReader()
    try:
        for record in records.feed_untrusted(data):
            if record.content_type == ContentType.change_cipher_spec:
                return None
            if record.content_type != ContentType.handshake:
                continue
            for msg in messages.feed_untrusted(record.payload):
                if msg.msg_type == HandshakeType.new_session_ticket and len(msg.body) >= 6:
                    length = int.from_bytes(msg.body[4:6], "big")
                    ticket = msg.body[6 : 6 + length]
                    return ticket if len(ticket) == length and ticket else None
    except DecodeError:
        return None
    return None


def _tap(inner: Conversation[Any], seen: bytearray) -> Generator[Any, Any, Any]:
    """Run ``inner``, keeping a copy of every byte the server sent."""
    item = next(inner)
    while True:
        data = yield item
        if data:
            seen += data
        try:
            item = inner.send(data)
        except StopIteration as stop:
            return stop.value


def ticket_conversation(server_name: str | None) -> Conversation[bytes | None]:
    """One full TLS 1.2 handshake (the bundled OpenSSL); the ticket the server issued."""
    from OpenSSL import SSL

    seen = bytearray()
    outcome = yield from _tap(openssl_handshake(server_name, max_version=SSL.TLS1_2_VERSION), seen)
    if not outcome.ok or outcome.version != "TLS 1.2":
        return None
    return ticket_from_flight(bytes(seen))


def ticketbleed_conversation(
    server_name: str | None, ticket: bytes
) -> Conversation[TicketbleedResult]:
    """Offer ``ticket`` with a short session ID; judge the echo."""
    ours = os.urandom(SESSION_ID_LENGTH)
    hello = build_client_hello(
        ProtocolVersion.TLSv1_2,
        list(suites_for_version(ProtocolVersion.TLSv1_2)),
        server_name=server_name,
        groups=list(GROUPS),
    )
    extensions = tuple(
        Extension(ExtensionType.session_ticket, ticket)
        if e.type == ExtensionType.session_ticket
        else e
        for e in hello.extensions
    )
    hello = dataclasses.replace(hello, session_id=ours, extensions=extensions)
    answer = yield push_record(ContentType.handshake, push_client_hello(hello))
    # Only up to the ServerHello: on a resumption what follows it is encrypted.
    flight = yield from read_first_flight(answer, hello_only=True)
    sh = flight.server_hello
    if sh is None:
        if flight.alert is not None:
            why = f"the resumption was refused ({flight.describe_refusal()})"
            return TicketbleedResult(False, detail=why)
        return TicketbleedResult(
            None, detail=f"no ServerHello to the resumption: {flight.describe_refusal()}"
        )
    echoed = sh.session_id
    if len(echoed) > len(ours) and echoed.startswith(ours):
        leaked = echoed[len(ours) :]
        return TicketbleedResult(
            True,
            leaked_bytes=len(leaked),
            detail=f"a {len(ours)}-byte session ID came back as {len(echoed)} bytes: "
            f"{len(leaked)} bytes of the server's memory follow ours",
        )
    if echoed == ours:
        return TicketbleedResult(False, detail="the ticket was taken and the session ID "
                                 "echoed at its own length")  # fmt: skip
    return TicketbleedResult(False, detail="the ticket was not taken (a new session ID)")


@register
class TicketbleedProbe(Probe):
    name = "ticketbleed"
    title = "Ticketbleed"
    cli_help = (
        "Ticketbleed (CVE-2016-9244): a real session ticket offered with a 16-byte session "
        "ID, and the length of the echo (two connections)"
    )

    def failed(self, reason: str) -> TicketbleedResult:
        return TicketbleedResult(None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        sni = ctx.target.sni
        (ticket,) = yield [ctx.job("ticketbleed-ticket", lambda: ticket_conversation(sni))]
        if isinstance(ticket, JobFailed):
            return TicketbleedResult(None, error=ticket.reason)
        if ticket is None:
            return TicketbleedResult(
                False, detail="no TLS 1.2 session ticket issued: not applicable"
            )
        (result,) = yield [ctx.job("ticketbleed", lambda: ticketbleed_conversation(sni, ticket))]
        if isinstance(result, JobFailed):
            return TicketbleedResult(None, error=result.reason)
        return result
