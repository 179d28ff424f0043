"""The tunnel's data path: one session per connection, two asyncio protocols per session.

Theory of operation
-------------------
A :class:`Session` joins a *TLS side* (a transport wrapped in a sans-IO
:class:`~zerotls.tls.engine.TLSConnection`) and a *plain side* (a cleartext transport). In
server mode the TLS side is accepted and the plain side dialed to the target once the client
is authenticated and authorized; in client mode the plain side is accepted and the TLS side
dialed to the remote.

Authorization happens inside the handshake: the engine calls :meth:`Session._authorize` with
the verified identity, the session picks the route from the SNI, and ``decide()`` rules. A
denied client gets an alert and never a byte of the target.

Closing follows the bytes:

* a clean end on one side (close_notify, or a FIN on the plain side) is passed on as a clean
  end on the other (half-close), and the session ends when both directions have ended;
* a reset or truncation on one side (EOF without close_notify, RST) is passed on as an abort
  (RST) on the other, never as a clean close that would make a cut stream look complete;
* flow control is symmetric: a side whose write buffer is full pauses reading on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, cast

from zerotls._util import escape_controls, format_address
from zerotls._wire.proxy_protocol import proxy_v2_header
from zerotls.errors import (
    ConnectionBroken,
    HandshakeTimeout,
    PolicyDenied,
    RevocationError,
    TLSAlert,
    ZeroTLSError,
    alert_of,
)
from zerotls.tls.aio import close_with_alert
from zerotls.tls.engine import (
    ConnectionClosed,
    DataReceived,
    HandshakeCompleted,
    TLSConnection,
)
from zerotls.tls.identity import Identity
from zerotls.tunnel.audit import AuditEvent, CloseReason
from zerotls.tunnel.authz import authorize
from zerotls.tunnel.config import normalize_sni, valid_sni

if TYPE_CHECKING:
    from zerotls.tunnel.runtime import ListenerRuntime, Tunnel

__all__ = ["Session"]

log = logging.getLogger("zerotls.tunnel")


# One receive buffer per thread (so per event loop): asyncio reads the socket into it
# (recv_into) and each callback consumes the bytes before returning (the engine copies them
# into its BIO; the plain side hands them to SSL_write or copies what must wait), so no
# 256 KiB bytes object is allocated and freed per read, and idle connections own no buffer.
_RECV_SIZE = 256 * 1024
_local = threading.local()

TICKET_HOLD = 0.02
"""Seconds a server session holds the session tickets back for the first bytes to the client
(so they share its write), before sending them on their own."""


def _recv_buffer() -> memoryview:
    buf: memoryview | None = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = memoryview(bytearray(_RECV_SIZE))
    return buf


class _Side(asyncio.BufferedProtocol):
    """Common pump logic for either side."""

    __slots__ = ("session", "transport", "write_paused")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.transport: asyncio.Transport | None = None
        self.write_paused = False

    def pause_writing(self) -> None:  # our write buffer is full: stop reading the other side
        self.write_paused = True
        other = self.session.other(self)
        if other is not None and other.transport is not None:
            other.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        other = self.session.other(self)
        if other is not None and other.transport is not None and not other.transport.is_closing():
            other.transport.resume_reading()


class TLSSide(_Side):
    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport by asyncio's contract (uvloop's is not a subclass: no isinstance).
        self.transport = cast(asyncio.Transport, transport)
        self.session.tls_connected(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _recv_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.session.on_tls_bytes(_recv_buffer()[:nbytes])

    def eof_received(self) -> bool:
        self.session.on_tls_bytes(b"")
        return True  # keep our write direction open: the other side may still talk

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.on_tls_lost(exc)


class PlainSide(_Side):
    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport by asyncio's contract (uvloop's is not a subclass: no isinstance).
        self.transport = cast(asyncio.Transport, transport)
        self.session.plain_connected(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _recv_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.session.on_plain_bytes(_recv_buffer()[:nbytes])

    def eof_received(self) -> bool:
        self.session.on_plain_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.on_plain_lost(exc)


class Session:
    """One tunnelled connection: its two sides, its decision and its audit event."""

    def __init__(self, tunnel: Tunnel, runtime: ListenerRuntime, *, accepted_tls: bool) -> None:
        self.tunnel = tunnel
        self.runtime = runtime
        self.server_mode = accepted_tls
        self.tls: TLSSide | None = None
        self.plain: PlainSide | None = None
        self.conn: TLSConnection | None = None
        self.route = runtime.config.routes[0] if not accepted_tls else None
        now = time.time()
        self.event = AuditEvent(
            conn_id=os.urandom(6).hex(),
            listener=runtime.config.name,
            mode=runtime.config.mode,
            source="",
            start=now,
        )
        self.started = time.monotonic()
        self.last_activity = self.started
        self.pending: list[bytes] = []  # bytes waiting for the other side to exist
        self.pending_eof = False
        self.tls_in_closed = False  # close_notify received from the TLS peer
        self.plain_in_closed = False  # FIN received from the plain peer
        self.finished = False
        self.tls_bytes_seen = False
        self.identity_key: str | None = None
        self._timer: asyncio.TimerHandle | None = None  # the handshake's, then the hold's
        self.holding = False  # the session tickets wait for the first bytes to the client

    # -- wiring -----------------------------------------------------------------------------

    def other(self, side: _Side) -> _Side | None:
        return self.plain if side is self.tls else self.tls

    def tls_connected(self, side: TLSSide) -> None:
        transport = side.transport
        assert transport is not None  # noqa: S101
        if self.finished:  # client mode: the legacy client left while we dialed
            transport.abort()
            return
        self.tls = side
        if self.server_mode:
            self.event.source = format_address(transport.get_extra_info("peername"))
            if not self.tunnel.admit(self):
                return
            self.conn = self.runtime.context.connection(authorize=self._authorize)
        else:
            route = self.route
            contexts = self.runtime.client_contexts
            assert route is not None  # noqa: S101 - client mode always has its one route
            assert contexts is not None  # noqa: S101
            self.conn = contexts[route.name].connection()
        loop = asyncio.get_running_loop()
        timeout = self.conn.config.handshake_timeout
        self._timer = loop.call_later(timeout, self._handshake_timeout, timeout)
        self._flush_tls()

    def plain_connected(self, side: PlainSide) -> None:
        transport = side.transport
        assert transport is not None  # noqa: S101
        if self.finished:  # the client left while we dialed: do not leave the target open
            transport.abort()
            return
        self.plain = side
        if self.server_mode:
            route = self.route
            if route is not None and route.proxy_protocol:
                transport.write(self._proxy_header())
            if self.pending:
                transport.writelines(self.pending)
                self.pending.clear()
            if self.pending_eof and transport.can_write_eof():
                transport.write_eof()
            if self.tls is not None and self.tls.transport is not None and not side.write_paused:
                self.tls.transport.resume_reading()  # unless the backlog just filled us up
        else:
            self.event.source = format_address(transport.get_extra_info("peername"))
            if not self.tunnel.admit(self):
                return
            transport.pause_reading()  # until the TLS side is up
            route = self.route
            assert route is not None  # noqa: S101
            self.event.route = route.name
            self.event.target = str(route.target)
            self.tunnel.dial_tls(self, route)

    # -- TLS side ------------------------------------------------------------------------------

    def on_tls_bytes(self, data: bytes | memoryview) -> None:
        conn = self.conn
        if conn is None or self.finished:
            return
        self.last_activity = time.monotonic()
        if not data and not self.tls_bytes_seen and self.server_mode:
            # Closed before sending a byte: a TCP health check or port scan, not a failed
            # handshake. Still one audit event (every connection is recorded).
            self.event.error = "closed before sending any TLS data (a TCP probe?)"
            self._close(reason="client_close" if self.server_mode else "backend_close", abort=False)
            return
        self.tls_bytes_seen = True
        try:
            events = conn.receive_data(data)
        except ZeroTLSError as exc:
            # The connection keeps the error: without its traceback (frames that point back
            # at the connection) the session is freed by reference counting, not by the GC.
            exc.__traceback__ = None
            self._tls_failed(exc, peer_gone=not data)
            return
        for event in events:
            if isinstance(event, DataReceived):
                self._to_plain(event.data)
            elif isinstance(event, HandshakeCompleted):
                self._handshake_done(event)
            elif isinstance(event, ConnectionClosed):
                self.tls_in_closed = True
                self._plain_write_eof()
        self._flush_tls()
        self._maybe_finish()

    def _to_plain(self, data: bytes) -> None:
        if self.server_mode:
            self.event.bytes_in += len(data)
        else:
            self.event.bytes_out += len(data)
        plain = self.plain
        if plain is not None and plain.transport is not None:
            plain.transport.write(data)
        else:
            self.pending.append(data)

    def _plain_write_eof(self) -> None:
        plain = self.plain
        if plain is not None and plain.transport is not None:
            if plain.transport.can_write_eof() and not plain.transport.is_closing():
                plain.transport.write_eof()
        else:
            self.pending_eof = True

    def _flush_tls(self, *, release: bool = False) -> None:
        if self.holding:
            if not release:
                return
            self.holding = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        conn, tls = self.conn, self.tls
        if conn is None or tls is None or tls.transport is None:
            return
        out = conn.data_to_send()
        if out and not tls.transport.is_closing():
            tls.transport.write(out)

    def _handshake_done(self, hs: HandshakeCompleted) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        ev = self.event
        ev.identity = hs.identity
        ev.tls_version, ev.cipher, ev.group = hs.tls_version, hs.cipher, hs.group
        ev.alpn, ev.resumed = hs.alpn, hs.resumed
        if self.server_mode:
            if ev.decision is None:
                # Only reachable without a client certificate (require_client_cert = false):
                # the policy still decides, with no identity. (A resumed session was
                # re-authorized by the engine on the certificate its ticket remembers.)
                refusal = self._authorize(hs.identity)
                if refusal is not None:
                    self._close(reason="denied", abort=True)
                    return
            route = self.route
            assert route is not None  # noqa: S101 - set by _authorize
            assert self.tls is not None  # noqa: S101
            # What the handshake left to send is the session tickets: they go out with the
            # first bytes to the client (the target's answer, close_notify or an alert), one
            # write and one wake-up of the client fewer per connection, or after
            # TICKET_HOLD if nothing comes first.
            self.holding = True
            self._timer = asyncio.get_running_loop().call_later(TICKET_HOLD, self._release_held)
            tls_transport = self.tls.transport
            if tls_transport is not None:
                tls_transport.pause_reading()  # until the target answers
            self.tunnel.dial_plain(self, route)
        else:
            conn = self.conn
            assert conn is not None  # noqa: S101
            for chunk in self.pending:  # what the legacy client sent while we dialed
                self.event.bytes_in += len(chunk)
                conn.send(chunk)
            self.pending.clear()
            if self.plain_in_closed:
                conn.close()
            self._flush_tls()
            plain = self.plain
            tls_paused = self.tls is not None and self.tls.write_paused
            if plain is not None and plain.transport is not None and not tls_paused:
                plain.transport.resume_reading()

    def _release_held(self) -> None:
        self._timer = None
        if not self.finished:
            self._flush_tls(release=True)

    def _authorize(self, identity: Identity | None) -> ZeroTLSError | None:
        """Inside the handshake: pick the route by SNI and ask the policy."""
        conn = self.conn
        assert conn is not None  # noqa: S101
        ev = self.event
        ev.identity = identity  # recorded for denials too: who was refused matters most
        sni = conn.server_name
        if sni is not None and not valid_sni(sni):
            ev.sni = escape_controls(sni)[:255]
            ev.decision = "deny"
            ev.reason = f"the SNI {ev.sni!r} is not a DNS host name (RFC 6066 §3)"
            return PolicyDenied(ev.reason)
        ev.sni = normalize_sni(sni) if sni is not None else None
        route = self.runtime.config.route_for(ev.sni)
        if route is None:
            ev.decision, ev.reason = "deny", f"no route for SNI {ev.sni!r}"
            return PolicyDenied(ev.reason)
        self.route = route
        ev.route, ev.target = route.name, str(route.target)
        ev.revocation = conn.revocation
        verdict = authorize(
            identity,
            route=route.name,
            policy=route.policy,
            listener=self.runtime.config.name,
            source=ev.source.rsplit(":", 1)[0].strip("[]"),
            sni=ev.sni,
            alpn=conn.alpn_protocol,
            revocation=conn.revocation_verdict,
            require_known_revocation=route.revocation == "hard",
            limits=self.tunnel.identity_limits,
        )
        ev.decision, ev.rule, ev.reason = verdict.decision, verdict.rule, verdict.reason
        self.identity_key = verdict.identity_key
        return verdict.error

    def _tls_failed(self, exc: ZeroTLSError, *, peer_gone: bool = False) -> None:
        ev = self.event
        conn = self.conn
        if not (peer_gone and conn is not None and conn.handshake is not None):
            # The alert: the peer learns why. Not after the handshake when the peer closed
            # its side (a truncated stream): the connection is reset, nobody reads it.
            self._flush_tls(release=True)
        # The peer's alert wins; else the one we sent (or "timeout"), unless one is recorded.
        ev.alert = alert_of(exc) if isinstance(exc, TLSAlert) else ev.alert or alert_of(exc)
        if isinstance(exc, RevocationError) and ev.revocation is None:
            ev.revocation = f"revoked ({exc.reason})" if exc.reason else "unknown, refused"
        ev.error = str(exc)
        if conn is not None and conn.handshake is None:
            ev.resumed = conn.resumed
            if ev.identity is None:  # refused on re-check: who it was matters most
                ev.identity = conn.resumed_identity
            reason: CloseReason = "denied" if isinstance(exc, PolicyDenied) else "handshake_failed"
            if reason == "handshake_failed":
                self.tunnel.handshake_failed(self, exc)
            self._close(reason=reason, abort=False, half_close=True)
            return
        # After the handshake: truncation or a broken record. Pass it on as an abort.
        self._close(reason="client_reset" if self.server_mode else "backend_reset", abort=True)

    def on_tls_lost(self, exc: Exception | None) -> None:
        if self.finished:
            return
        if (
            self.conn is not None
            and self.conn.handshake is None
            and self.event.close_reason is None
            and self.tls_bytes_seen
        ):
            self.event.error = self.event.error or "connection lost during the handshake"
            self.tunnel.handshake_failed(self, ConnectionBroken(self.event.error))
            self._close(reason="handshake_failed", abort=True)
            return
        clean = (self.tls_in_closed or not self.tls_bytes_seen) and exc is None
        if not clean:
            self._close(reason="client_reset" if self.server_mode else "backend_reset", abort=True)
        else:
            self._close(reason="client_close" if self.server_mode else "backend_close", abort=False)

    def _handshake_timeout(self, timeout: float) -> None:
        self._timer = None
        if self.conn is not None and self.conn.handshake is None and not self.finished:
            exc = HandshakeTimeout(f"no TLS handshake within {timeout:g} s")
            self.event.error = str(exc)
            self.tunnel.handshake_failed(self, exc)
            self._close(reason="timeout", abort=True)

    # -- plain side ----------------------------------------------------------------------------

    def on_plain_bytes(self, data: bytes | memoryview) -> None:
        conn = self.conn
        if self.finished:
            return
        self.last_activity = time.monotonic()
        if conn is None or conn.handshake is None:
            self.pending.append(bytes(data))  # client mode, before the remote is ready (a copy:
            # data lives in the shared receive buffer)
            return
        if self.server_mode:
            self.event.bytes_out += len(data)
        else:
            self.event.bytes_in += len(data)
        try:
            conn.send(data)
        except ZeroTLSError as exc:
            self.event.error = str(exc)
            self._close(reason="error", abort=True)
            return
        self._flush_tls(release=True)

    def on_plain_eof(self) -> None:
        self.plain_in_closed = True
        conn = self.conn
        if conn is not None and conn.handshake is not None and conn.error is None:
            conn.close()  # close_notify: our direction is done, the peer may still send
            self._flush_tls(release=True)
        self._maybe_finish()

    def on_plain_lost(self, exc: Exception | None) -> None:
        if self.finished:
            return
        if exc is not None or not self.plain_in_closed:
            reason: CloseReason = "backend_reset" if self.server_mode else "client_reset"
            self._close(reason=reason, abort=True)
        else:
            self._close(reason="backend_close" if self.server_mode else "client_close", abort=False)

    def plain_connect_failed(self, exc: OSError | TimeoutError) -> None:
        self.event.error = f"cannot reach {self.event.target}: {exc}"
        if isinstance(exc, OSError) and exc.errno in (23, 24):  # ENFILE, EMFILE: ours
            self.tunnel.report_fd_exhausted(str(exc.strerror))
            self._close(reason="limit", abort=True)
            return
        self.tunnel.metrics.inc(
            "zerotls_backend_errors_total",
            self.event.listener,
            self.event.route or "",
            "unreachable",
        )
        log.warning("%s: %s", self.event.conn_id, self.event.error)
        self._close(reason="backend_unreachable", abort=True)

    def tls_connect_failed(self, exc: OSError | TimeoutError) -> None:
        self.event.error = f"cannot reach {self.event.target}: {exc}"
        log.warning("%s: %s", self.event.conn_id, self.event.error)
        self._close(reason="backend_unreachable", abort=True)

    # -- ending ----------------------------------------------------------------------------------

    def _maybe_finish(self) -> None:
        conn = self.conn
        if conn is None or self.finished:
            return
        if self.tls_in_closed and self.plain_in_closed:
            reason: CloseReason = "client_close" if self.server_mode else "backend_close"
            self._close(reason=reason, abort=False)

    def end(self, *, reason: CloseReason, abort: bool) -> None:
        """End the session from outside (the tunnel refusing it at accept, or shutting
        down): ``abort`` resets both sides instead of closing them cleanly."""
        self._close(reason=reason, abort=abort)

    def _close(self, *, reason: CloseReason, abort: bool, half_close: bool = False) -> None:
        if self.finished:
            return
        self.finished = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.event.close_reason = reason
        tls = self.tls.transport if self.tls is not None else None
        plain = self.plain.transport if self.plain is not None else None
        if half_close:
            # A refusal: the TLS peer gets its alert (already written), then a FIN, then the
            # close; a legacy client in client mode gets an abort, not a clean empty close.
            if tls is not None:
                close_with_alert(tls)
            if plain is not None and not plain.is_closing():
                _reset(plain)
        else:
            for transport in (tls, plain):
                if transport is None or transport.is_closing():
                    continue
                if abort:
                    _reset(transport)
                else:
                    transport.close()
        self.tunnel.session_finished(self)
        # The sides and the engine's authorize callback point back at the session. Unlinked
        # here, the session is freed by reference counting once its transports let go of
        # their sides, not by the cyclic GC (which otherwise held every finished session, its
        # OpenSSL connection and both transports until a collection found them).
        self.tls = self.plain = None
        self.conn = None

    def _proxy_header(self) -> bytes:
        tls = self.tls
        transport = tls.transport if tls is not None else None
        peer = transport.get_extra_info("peername") if transport is not None else None
        local = transport.get_extra_info("sockname") if transport is not None else None
        return proxy_v2_header(peer, local, self.event)

    def idle_check(self, now: float, idle: float, lifetime: float | None) -> None:
        if self.finished:
            return
        if now - self.last_activity > idle:
            # A reset, not a FIN: neither side may take the cut for a complete stream.
            self.event.error = f"idle for more than {idle:g} s"
            self._close(reason="timeout", abort=True)
        elif lifetime is not None and now - self.started > lifetime:
            self.event.error = f"connection older than max_lifetime {lifetime:g} s"
            self._close(reason="lifetime", abort=True)

    def shutdown(self) -> None:
        self.event.error = "tunnel shutting down"
        self._close(reason="shutdown", abort=True)


def _reset(transport: asyncio.Transport) -> None:
    """Abort with a TCP RST (SO_LINGER 0), so the peer sees a reset, never a clean FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


_LINGER_RESET = struct.pack("ii", 1, 0)
