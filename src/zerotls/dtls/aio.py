"""asyncio DTLS: ``await open_association(...)`` to a DTLS service, ``await start_server(...)``
for one. Thin pumps around the sans-IO :class:`~zerotls.dtls.connection.DTLSConnection`.

The names say what they are: a coroutine that opens one association with one peer (the
blocking ``zerotls.connect`` is TLS over TCP), and a server object, like ``asyncio``'s.

A :class:`DTLSAssociation` is one association: ``send(message)`` (one datagram each way),
``await recv()``, ``identity`` and the rest of :class:`~zerotls.tls.engine.Negotiated`,
``close()``. The server demultiplexes peers by source address, hands each a fresh association
once its handshake has passed every check, drops peers idle for ``idle_timeout`` and refuses
new ones beyond ``max_peers``. New addresses go through the stateless cookie exchange first,
so a flood of spoofed ClientHellos allocates nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from zerotls.dtls.connection import DTLSConnection, DTLSListener, DTLSOptions
from zerotls.errors import (
    ConfigError,
    ConnectionBroken,
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
)
from zerotls.tls.identity import Identity

__all__ = ["DTLSAssociation", "DTLSServer", "open_association", "start_server"]

log = logging.getLogger("zerotls.dtls")

Address = tuple[str, int]
PeerAuthorizer = Callable[[Identity | None, Address], "ZeroTLSError | None"]
"""Called inside the handshake with the peer's verified identity and address; return an error
to refuse it (a :class:`~zerotls.errors.PolicyDenied` is sent as ``certificate_unknown``)."""
HandshakeFailureHook = Callable[[ZeroTLSError, Address], None]
_MAX_QUEUE = 1024  # received messages waiting for recv(); beyond that they are dropped


class DTLSAssociation(Negotiated):
    """One DTLS association (client or server side)."""

    def __init__(
        self,
        conn: DTLSConnection,
        send: Callable[[bytes], None],
        peer: Address,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.conn = conn
        self.peer = peer
        """The peer's address."""
        self._send = send
        self._loop = loop
        self._inbox: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._handshake_done: asyncio.Future[None] = loop.create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.last_activity = loop.time()
        self.datagrams_in = 0
        self.datagrams_out = 0
        self.bytes_in = 0
        """Application bytes received."""
        self.bytes_out = 0
        """Application bytes sent."""
        self.dropped = 0
        """Messages dropped because nobody read them (the inbox was full)."""
        self.garbage = 0
        """Datagrams from this peer's address that were not DTLS at all (dropped)."""
        self.on_handshake: Callable[[DTLSAssociation], None] | None = None
        self.on_finished: Callable[[DTLSAssociation, ZeroTLSError | None], None] | None = None
        self.on_data: Callable[[bytes], None] | None = None
        """If set, each message goes here as it arrives instead of to :meth:`recv` (a relay
        that forwards datagrams needs no task switch per message)."""
        self._closed_future: asyncio.Future[None] = loop.create_future()

    # -- the application side --------------------------------------------------------------

    def send(self, message: bytes | bytearray | memoryview) -> None:
        """Send one message as one datagram (no waiting: UDP has no flow control).

        Raises:
            LocalProtocolError: the message does not fit one datagram, or we closed.
            ZeroTLSError: the association failed earlier.
        """
        if self._closed:
            raise LocalProtocolError("cannot send on a closed DTLS endpoint")
        self.conn.send(message)
        self.bytes_out += len(message)
        self.last_activity = self._loop.time()
        self._flush()

    async def recv(self) -> bytes:
        """The next message; ``b""`` once the peer closed (close_notify) or we did.

        Raises:
            ZeroTLSError: the association failed (the error says why).
        """
        while not self._inbox:
            if self.conn.error is not None:
                raise ConnectionBroken(f"DTLS association failed: {self.conn.error}") from (
                    self.conn.error
                )
            if self._closed or self.conn.peer_closed:
                return b""
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._inbox.popleft()

    def close(self) -> None:
        """Send close_notify and stop (idempotent)."""
        if self._closed:
            return
        self.conn.close()
        self._flush()
        self._finish(None)

    @property
    def closed(self) -> bool:
        return self._closed

    def deliver_to(self, callback: Callable[[bytes], None]) -> None:
        """From now on hand each message to ``callback`` as it arrives (instead of
        :meth:`recv`); messages already waiting go first, in order."""
        while self._inbox:
            callback(self._inbox.popleft())
        self.on_data = callback

    async def wait_handshake(self) -> None:
        await self._handshake_done

    async def wait_closed(self) -> None:
        """Until the association ends (either side closed, failed, or timed out)."""
        await asyncio.shield(self._closed_future)

    # -- the network side ------------------------------------------------------------------

    def datagram_received(self, data: bytes) -> None:
        if self._closed:
            return
        if len(data) < 13 or data[1] != 0xFE or not 20 <= data[0] <= 25:
            self.garbage += 1  # not a DTLS record at all: dropped before any TLS code
            return
        self.last_activity = self._loop.time()
        self.datagrams_in += 1
        try:
            self.conn.receive_datagram(data, self._loop.time())
        except ZeroTLSError as exc:
            self._flush()  # the alert
            self._finish(exc)
            return
        self._drain_events()
        self._flush()

    def error_received(self, exc: OSError) -> None:
        if not self.conn.handshake and not self._closed:
            self._finish(
                ConnectionBroken(
                    f"the peer {self.peer[0]}:{self.peer[1]} is not reachable over UDP "
                    f"({exc.strerror or exc}): nothing listens there, or a firewall refuses"
                )
            )

    def _drain_events(self) -> None:
        woke = False
        while (event := self.conn.next_event()) is not None:
            if isinstance(event, HandshakeCompleted):
                self.handshake = event
                if not self._handshake_done.done():
                    self._handshake_done.set_result(None)
                if self.on_handshake is not None:
                    self.on_handshake(self)
            elif isinstance(event, DataReceived):
                self.bytes_in += len(event.data)
                if self.on_data is not None:
                    self.on_data(event.data)
                elif len(self._inbox) >= _MAX_QUEUE:
                    self.dropped += 1
                else:
                    self._inbox.append(event.data)
                    woke = True
            elif isinstance(event, ConnectionClosed):
                self.conn.close()  # answer the close_notify
                self._flush()
                self._finish(None)
                return
        if woke:
            self._wake()

    def _flush(self) -> None:
        conn = self.conn
        for datagram in conn.datagrams_to_send(self._loop.time()):
            self.datagrams_out += 1
            self._send(datagram)
        if self._timer is not None or conn.get_timer() is not None:
            self._arm_timer()  # only while a handshake flight awaits its answer

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.conn.get_timer()
        if when is not None and not self._closed:
            self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self.conn.handle_timer(self._loop.time())
        except ZeroTLSError as exc:
            self._finish(exc)
            return
        self._flush()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _finish(self, error: ZeroTLSError | None) -> None:
        if self._closed:
            return
        self._closed = True
        # The receiver's callback is often a closure over whatever owns this association:
        # dropped, so the two do not stay in a cycle until the GC finds them.
        self.on_data = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._handshake_done.done():
            if error is None:
                error = ConnectionBroken("the DTLS association ended during the handshake")
            self._handshake_done.set_exception(error)
            self._handshake_done.exception()  # retrieved: the caller may never await it
        self._wake()
        if not self._closed_future.done():
            self._closed_future.set_result(None)
        if self.on_finished is not None:
            self.on_finished(self, error)


