"""Conversations: what happens on one connection, as generators the runner drives.

Theory of operation
-------------------
A *conversation* is a generator that owns no socket. It yields what it wants written (``bytes``)
or how long it is willing to wait for more (:class:`Recv`); the runner writes, reads whatever
arrives, and sends it back in: ``bytes`` (possibly several records at once), ``b""`` at end of
stream, or ``None`` when nothing came within the time allowed. The generator's return value is
the conversation's result. This is httpx's ``auth_flow`` shape: the same code runs against a
socket in the runner and against canned bytes in the tests.

Three kinds are built here:

* :func:`hello_exchange` writes one raw ClientHello (our codec, any version, any suites) and
  reads the server's first flight into a :class:`FirstFlight`; :func:`read_first_flight` is the
  reusable half, so a probe can continue on the same connection (Heartbleed does).
* :func:`sslv2_exchange` does the same with an SSL 2.0 CLIENT-HELLO.
* :func:`openssl_handshake` completes a real handshake with the pyOpenSSL engine over memory
  BIOs (for TLS 1.3 certificates, resumption, renegotiation and HTTP), at security level 0 and
  with verification off: the auditor wants to *see* what the server does, and judges the
  certificate itself.

:func:`with_starttls` prefixes any of them with a protocol's STARTTLS dialogue.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any, TypeVar

from zerotls._wire.handshake import (
    Alert,
    ContentType,
    HandshakeReader,
    HandshakeType,
    RecordReader,
    ServerHello,
    ServerKeyExchange,
    pull_alert_untrusted,
    pull_certificate_status_untrusted,
    pull_certificate_untrusted,
    pull_server_hello_untrusted,
    pull_server_key_exchange_untrusted,
    pull_sslv2_server_hello_untrusted,
    push_client_hello,
    push_record,
    push_sslv2_client_hello,
)
from zerotls._wire.handshake import ClientHello as _ClientHello
from zerotls._wire.suites import SSL2_CIPHER_KINDS, suite_info
from zerotls.errors import DecodeError, ProbeError

__all__ = [
    "Conversation",
    "FirstFlight",
    "HandshakeOutcome",
    "Recv",
    "alerts_in",
    "SSL2Outcome",
    "hello_exchange",
    "openssl_handshake",
    "read_first_flight",
    "sslv2_exchange",
    "with_starttls",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Recv:
    """Yielded by a conversation: wait at most ``timeout`` seconds for bytes, write nothing."""

    timeout: float | None = None
    """None: the scan's timeout; 0 returns at once with what has already arrived."""
    send: bytes = b""
    """Bytes to write first (a write that expects no particular answer)."""


Conversation = Generator["bytes | Recv", "bytes | None", T]
"""Yields bytes to write (then reads) or :class:`Recv`; receives bytes, ``b""`` (EOF) or None
(timeout); returns its result."""


@dataclass(frozen=True, slots=True)
class FirstFlight:
    """What a server answered to a raw ClientHello, up to where the cleartext ends."""

    server_hello: ServerHello | None = None
    certificates: tuple[bytes, ...] = ()
    ocsp_response: bytes | None = None
    key_exchange: ServerKeyExchange | None = None
    done: bool = False
    """ServerHelloDone arrived (TLS 1.2 and below)."""
    alert: Alert | None = None
    eof: bool = False
    timed_out: bool = False
    record_version: int | None = None
    """The version in the first record header the server sent."""

    @property
    def version(self) -> int | None:
        """The negotiated version, if the server said hello."""
        return self.server_hello.selected_version if self.server_hello else None

    def describe_refusal(self) -> str:
        """Why there was no ServerHello, in words."""
        from zerotls._wire.alerts import alert_label

        if self.alert is not None:
            return f"alert {alert_label(self.alert.description)}"
        if self.timed_out:
            return "no answer (timeout)"
        return "connection closed"


