"""asyncio streams over the sans-IO engine: a thin pump, nothing more.

``open_connection`` and ``start_server`` mirror :mod:`asyncio`'s functions of the same names,
but return one :class:`TLSStream` per connection that also tells who the peer is
(``stream.identity``) and what was negotiated. The protocol class only moves bytes between the
transport and a :class:`~zerotls.tls.engine.TLSConnection` and turns engine errors into stream
exceptions. A refused peer always receives its alert: the engine's pending bytes are written
and the write side half-closed before the transport is closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from zerotls._util import format_address
from zerotls.errors import (
    ConnectionBroken,
    HandshakeTimeout,
    LocalProtocolError,
    TransportError,
    ZeroTLSError,
)
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.context import TLSContext
from zerotls.tls.engine import (
    ConnectionClosed,
    DataReceived,
    HandshakeCompleted,
    Negotiated,
    TLSConnection,
)

__all__ = ["TLSServer", "TLSStream", "close_with_alert", "open_connection", "start_server"]

log = logging.getLogger("zerotls.tls")

_READ_LIMIT = 256 * 1024  # pause the socket when this much plaintext waits unread

HandshakeFailureHook = Callable[[ZeroTLSError, Any], None]


def close_with_alert(transport: asyncio.Transport, alert: bytes = b"") -> None:
    """Refuse a peer so that it learns why: write our alert, half-close (FIN), then close.

    asyncio's own TLS transport drops the alert when it aborts a handshake (CPython
    gh-98078), which leaves the peer with a silent close; every refusal of ours ends here.
    """
    if transport.is_closing():
        return
    try:
        if alert:
            transport.write(alert)
        if transport.can_write_eof():
            transport.write_eof()
    except OSError:
        pass  # the peer is already gone; nothing left to tell it
    transport.close()  # flushes what is buffered, then closes


class _TLSProtocol(asyncio.Protocol):
    """Pumps bytes between an asyncio transport and a TLSConnection."""

    def __init__(self, conn: TLSConnection, timeout: float) -> None:
        self.conn = conn
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.reader = asyncio.StreamReader(limit=_READ_LIMIT)
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future[HandshakeCompleted] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._lost = False
        self.peername: Any = None

    # -- transport callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - asyncio contract
        self.transport = transport
        self.peername = transport.get_extra_info("peername")
        self.reader.set_transport(transport)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.timeout, self._handshake_timed_out)
        self._flush()  # the ClientHello, for a client

    def data_received(self, data: bytes) -> None:
        self._feed(data)

    def eof_received(self) -> bool:
        self._feed(b"")
        # After a clean close_notify + FIN we may still answer (TLS 1.3 half-close): keep
        # the transport open for writing until we close too. Otherwise let it close.
        return self.conn.peer_closed and not self.conn.local_closed and self.conn.error is None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if not self.closed.done():
            self.closed.set_result(None)
        self._cancel_timer()
        if not self.handshake.done():
            error = self.conn.error or ConnectionBroken(
                "the connection was lost during the handshake" + (f" ({exc})" if exc else "")
            )
            self.handshake.set_exception(error)
            self.handshake.exception()  # mark retrieved: the server path may not await it
        elif not self.conn.peer_closed and self.conn.error is None and exc is not None:
            self.reader.set_exception(ConnectionBroken(f"connection lost: {exc}"))
        elif not self.conn.peer_closed and self.conn.error is None:
            self.reader.feed_eof()
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionBroken("connection lost while writing"))
        self._drain_waiters.clear()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    # -- pump ---------------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except ZeroTLSError as exc:
            self._fail(exc)
            return
        for event in events:
            if isinstance(event, DataReceived):
                self.reader.feed_data(event.data)
            elif isinstance(event, HandshakeCompleted):
                self._cancel_timer()
                if not self.handshake.done():
                    self.handshake.set_result(event)
            elif isinstance(event, ConnectionClosed):
                self.reader.feed_eof()
        self._flush()

    def _flush(self) -> None:
        out = self.conn.data_to_send()
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out)

    def _fail(self, exc: ZeroTLSError) -> None:
        """Send our alert, half-close, then close: the peer learns why."""
        self._cancel_timer()
        self.conn.abort(exc)
        if not self.handshake.done():
            self.handshake.set_exception(exc)
            self.handshake.exception()  # retrieved: the server path logs it instead
        else:
            self.reader.set_exception(exc)
        if self.transport is not None:
            close_with_alert(self.transport, self.conn.data_to_send())

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if not self.handshake.done():
            self._fail(
                HandshakeTimeout(
                    f"the TLS handshake did not complete within {self.timeout:g} s "
                    f"(peer {self.peername}); raise handshake_timeout if the network is slow"
                )
            )

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- used by TLSStream ----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is None or self._lost or self.transport.is_closing():
            raise ConnectionBroken("cannot write: the connection is closed")
        self.conn.send(data)
        self._flush()

    async def drain(self) -> None:
        if self._lost:
            raise ConnectionBroken("cannot write: the connection was lost")
        if not self._paused:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def close_notify(self) -> None:
        self.conn.close()
        self._flush()

    def close(self) -> None:
        if not self.conn.local_closed and self.conn.error is None:
            self.close_notify()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class TLSStream(Negotiated):
    """A verified TLS connection: read, write, and who is on the other side.

    Reads raise the specific error that broke the stream (a :class:`~zerotls.errors.TLSAlert`,
    :class:`~zerotls.errors.ConnectionBroken` for a truncated stream ...) and return ``b""``
    only after the peer's close_notify.
    """

    def __init__(self, protocol: _TLSProtocol, handshake: HandshakeCompleted) -> None:
        self._protocol = protocol
        self.handshake = handshake
        self._reader = protocol.reader

    @property
    def peername(self) -> Any:
        """The transport address of the peer (informational: never proof of identity)."""
        return self._protocol.peername

    # reading
    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all until close if -1); ``b""`` after the peer's close_notify."""
        return await self._reader.read(n)

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes; ``ConnectionBroken`` if the stream ends first."""
        try:
            return await self._reader.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionBroken(f"stream ended after {len(exc.partial)} of {n} bytes") from None

    async def readline(self) -> bytes:
        return await self._reader.readline()

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        try:
            return await self._reader.readuntil(separator)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionBroken("stream ended before the separator") from exc
        except asyncio.LimitOverrunError as exc:
            raise LocalProtocolError(f"no separator within {_READ_LIMIT} bytes") from exc

    def at_eof(self) -> bool:
        return self._reader.at_eof()

    # writing
    def write(self, data: bytes) -> None:
        """Encrypt and queue ``data``; follow with ``await drain()``."""
        self._protocol.write(data)

    async def drain(self) -> None:
        await self._protocol.drain()

    async def send(self, data: bytes) -> None:
        """``write`` then ``drain``."""
        self.write(data)
        await self.drain()

    def write_eof(self) -> None:
        """Send close_notify: we are done sending, the peer may still send (TLS 1.3)."""
        self._protocol.close_notify()

    # closing
    def close(self) -> None:
        """Send close_notify (if not yet sent) and close the transport."""
        self._protocol.close()

    def is_closing(self) -> bool:
        t = self._protocol.transport
        return t is None or t.is_closing()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._protocol.closed)
        await asyncio.sleep(0)  # let the transport's own close callbacks run first

    async def aclose(self) -> None:
        self.close()
        await self.wait_closed()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def open_connection(
    host: str,
    port: int,
    config: ClientConfig | TLSContext,
    **kwargs: Any,
) -> TLSStream:
    """Connect, complete a verified TLS handshake, and return the stream.

    Args:
        host: where to connect (the name checked on the certificate is ``config.server_name``
            or ``config.expect_identity``, never this address).
        port: TCP port.
        config: a :class:`ClientConfig` (or a prebuilt :class:`TLSContext` to reuse).
        **kwargs: passed to ``loop.create_connection`` (e.g. ``local_addr``).

    Raises:
        VerificationError: the server's chain, name, pin or identity was refused.
        TLSAlert: the server refused us (e.g. ``certificate_required``).
        HandshakeTimeout: no handshake within ``handshake_timeout``.
        TransportError: the TCP connection failed.
    """
    ctx = TLSContext.of(config)
    if ctx.is_server:
        raise LocalProtocolError("open_connection needs a ClientConfig, not a ServerConfig")
    loop = asyncio.get_running_loop()
    protocol = _TLSProtocol(ctx.connection(), ctx.config.handshake_timeout)
    try:
        await loop.create_connection(lambda: protocol, host, port, **kwargs)
    except OSError as exc:
        raise TransportError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    handshake = await protocol.handshake
    return TLSStream(protocol, handshake)


Handler = Callable[[TLSStream], Awaitable[None]]


class TLSServer:
    """A listening TLS server. Use as an async context manager or call :meth:`close`."""

    def __init__(self, server: asyncio.Server, context: TLSContext) -> None:
        self._server = server
        self.context = context
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self._server.sockets)

    @property
    def port(self) -> int:
        """The first listening socket's port (handy after binding port 0)."""
        return int(self._server.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        await self._server.serve_forever()

    def close(self) -> None:
        """Stop accepting new connections."""
        self._server.close()

    async def wait_closed(self) -> None:
        await self._server.wait_closed()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
        for task in list(self._tasks):
            task.cancel()
        await self.wait_closed()


async def start_server(
    handler: Handler,
    host: str | None,
    port: int,
    config: ServerConfig | TLSContext,
    *,
    on_handshake_failure: HandshakeFailureHook | None = None,
    **kwargs: Any,
) -> TLSServer:
    """Listen, and call ``await handler(stream)`` for each client that passes every check.

    Clients that fail the handshake never reach ``handler``: they receive their alert, the
    failure is logged on the ``zerotls.tls`` logger with the reason, and
    ``on_handshake_failure(error, peername)`` is called if given.

    Args:
        handler: coroutine taking a :class:`TLSStream`; the stream is closed when it returns.
        host: address to bind (``"127.0.0.1"``, ``"::1"``, None for all).
        port: TCP port (0 picks a free one: read :attr:`TLSServer.port`).
        config: a :class:`ServerConfig` (or a prebuilt :class:`TLSContext`).
        on_handshake_failure: called with the error and the peer address of each refusal.
        **kwargs: passed to ``loop.create_server`` (``reuse_port``, ``backlog`` ...).
    """
    ctx = TLSContext.of(config)
    if not ctx.is_server:
        raise LocalProtocolError("start_server needs a ServerConfig, not a ClientConfig")
    loop = asyncio.get_running_loop()
    holder: list[TLSServer] = []

    def factory() -> _TLSProtocol:
        protocol = _TLSProtocol(ctx.connection(), ctx.config.handshake_timeout)
        task = loop.create_task(_serve_one(protocol, handler, on_handshake_failure))
        holder[0]._tasks.add(task)
        task.add_done_callback(holder[0]._tasks.discard)
        return protocol

    try:
        server = await loop.create_server(factory, host, port, **kwargs)
    except OSError as exc:
        raise TransportError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    tls_server = TLSServer(server, ctx)
    holder.append(tls_server)
    return tls_server


async def _serve_one(
    protocol: _TLSProtocol, handler: Handler, on_failure: HandshakeFailureHook | None
) -> None:
    try:
        handshake = await protocol.handshake
    except ZeroTLSError as exc:
        log.warning("refused TLS client %s: %s", format_address(protocol.peername), exc)
        if on_failure is not None:
            on_failure(exc, protocol.peername)
        return
    stream = TLSStream(protocol, handshake)
    try:
        await handler(stream)
    except ZeroTLSError as exc:
        # The stream broke (or the handler gave up on it): abort, never a close_notify that
        # would tell the peer the conversation ended normally.
        log.info("connection from %s ended: %s", format_address(protocol.peername), exc)
        _abort(protocol)
        return
    except Exception:
        log.exception("handler failed for %s", format_address(protocol.peername))
        _abort(protocol)
        return
    except BaseException:  # cancelled (server closing): do not leave the socket open
        _abort(protocol)
        raise
    stream.close()


def _abort(protocol: _TLSProtocol) -> None:
    if protocol.transport is not None and not protocol.transport.is_closing():
        protocol.transport.abort()