# -- client ------------------------------------------------------------------------------------


class _ClientProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.endpoint: DTLSAssociation | None = None

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.endpoint is not None:
            self.endpoint.datagram_received(data)

    def error_received(self, exc: Exception) -> None:
        if self.endpoint is not None and isinstance(exc, OSError):
            self.endpoint.error_received(exc)


async def open_association(
    host: str,
    port: int,
    config: ClientConfig | TLSContext,
    *,
    options: DTLSOptions | None = None,
) -> DTLSAssociation:
    """Open a DTLS association to ``host:port`` and complete its handshake.

    Raises:
        ZeroTLSError: the server was refused (name, identity, pins, revocation), refused us,
            or did not answer within ``options.handshake_timeout`` (``HandshakeTimeout``).
    """
    options = options or DTLSOptions()
    context = _context(config, ClientConfig)
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            _ClientProtocol, remote_addr=(host, port)
        )
    except OSError as exc:
        raise TransportError(f"cannot open a UDP socket to {host}:{port}: {exc}") from None
    conn = DTLSConnection(context, options=options, now=loop.time())
    endpoint = DTLSAssociation(conn, transport.sendto, (host, port), loop)

    def finished(_ep: DTLSAssociation, _error: ZeroTLSError | None) -> None:
        loop.call_soon(transport.close)  # after the last datagram (close_notify) is out

    endpoint.on_finished = finished
    protocol.endpoint = endpoint
    endpoint._flush()
    try:
        await endpoint.wait_handshake()
    except BaseException:
        endpoint._finish(None)
        transport.close()
        raise
    return endpoint