def read_first_flight(
    initial: bytes | EllipsisType | None = ...,
    *,
    tls13_stop: bool = True,
    hello_only: bool = False,
) -> Generator[bytes | Recv, bytes | None, FirstFlight]:
    """Read records until the cleartext part of the server's flight is over.

    Stops at ServerHelloDone, at a TLS 1.3 ServerHello or HelloRetryRequest (everything after
    is encrypted), at an alert, at end of stream or at a timeout.

    Args:
        initial: what the runner answered to the hello's own write (pass it on: it is
            usually the start of the flight); ``...`` to start by reading.
        hello_only: stop at the ServerHello whatever the version (a resumption: what
            follows it is encrypted).
    """
    records = RecordReader()
    messages = HandshakeReader()
    hello: ServerHello | None = None
    certs: tuple[bytes, ...] = ()
    ocsp: bytes | None = None
    ske: ServerKeyExchange | None = None
    first_version: int | None = None
    while True:
        if initial is ...:
            data = yield Recv()
        else:
            data, initial = initial, ...
        if data is None or data == b"":
            return FirstFlight(
                hello, certs, ocsp, ske, eof=data == b"", timed_out=data is None,
                record_version=first_version,
            )  # fmt: skip
        for record in records.feed_untrusted(data):
            if first_version is None:
                first_version = record.version
            if record.content_type == ContentType.alert:
                return FirstFlight(
                    hello, certs, ocsp, ske, alert=pull_alert_untrusted(record.payload),
                    record_version=first_version,
                )  # fmt: skip
            if record.content_type == ContentType.change_cipher_spec:
                continue  # RFC 8446 §D.4: a compatibility CCS after a HelloRetryRequest
            if record.content_type != ContentType.handshake:
                raise DecodeError(f"unexpected record type {record.content_type} in the hello")
            for msg in messages.feed_untrusted(record.payload):
                if msg.msg_type == HandshakeType.server_hello:
                    hello = pull_server_hello_untrusted(msg.body)
                    tls13 = hello.is_retry_request or hello.selected_version >= 0x0304
                    if hello_only or (tls13_stop and tls13):
                        return FirstFlight(hello, record_version=first_version)
                elif hello is None:
                    raise DecodeError(f"handshake message {msg.msg_type} before ServerHello")
                elif msg.msg_type == HandshakeType.certificate:
                    certs = pull_certificate_untrusted(msg.body)
                elif msg.msg_type == HandshakeType.certificate_status:
                    ocsp = pull_certificate_status_untrusted(msg.body).ocsp_response
                elif msg.msg_type == HandshakeType.server_key_exchange:
                    kex = suite_info(hello.cipher_suite).kex
                    if kex in ("ECDHE", "DHE", "RSA"):
                        ske = pull_server_key_exchange_untrusted(msg.body, kex)
                elif msg.msg_type == HandshakeType.server_hello_done:
                    return FirstFlight(hello, certs, ocsp, ske, done=True,
                                       record_version=first_version)  # fmt: skip


def alerts_in(data: bytes) -> list[bytes]:
    """The payloads of the alert records in ``data`` (two bytes each, unless encrypted)."""
    return [
        r.payload
        for r in RecordReader().feed_untrusted(data)
        if r.content_type == ContentType.alert
    ]


def hello_exchange(
    hello: _ClientHello, *, record_version: int = 0x0301
) -> Conversation[FirstFlight]:
    """Write one ClientHello and read the first flight."""
    answer = yield push_record(ContentType.handshake, push_client_hello(hello), record_version)
    return (yield from read_first_flight(answer))


@dataclass(frozen=True, slots=True)
class SSL2Outcome:
    supported: bool
    cipher_kinds: tuple[int, ...] = ()
    certificate: bytes = b""
    detail: str = ""


def sslv2_exchange() -> Conversation[SSL2Outcome]:
    """Offer every SSL 2.0 cipher kind in an SSL 2.0 hello; see whether a SERVER-HELLO comes."""
    data = yield push_sslv2_client_hello(list(SSL2_CIPHER_KINDS))
    buffer = b""
    while data:
        buffer += data
        if len(buffer) >= 2 and buffer[0] & 0x80:
            needed = 2 + (int.from_bytes(buffer[:2], "big") & 0x7FFF)
            if len(buffer) >= needed:
                hello = pull_sslv2_server_hello_untrusted(buffer[:needed])
                return SSL2Outcome(True, hello.cipher_kinds, hello.certificate)
        elif len(buffer) >= 5:
            return SSL2Outcome(False, detail="answered with a TLS record")
        data = yield Recv()
    return SSL2Outcome(False, detail="no answer" if data is None else "connection closed")


