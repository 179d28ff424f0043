"""Blocking sockets over the sans-IO engine: ``connect`` and ``serve``.

The same guarantees as the asyncio API, for code that is not async: every check runs inside
the handshake, a refused peer receives its alert before the socket closes, and reads raise the
specific error that broke the stream.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from zerotls.errors import (
    ConnectionBroken,
    HandshakeTimeout,
    LocalProtocolError,
    RevocationError,
    TransportError,
    ZeroTLSError,
)
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.context import TLSContext
from zerotls.tls.engine import (
    ConnectionClosed,
    DataReceived,
    Event,
    HandshakeCompleted,
    Negotiated,
    TLSConnection,
)

__all__ = ["TLSSocket", "TLSThreadingServer", "connect", "serve"]

log = logging.getLogger("zerotls.tls")
_RECV = 65536


class TLSSocket(Negotiated):
    """A verified, blocking TLS connection.

    Like a socket, it is full duplex across threads: one thread may ``sendall`` while another
    ``recv``s. One lock guards the TLS state (OpenSSL's SSL object must not be used by two
    threads at once); encrypted output is queued in the order it was produced and written by
    one thread at a time, because TLS records carry sequence numbers and must not be
    reordered. A reader never waits for a writer blocked on a full socket.
    """

    def __init__(
        self, sock: socket.socket, conn: TLSConnection, early: list[Event] | None = None
    ) -> None:
        self._sock = sock
        self._conn = conn
        self._buffer = bytearray()
        self._eof = False
        self._state_lock = threading.Lock()  # the engine and the receive buffer
        self._write_lock = threading.Lock()  # held by the one thread writing to the socket
        self._read_lock = threading.Lock()  # one reader at a time
        self._outq: collections.deque[bytes] = collections.deque()
        self._take(early or [])
        hs = conn.handshake
        if hs is None:  # pragma: no cover - constructed only after a handshake
            raise LocalProtocolError("TLSSocket needs a completed handshake")
        self.handshake: HandshakeCompleted = hs

    def getpeername(self) -> Any:
        return self._sock.getpeername()

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)

    def sendall(self, data: bytes) -> None:
        """Encrypt and send all of ``data``."""
        with self._state_lock:
            self._conn.send(data)
            self._queue_output()
        self._flush()

    send = sendall

    def recv(self, bufsize: int = _RECV) -> bytes:
        """Up to ``bufsize`` bytes; ``b""`` only after the peer's close_notify."""
        with self._read_lock:
            while not self._buffer and not self._eof:
                self._pump()
            with self._state_lock:
                chunk = bytes(self._buffer[:bufsize])
                del self._buffer[:bufsize]
            return chunk

    def recv_exactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or ``ConnectionBroken`` if the stream ends first."""
        with self._read_lock:
            while len(self._buffer) < n and not self._eof:
                self._pump()
            with self._state_lock:
                if len(self._buffer) < n:
                    raise ConnectionBroken(f"stream ended after {len(self._buffer)} of {n} bytes")
                chunk = bytes(self._buffer[:n])
                del self._buffer[:n]
            return chunk

    def await_verdict(self, timeout: float = 1.0) -> None:
        """Wait briefly for the server's verdict on our certificate (TLS 1.3).

        In TLS 1.3 the client finishes its handshake before the server has checked the
        client certificate; a refusal arrives as an alert on the first read, an acceptance
        usually as session tickets. This waits up to ``timeout`` for either and raises the
        refusal (:class:`~zerotls.errors.TLSAlert`) if there is one. Silence is not a
        refusal: a server without session tickets sends nothing.
        """
        previous = self._sock.gettimeout()
        self._sock.settimeout(timeout)
        try:
            self._pump()
        except TimeoutError:
            pass
        finally:
            if self._sock.fileno() >= 0:
                self._sock.settimeout(previous)

    def shutdown_write(self) -> None:
        """Send close_notify: we are done sending (the peer may still send, TLS 1.3)."""
        with self._state_lock:
            self._conn.close()
            self._queue_output()
        self._flush()

    def abort(self) -> None:
        """Close with a TCP reset and no close_notify: the peer must not take what it got
        for a complete stream."""
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._sock.close()

    def close(self) -> None:
        """Send close_notify if not yet sent, then close the socket."""
        try:
            with self._state_lock:
                if self._conn.error is None and not self._conn.local_closed:
                    self._conn.close()
                    self._queue_output()
            self._flush()
        except (OSError, ZeroTLSError):
            pass
        finally:
            self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _pump(self) -> None:
        try:
            data = self._sock.recv(_RECV)
        except TimeoutError:
            raise
        except OSError as exc:
            raise ConnectionBroken(f"connection lost: {exc.strerror or exc}") from exc
        with self._state_lock:
            try:
                events = self._conn.receive_data(data)
            except ZeroTLSError:
                _send_alert_and_close(self._sock, self._conn)
                raise
            self._take(events)
            self._queue_output()
        self._flush(blocking=False)

    def _take(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, DataReceived):
                self._buffer += event.data
            elif isinstance(event, ConnectionClosed):
                self._eof = True

    def _queue_output(self) -> None:
        """Queue what the engine produced (call with the state lock held: keeps the order)."""
        out = self._conn.data_to_send()
        if out:
            self._outq.append(out)

    def _flush(self, *, blocking: bool = True) -> None:
        """Write queued records in order. A reader passes ``blocking=False``: if a writer is
        busy, that writer sends our records too, since it re-checks the queue under the state
        lock before it lets go of the socket."""
        if not self._write_lock.acquire(blocking):
            return
        while True:
            self._state_lock.acquire()
            if not self._outq:
                self._write_lock.release()  # released under the state lock: see above
                self._state_lock.release()
                return
            out = self._outq.popleft()
            self._state_lock.release()
            try:
                self._sock.sendall(out)
            except OSError as exc:
                self._write_lock.release()
                raise ConnectionBroken(f"connection lost: {exc.strerror or exc}") from exc


def _send_alert_and_close(sock: socket.socket, conn: TLSConnection) -> None:
    """Flush the alert, half-close, then close: the peer learns why it was refused."""
    try:
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        sock.close()


def _handshake(sock: socket.socket, conn: TLSConnection, timeout: float) -> list[Event]:
    """Drive the handshake; return the events that arrived with its last flight (the
    peer's first application data may share a read with its Finished message)."""
    deadline = time.monotonic() + timeout
    events: list[Event] = []
    try:
        while conn.handshake is None:
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
            # An exhausted deadline leaves a tiny timeout, so the recv itself times out.
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            data = sock.recv(_RECV)
            events = conn.receive_data(data)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    except TimeoutError:
        error = HandshakeTimeout(f"the TLS handshake did not complete within {timeout:g} s")
        conn.abort(error)
        _send_alert_and_close(sock, conn)
        raise error from None
    except ZeroTLSError:
        _send_alert_and_close(sock, conn)
        raise
    except OSError as exc:
        sock.close()
        raise ConnectionBroken(f"connection lost during the handshake: {exc}") from exc
    sock.settimeout(None)
    return events


def connect(
    host: str,
    port: int,
    config: ClientConfig | TLSContext,
    *,
    timeout: float | None = None,
) -> TLSSocket:
    """Connect, complete a verified handshake, and return a blocking :class:`TLSSocket`.

    Args:
        host: where to connect (never what the certificate is checked against).
        port: TCP port.
        config: a :class:`ClientConfig` (or a prebuilt :class:`TLSContext`).
        timeout: seconds for the TCP connect (the handshake uses ``handshake_timeout``).

    Raises:
        VerificationError, TLSAlert, HandshakeTimeout, TransportError: as for
        :func:`zerotls.open_connection`.
    """
    ctx = TLSContext.of(config)
    if ctx.is_server:
        raise LocalProtocolError("connect needs a ClientConfig, not a ServerConfig")
    try:
        return _connect_once(host, port, ctx, timeout)
    except RevocationError as exc:
        # The server's certificate names a CRL or responder not fetched yet: the engine
        # never waits for it inside a handshake, but a blocking caller can, once.
        if not exc.pending or ctx.revocation is None:
            raise
        ctx.revocation.wait_pending(ctx.config.handshake_timeout)
        return _connect_once(host, port, ctx, timeout)


def _connect_once(host: str, port: int, ctx: TLSContext, timeout: float | None) -> TLSSocket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise TransportError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = ctx.connection()
    early = _handshake(sock, conn, ctx.config.handshake_timeout)
    return TLSSocket(sock, conn, early)


Handler = Callable[[TLSSocket], None]


class TLSThreadingServer:
    """A blocking TLS server: one thread per connection. Stop it with :meth:`shutdown`."""

    def __init__(
        self,
        sock: socket.socket,
        context: TLSContext,
        handler: Handler,
        on_handshake_failure: Callable[[ZeroTLSError, Any], None] | None,
    ) -> None:
        self._sock = sock
        self.context = context
        self._handler = handler
        self._on_failure = on_handshake_failure
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()

    @property
    def server_address(self) -> Any:
        return self._sock.getsockname()

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def serve_forever(self, poll_interval: float = 0.2) -> None:
        """Accept until :meth:`shutdown` is called."""
        self._stopped.clear()
        self._sock.settimeout(poll_interval)
        try:
            while not self._stop.is_set():
                try:
                    client, addr = self._sock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if self._stop.is_set():
                        break
                    raise
                thread = threading.Thread(target=self._serve_one, args=(client, addr), daemon=True)
                thread.start()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait for it to return."""
        self._stop.set()
        self._stopped.wait()

    def server_close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()

    def _serve_one(self, client: socket.socket, addr: Any) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = self.context.connection()
        try:
            early = _handshake(client, conn, self.context.config.handshake_timeout)
        except ZeroTLSError as exc:
            log.warning("refused TLS client %s: %s", addr, exc)
            if self._on_failure is not None:
                self._on_failure(exc, addr)
            return
        tls = TLSSocket(client, conn, early)
        try:
            self._handler(tls)
        except ZeroTLSError as exc:
            log.info("connection from %s ended: %s", addr, exc)
            tls.abort()
        except Exception:
            log.exception("handler failed for %s", addr)
            tls.abort()
        else:
            tls.close()


def serve(
    handler: Handler,
    host: str,
    port: int,
    config: ServerConfig | TLSContext,
    *,
    on_handshake_failure: Callable[[ZeroTLSError, Any], None] | None = None,
    backlog: int = 128,
) -> TLSThreadingServer:
    """Bind and listen; run ``server.serve_forever()`` (e.g. in a thread) to accept.

    ``handler(tls_socket)`` runs in its own thread for every client that passes all checks;
    the socket is closed (close_notify first) when it returns.
    """
    ctx = TLSContext.of(config)
    if not ctx.is_server:
        raise LocalProtocolError("serve needs a ServerConfig, not a ClientConfig")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise TransportError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return TLSThreadingServer(sock, ctx, handler, on_handshake_failure)