def _context(config: ClientConfig | ServerConfig | TLSContext, kind: type) -> TLSContext:
    if isinstance(config, TLSContext):
        if not config.datagram:
            raise ConfigError("pass the config, or a TLSContext built with datagram=True")
        return config
    if not isinstance(config, kind):
        raise ConfigError(f"expected a {kind.__name__}, got {type(config).__name__}")
    return TLSContext(config, datagram=True)


# -- server ------------------------------------------------------------------------------------

Handler = Callable[[DTLSAssociation], Awaitable[None]]


class DTLSServer:
    """A DTLS service on one UDP socket. Use as ``async with`` or call :meth:`close`."""

    def __init__(
        self,
        handler: Handler,
        context: TLSContext,
        options: DTLSOptions,
        *,
        max_peers: int,
        idle_timeout: float,
        authorize: PeerAuthorizer | None,
        on_handshake_failure: HandshakeFailureHook | None,
    ) -> None:
        self.handler = handler
        self.context = context
        self.options = options
        self.listener = DTLSListener(context, options)
        self.max_peers = max_peers
        self.idle_timeout = idle_timeout
        self.authorize = authorize
        self.on_handshake_failure = on_handshake_failure
        self.peers: dict[Address, DTLSAssociation] = {}
        """Associations, by peer address (handshaking or open)."""
        self.accepting = True
        """False while draining: datagrams from new addresses are ignored."""
        self.refused_full = 0
        """New peers turned away because ``max_peers`` were connected."""
        self.on_peer_finished: Callable[[DTLSAssociation, ZeroTLSError | None], None] | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    @property
    def garbage(self) -> int:
        """Datagrams that were not DTLS at all, from new or known addresses (dropped)."""
        return self.listener.dropped + sum(e.garbage for e in self.peers.values())

    @property
    def transport(self) -> asyncio.DatagramTransport | None:
        """The UDP socket's transport (None once closed)."""
        return self._transport

    @property
    def address(self) -> Address:
        assert self._transport is not None  # noqa: S101
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        transport = self._transport
        if transport is None:
            return
        endpoint = self.peers.get(addr)
        if endpoint is not None:
            endpoint.datagram_received(data)
            return
        if not self.accepting:  # draining: the peers we have go on, nobody new
            return
        if len(self.peers) >= self.max_peers:
            self.refused_full += 1
            return
        now = self._loop.time()
        authorize = None
        if self.authorize is not None:
            peer_authorize = self.authorize

            def authorize(identity: Identity) -> ZeroTLSError | None:
                return peer_authorize(identity, addr)

        admission = self.listener.receive_untrusted(data, addr, now, authorize=authorize)
        reply, conn = admission.datagrams, admission.connection
        if conn is None:
            for datagram in reply:
                transport.sendto(datagram, addr)
            if admission.refusal is not None:
                log.info("DTLS handshake with %s:%s failed: %s", *addr, admission.refusal)
                if self.on_handshake_failure is not None:
                    self.on_handshake_failure(admission.refusal, addr)
            return
        endpoint = DTLSAssociation(conn, lambda d: transport.sendto(d, addr), addr, self._loop)
        endpoint.datagrams_in = 1
        endpoint.on_handshake = self._handshake_done
        endpoint.on_finished = self._finished
        self.peers[addr] = endpoint
        for datagram in reply:
            endpoint.datagrams_out += 1
            transport.sendto(datagram, addr)
        endpoint._arm_timer()

    def _handshake_done(self, endpoint: DTLSAssociation) -> None:
        task = self._loop.create_task(self._run(endpoint))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, endpoint: DTLSAssociation) -> None:
        try:
            await self.handler(endpoint)
        except ZeroTLSError as exc:
            log.info("DTLS peer %s:%s: %s", endpoint.peer[0], endpoint.peer[1], exc)
        except Exception:
            log.exception("DTLS handler failed for %s:%s", *endpoint.peer)
        finally:
            endpoint.close()

    def _finished(self, endpoint: DTLSAssociation, error: ZeroTLSError | None) -> None:
        if self.peers.get(endpoint.peer) is endpoint:
            del self.peers[endpoint.peer]
        if error is not None and endpoint.conn.handshake is None:
            log.info("DTLS handshake with %s:%s failed: %s", *endpoint.peer, error)
            if self.on_handshake_failure is not None:
                self.on_handshake_failure(error, endpoint.peer)
        if self.on_peer_finished is not None:
            self.on_peer_finished(endpoint, error)

    async def _sweep(self) -> None:
        period = max(0.05, min(self.idle_timeout / 4, 5.0))
        while True:
            await asyncio.sleep(period)
            deadline = self._loop.time() - self.idle_timeout
            for endpoint in [e for e in self.peers.values() if e.last_activity < deadline]:
                endpoint.close()

    def close(self) -> None:
        """Send close_notify to every peer and stop listening."""
        for endpoint in list(self.peers.values()):
            endpoint.close()
        for task in list(self._tasks):
            task.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> DTLSServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)