# -- full handshakes with the engine ------------------------------------------------------------


@dataclass(slots=True)
class HandshakeOutcome:
    """A completed (or refused) real handshake, and what came with it."""

    ok: bool
    version: str | None = None
    cipher: str | None = None
    chain: tuple[bytes, ...] = ()
    ocsp_response: bytes | None = None
    session: Any = None
    """The pyOpenSSL session, for a resumption attempt."""
    context: Any = None
    """The pyOpenSSL context it was made with (OpenSSL resumes only within one context)."""
    reused: bool = False
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """What an ``after`` step learned on the established connection."""
    certificate_request: bool | None = None
    """``watch_client_auth``: whether the server sent a CertificateRequest (in TLS 1.3 too,
    where it is encrypted), even when the handshake then failed for want of a certificate."""
    client_ca: tuple[str, ...] = ()
    """The CA names that CertificateRequest listed (RFC 4514 style)."""


AfterStep = Callable[[Any], Generator["bytes | Recv", "bytes | None", dict[str, Any]]]


def openssl_handshake(
    server_name: str | None,
    *,
    max_version: int | None = None,
    resume: HandshakeOutcome | None = None,
    tickets: bool = True,
    after: AfterStep | None = None,
    watch_client_auth: bool = False,
) -> Conversation[HandshakeOutcome]:
    """Complete a handshake with the bundled OpenSSL through memory BIOs.

    Args:
        server_name: SNI to send.
        max_version: cap the version (pyOpenSSL constant such as ``SSL.TLS1_2_VERSION``).
        resume: an earlier outcome whose session to offer back (same settings).
        tickets: False disables session tickets, so only session-ID resumption can happen.
        after: a generator run on the established connection (it receives the pyOpenSSL
            ``Connection``); its dictionary lands in :attr:`HandshakeOutcome.extra`.
        watch_client_auth: record whether a CertificateRequest came, and its CA names.
    """
    from OpenSSL import SSL

    if resume is not None and resume.context is not None:
        # Resumption works within one context; its settings are the first handshake's.
        return (yield from _handshake(resume.context, server_name, resume.session, after))
    # The auditor looks, it does not trust: verification is ours (audit.certs), and every
    # protocol and suite OpenSSL still has is allowed, so we see what the server really does.
    # No application data is ever sent over these connections.
    method = SSL.TLS_CLIENT_METHOD
    ctx = SSL.Context(method)  # zerotls: ignore[TLS002] its floor is 0 below, on purpose
    ctx.set_verify(SSL.VERIFY_NONE)  # zerotls: ignore[TLS004] the auditor judges certs itself
    ctx.set_min_proto_version(0)  # zerotls: ignore[TLS001] legacy servers are what it must find
    if max_version is not None:
        ctx.set_max_proto_version(max_version)
    every_suite = b"ALL:COMPLEMENTOFALL:@SECLEVEL=0"
    ctx.set_cipher_list(every_suite)  # zerotls: ignore[TLS006,TLS007] it probes every suite
    if not tickets:
        ctx.set_options(SSL.OP_NO_TICKET)
    ctx.set_session_cache_mode(SSL.SESS_CACHE_CLIENT)
    ctx.set_ocsp_client_callback(_on_staple, data=None)
    if watch_client_auth:
        from zerotls.tls._ossl import watch_handshake_messages

        watch_handshake_messages(ctx)
    return (yield from _handshake(ctx, server_name, None, after, watch_client_auth))


def _on_staple(conn: Any, data: bytes, _data: object) -> bool:
    if data:
        conn.get_app_data()["staple"] = data
    return True  # judged later, with the chain (audit.certs)