class _ServerProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DTLSServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.datagram_received(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error on the DTLS socket: %s", exc)


async def start_server(
    handler: Handler,
    host: str,
    port: int,
    config: ServerConfig | TLSContext,
    *,
    options: DTLSOptions | None = None,
    max_peers: int = 10000,
    idle_timeout: float = 300.0,
    authorize: PeerAuthorizer | None = None,
    on_handshake_failure: HandshakeFailureHook | None = None,
    reuse_port: bool = False,
) -> DTLSServer:
    """Serve DTLS on ``host:port``: ``await handler(endpoint)`` for each peer that passes
    every check (the endpoint is closed when the handler returns).

    With ``reuse_port``, several processes may serve the same port: Linux spreads UDP peers
    over the sockets by a hash of their address and port, so a peer's cookie exchange and its
    whole association stay with one process.

    Raises:
        ConfigError: the config is not a server config, or a file in it is bad.
        TransportError: the address cannot be bound.
    """
    if max_peers < 1 or idle_timeout <= 0:
        raise ConfigError("max_peers must be at least 1 and idle_timeout positive")
    server = DTLSServer(
        handler,
        _context(config, ServerConfig),
        options or DTLSOptions(),
        max_peers=max_peers,
        idle_timeout=idle_timeout,
        authorize=authorize,
        on_handshake_failure=on_handshake_failure,
    )
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _ServerProtocol(server), local_addr=(host, port), reuse_port=reuse_port or None
        )
    except OSError as exc:
        raise TransportError(f"cannot listen for DTLS on {host}:{port}: {exc.strerror}") from None
    server._transport = transport
    server._sweeper = loop.create_task(server._sweep())
    return server