def _handshake(
    ctx: Any,
    server_name: str | None,
    session: Any,
    after: AfterStep | None,
    watch_client_auth: bool = False,
) -> Conversation[HandshakeOutcome]:
    from OpenSSL import SSL

    conn = SSL.Connection(ctx, None)
    seen: list[int] | None = None
    if watch_client_auth:
        from zerotls.tls._ossl import watch

        seen = watch(conn)
    try:
        outcome = yield from _run_handshake(conn, server_name, session, after)
    finally:
        if seen is not None:
            from zerotls.tls._ossl import unwatch

            unwatch(conn)
    if seen is not None:
        outcome.certificate_request = 13 in seen  # RFC 8446 §4.3.2 / RFC 5246 §7.4.4
        outcome.client_ca = _client_ca_names(conn)
    return outcome


def _client_ca_names(conn: Any) -> tuple[str, ...]:
    import warnings

    with warnings.catch_warnings():  # pyOpenSSL's X509Name is deprecated, and the only door
        warnings.simplefilter("ignore")
        names = conn.get_client_ca_list() or []
        out = []
        for name in names:
            parts = [
                f"{k.decode('ascii', 'replace')}={v.decode('utf-8', 'replace')}"
                for k, v in name.get_components()
            ]
            out.append(",".join(reversed(parts)))
    return tuple(out)


def _run_handshake(
    conn: Any, server_name: str | None, session: Any, after: AfterStep | None
) -> Conversation[HandshakeOutcome]:
    from OpenSSL import SSL

    ctx = conn.get_context()
    state: dict[str, bytes] = {}
    conn.set_app_data(state)
    conn.set_connect_state()
    if server_name:
        conn.set_tlsext_host_name(server_name.encode("idna"))
    conn.request_ocsp()
    if session is not None:
        conn.set_session(session)
    try:
        yield from _pump(conn, conn.do_handshake)
    except SSL.Error as exc:
        return HandshakeOutcome(False, error=_ssl_error_text(exc))
    except EOFError:
        return HandshakeOutcome(False, error="connection closed during the handshake")
    except TimeoutError:
        return HandshakeOutcome(False, error="no answer during the handshake (timeout)")
    chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    from cryptography.hazmat.primitives.serialization import Encoding

    outcome = HandshakeOutcome(
        True,
        version=_VERSION_NAMES.get(conn.get_protocol_version_name(), "?"),
        cipher=conn.get_cipher_name(),
        chain=tuple(c.public_bytes(Encoding.DER) for c in chain),
        ocsp_response=state.get("staple"),
        reused=_session_reused(conn),
    )
    if after is not None:
        try:
            outcome.extra = yield from after(conn)
        except SSL.Error as exc:
            outcome.extra = {"error": _ssl_error_text(exc)}
        except (EOFError, TimeoutError) as exc:
            outcome.extra = {"error": str(exc) or type(exc).__name__}
    outcome.session = conn.get_session()
    outcome.context = ctx
    # A clean close_notify: OpenSSL servers drop sessions of connections that end abruptly.
    with contextlib.suppress(SSL.Error):
        conn.shutdown()
        out = _drain(conn)
        if out:
            yield Recv(0, send=out)
    return outcome


def _session_reused(conn: Any) -> bool:
    # pyOpenSSL has no wrapper for SSL_session_reused; zerotls's one door to its cffi has.
    from zerotls.tls._ossl import session_reused

    return session_reused(conn)


_VERSION_NAMES = {
    "TLSv1": "TLS 1.0",
    "TLSv1.1": "TLS 1.1",
    "TLSv1.2": "TLS 1.2",
    "TLSv1.3": "TLS 1.3",
    "SSLv3": "SSLv3",
}


def _ssl_error_text(exc: Exception) -> str:
    parts = [
        str(item[2]) for item in (exc.args[0] if exc.args and isinstance(exc.args[0], list) else [])
    ]
    return "; ".join(p for p in parts if p) or str(exc) or type(exc).__name__


def _pump(
    conn: Any, step: Callable[[], Any], *, wait: float | None = None
) -> Generator[bytes | Recv, bytes | None, Any]:
    """Run ``step`` (do_handshake, recv ...) until it stops wanting to read, moving bytes.

    Raises:
        EOFError: the server closed the connection first.
        TimeoutError: the server stopped answering.
    """
    from OpenSSL import SSL

    while True:
        try:
            result = step()
        except SSL.WantReadError:
            pass
        else:
            out = _drain(conn)
            if out:  # e.g. our TLS 1.3 Finished: nothing has to come back for it
                data = yield Recv(0, send=out)
                if data:
                    conn.bio_write(data)
            return result
        out = _drain(conn)
        data = yield (out if out else Recv(wait))
        if data is None:
            raise TimeoutError("no answer from the server")
        if data == b"":
            raise EOFError("connection closed by the server")
        conn.bio_write(data)


def _drain(conn: Any) -> bytes:
    from OpenSSL import SSL

    out = b""
    while True:
        try:
            chunk = conn.bio_read(65536)
        except SSL.WantReadError:
            return out
        if not chunk:
            return out
        out += chunk


def send_application_data(
    conn: Any, data: bytes, *, limit: int = 65536, wait: float | None = None
) -> Generator[bytes | Recv, bytes | None, bytes]:
    """Write ``data`` over an established engine connection and read the answer (up to
    ``limit`` bytes, until the server closes or stops sending)."""
    from OpenSSL import SSL

    conn.sendall(data)
    received = b""
    pending = _drain(conn)
    while len(received) < limit:
        incoming = yield (pending if pending else Recv(wait))
        pending = b""
        if not incoming:
            break
        conn.bio_write(incoming)
        while True:
            try:
                received += conn.recv(65536)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                return received
        pending = _drain(conn)
    return received


# -- STARTTLS ---------------------------------------------------------------------------------

_POSTGRES_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")


def with_starttls(
    kind: str | None, inner: Conversation[T], *, host: str = "localhost"
) -> Conversation[T]:
    """Speak ``kind``'s STARTTLS dialogue, then hand the connection to ``inner``."""
    if kind is None:
        return (yield from inner)
    if kind == "postgres":
        answer = yield _POSTGRES_SSL_REQUEST
        if answer != b"S":  # §54.2.10 SSLRequest: 'S' yes, 'N' no
            raise ProbeError("the PostgreSQL server refused SSLRequest: it does not offer TLS")
        return (yield from inner)
    steps = _STARTTLS_STEPS.get(kind)
    if steps is None:
        raise ProbeError(f"no STARTTLS dialogue for {kind!r}")
    # (what to send, the status prefix that must start the final line of the answer)
    for send, expect in steps:
        line = yield from _command(send.replace(b"{host}", host.encode("idna")), expect, kind)
        if line is None:
            raise ProbeError(f"the {kind} server did not answer the STARTTLS dialogue in time")
    return (yield from inner)


_STARTTLS_STEPS: dict[str, tuple[tuple[bytes, bytes], ...]] = {
    "smtp": ((b"", b"220 "), (b"EHLO {host}\r\n", b"250 "), (b"STARTTLS\r\n", b"220 ")),
    "submission": ((b"", b"220 "), (b"EHLO {host}\r\n", b"250 "), (b"STARTTLS\r\n", b"220 ")),
    "imap": ((b"", b"* OK"), (b"a1 STARTTLS\r\n", b"a1 OK")),
    "pop3": ((b"", b"+OK"), (b"STLS\r\n", b"+OK")),
    "ftp": ((b"", b"220 "), (b"AUTH TLS\r\n", b"234 ")),
}


def _command(
    send: bytes, expect: bytes, kind: str
) -> Generator[bytes | Recv, bytes | None, bytes | None]:
    """Send a line (or nothing), read lines until one starts with ``expect``."""
    buffer = b""
    data = yield (send if send else Recv())
    while True:
        if data is None:
            return None
        if data == b"":
            raise ProbeError(f"the {kind} server closed the connection during STARTTLS")
        buffer += data
        if len(buffer) > 65536:
            raise ProbeError(f"the {kind} server sent too much during STARTTLS")
        lines = buffer.split(b"\r\n")
        for line in lines[:-1]:
            if line.startswith(expect):
                return line
            final_reply = line[:3].isdigit() and line[3:4] == b" "  # SMTP/FTP: "NNN text"
            if final_reply or line.startswith((b"a1 NO", b"a1 BAD", b"-ERR")):
                text = line.decode(errors="replace")[:120]
                raise ProbeError(f"the {kind} server refused STARTTLS: {text}")
        data = yield Recv()
