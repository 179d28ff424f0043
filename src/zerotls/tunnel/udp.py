"""The UDP tunnel: DTLS in front of a cleartext UDP service (server mode), and a loopback UDP
port that reaches a DTLS service (client mode).

Server mode: a DTLS peer is authenticated in the handshake (certificate, revocation, and the
route's policy through the ``authorize`` hook, so a denied peer never reaches the target);
then each of its datagrams goes to the target from a UDP socket of its own, and each reply
comes back as one DTLS record. Client mode mirrors it: each legacy client's source address
gets its own DTLS association to the remote service.

A peer session ends on close_notify, on ``idle_timeout`` without traffic, or at shutdown; it
leaves one audit event (the TCP tunnel's schema plus ``transport``, ``datagrams_in`` and
``datagrams_out``) and updates the same Prometheus series as the TCP tunnel, labelled with
its listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from zerotls.dtls.aio import DTLSAssociation, DTLSServer, open_association, start_server
from zerotls.dtls.connection import DTLSOptions
from zerotls.errors import ConfigError, LocalProtocolError, PolicyDenied, ZeroTLSError, alert_of
from zerotls.policy import Policy
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.context import TLSContext
from zerotls.tls.identity import Identity
from zerotls.tunnel.audit import AuditEvent, AuditLog, CloseReason
from zerotls.tunnel.authz import IdentityLimits, authorize
from zerotls.tunnel.config import Target
from zerotls.tunnel.metrics import Metrics
from zerotls.tunnel.share import WorkerShare, publish_every

__all__ = ["UDPTunnel", "UDPTunnelConfig"]

log = logging.getLogger("zerotls.tunnel.udp")

_MAX_DATAGRAM = 65507


@dataclass(frozen=True, slots=True, kw_only=True)
class UDPTunnelConfig:
    """One UDP tunnel listener and its target."""

    mode: str
    """``"server"``: DTLS in, cleartext UDP to ``target``. ``"client"``: cleartext UDP in on
    loopback, DTLS to ``target``."""
    listen: Target
    target: Target
    tls: ServerConfig | ClientConfig
    policy: Policy = field(default_factory=Policy)
    """Server mode: who may use the service (default deny)."""
    options: DTLSOptions = field(default_factory=DTLSOptions)
    idle_timeout: float = 60.0
    """Seconds without a datagram either way before a peer session ends."""
    max_peers: int = 10000
    max_per_identity: int | None = None
    """Server mode: associations one identity may hold at once (None: unbounded), as the TCP
    tunnel's ``limits.max_per_identity``."""
    name: str = "dtls"
    audit_log: str | None = "-"
    admin: Target | None = None
    unsafe_target: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("server", "client"):
            raise ConfigError("mode must be 'server' or 'client'")
        if self.mode == "server" and not isinstance(self.tls, ServerConfig):
            raise ConfigError("a DTLS server tunnel needs a ServerConfig")
        if self.mode == "client" and not isinstance(self.tls, ClientConfig):
            raise ConfigError("a DTLS client tunnel needs a ClientConfig")
        if self.target.unix or self.listen.unix:
            raise ConfigError("the UDP tunnel speaks UDP: HOST:PORT, not unix sockets")
        plain = self.target if self.mode == "server" else self.listen
        if not plain.is_local and not self.unsafe_target:
            side = "target" if self.mode == "server" else "listen address"
            raise ConfigError(
                f"the cleartext {side} {plain} is not loopback: datagrams would cross the "
                "network unencrypted. Use 127.0.0.1, or set unsafe_target by name"
            )
        if self.idle_timeout <= 0 or self.max_peers < 1:
            raise ConfigError("idle_timeout must be positive and max_peers at least 1")
        if self.max_per_identity is not None and self.max_per_identity < 1:
            raise ConfigError("max_per_identity must be at least 1 (or None: unbounded)")


@dataclass(slots=True)
class _Session:
    event: AuditEvent
    endpoint: DTLSAssociation | None = None
    plain: asyncio.DatagramTransport | None = None
    plain_peer: tuple[str, int] | None = None
    pending: list[bytes] = field(default_factory=list)
    """Client mode: datagrams from the legacy client while the DTLS association is dialled."""
    datagrams_in: int = 0
    datagrams_out: int = 0
    dropped: int = 0
    last: float = field(default_factory=time.monotonic)
    closed: bool = False
    identity_key: str | None = None
    """Counted against max_per_identity while the session lives."""


def _buffered(transport: asyncio.DatagramTransport) -> int:
    """Bytes a datagram transport still holds (asyncio and uvloop both have the method)."""
    size = getattr(transport, "get_write_buffer_size", None)
    return int(size()) if size is not None else 0


def _hp(target: Target) -> tuple[str, int]:
    """HOST and PORT of a UDP target (unix sockets are refused by the config)."""
    if target.host is None or target.port is None:
        raise ConfigError(f"{target} is not a HOST:PORT for UDP")
    return target.host, target.port


class _Relay(asyncio.DatagramProtocol):
    """The cleartext side of one session: replies from the target (server mode)."""

    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.on_datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error on a cleartext socket: %s", exc)


class UDPTunnel:
    """Runs a :class:`UDPTunnelConfig`."""

    def __init__(
        self,
        config: UDPTunnelConfig,
        *,
        audit: AuditLog | None = None,
        share: WorkerShare | None = None,
        context: TLSContext | None = None,
    ) -> None:
        self.config = config
        self.share = share
        """With several workers: where each leaves its figures for the admin worker."""
        self.context = context or TLSContext(config.tls, datagram=True)
        """Built once before workers fork, when the caller passes it (files read once)."""
        self.metrics = Metrics()
        self.audit = audit if audit is not None else AuditLog(config.audit_log)
        self.sessions: dict[tuple[str, int], _Session] = {}
        self.identity_limits = IdentityLimits(config.max_per_identity)
        self.accepting = False
        self.servers: list[Any] = []
        self._server: DTLSServer | None = None
        self._plain: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._admin: asyncio.Server | None = None
        self._ended = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, *, reuse_port: bool = False) -> None:
        """Bind and serve (``reuse_port``: share the port with other worker processes)."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        if cfg.mode == "server":
            self._server = await start_server(
                self._serve_peer,
                *_hp(cfg.listen),
                self.context,
                options=cfg.options,
                max_peers=cfg.max_peers,
                # Sessions time out here (replies count as activity); the server's own sweep
                # is only the backstop for a session that never got going.
                idle_timeout=cfg.idle_timeout * 2,
                authorize=self._authorize,
                on_handshake_failure=self._handshake_failed,
                reuse_port=reuse_port,
            )
            self._server.on_peer_finished = self._peer_finished
            self.servers = [self._server]
        else:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Relay(self._from_legacy_client),
                local_addr=_hp(cfg.listen),
                reuse_port=reuse_port or None,
            )
            self._plain = transport
            self.servers = [transport]
            self._sweeper = loop.create_task(self._sweep())
        if self.share is not None:
            self._tasks.add(loop.create_task(publish_every(self.write_snapshot)))
        if cfg.admin is not None:
            from zerotls.tunnel.admin import start_admin

            self._admin = await start_admin(self, *_hp(cfg.admin))
        self.accepting = True

    @property
    def address(self) -> tuple[str, int]:
        """Where the tunnel listens (the real port when 0 was asked)."""
        if self._server is not None:
            return self._server.address
        assert self._plain is not None  # noqa: S101
        host, port = self._plain.get_extra_info("sockname")[:2]
        return str(host), int(port)

    async def drain(self, timeout: float) -> int:
        """Stop taking new peers, let open sessions go on up to ``timeout`` seconds (they end
        when idle, or when the peer closes), then close the rest; wait until every
        close_notify datagram has left the socket.

        Returns:
            How many sessions were still open at the deadline.
        """
        self.accepting = False
        if self._server is not None:
            self._server.accepting = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.sessions and loop.time() < deadline:
            await asyncio.sleep(0.05)
        left = len(self.sessions)
        for session in list(self.sessions.values()):
            self._end(session, "shutdown")  # its close_notify, and its audit event
        transports = [t for t in (self._server_transport(), self._plain) if t is not None]
        flush_by = loop.time() + 2.0
        while any(_buffered(t) for t in transports) and loop.time() < flush_by:
            await asyncio.sleep(0.01)
        self.close()
        return left

    def _server_transport(self) -> asyncio.DatagramTransport | None:
        return self._server.transport if self._server is not None else None

    def close(self) -> None:
        """Stop: every session ends (``shutdown``) with its audit event."""
        self.accepting = False
        for session in list(self.sessions.values()):
            self._end(session, "shutdown")
        if self._server is not None:
            self._server.close()
        if self._plain is not None:
            self._plain.close()
        for task in list(self._tasks):
            task.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._admin is not None:
            self._admin.close()
        self.audit.close()

    # -- what the admin listener reads ------------------------------------------------------

    def peer_snapshots(self) -> list[dict[str, Any]]:
        """The other workers' latest figures (none with a single worker)."""
        return self.share.others() if self.share is not None else []

    def write_snapshot(self) -> None:
        """Leave this worker's figures for the admin worker."""
        if self.share is not None:
            self.share.write({"metrics": self.metrics.snapshot(), "status": self._own_status()})

    def status(self) -> dict[str, Any]:
        own = self._own_status()
        others = [snap.get("status", {}) for snap in self.peer_snapshots()]
        return {**own, "workers": [own, *others]} if others else own

    def _own_status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "sessions_ended": self._ended,
            "mode": self.config.mode,
            "listen": str(self.config.listen),
            "target": str(self.config.target),
            "sessions": len(self.sessions),
            "cookies_sent": self._server.listener.hello_verify_sent if self._server else 0,
            "dropped_not_dtls": self._server.garbage if self._server else 0,
        }

    # -- server mode -----------------------------------------------------------------------

    def _new_event(self, source: tuple[str, int], mode: str) -> AuditEvent:
        cfg = self.config
        return AuditEvent(
            conn_id=secrets.token_hex(6),
            listener=cfg.name,
            mode=mode,
            source=f"{source[0]}:{source[1]}",
            start=time.time(),
            route="default",
            target=str(cfg.target),
        )

    def _authorize(self, identity: Identity | None, addr: tuple[str, int]) -> ZeroTLSError | None:
        session = self.sessions.get(addr)
        if session is None:
            session = _Session(self._new_event(addr, "server"))
            self.sessions[addr] = session
        ev = session.event
        ev.identity = identity
        self.identity_limits.release(session.identity_key)  # a retransmitted flight: once
        verdict = authorize(
            identity,
            route="default",
            policy=self.config.policy,
            listener=self.config.name,
            source=addr[0],
            # One route per UDP tunnel: its revocation mode is the handshake's own, so a hard
            # route's unknown status is already refused inside the handshake (no soft
            # listener ever serves a hard route here, unlike a TCP listener with several).
            limits=self.identity_limits,
        )
        ev.decision, ev.rule, ev.reason = verdict.decision, verdict.rule, verdict.reason
        session.identity_key = verdict.identity_key
        self.metrics.inc("zerotls_connections_total", ev.listener, "default", ev.decision)
        if not verdict.allowed:
            self.metrics.inc("zerotls_denied_total", ev.listener, "default", ev.rule or "default")
        return verdict.error

    def _handshake_failed(self, exc: ZeroTLSError, addr: tuple[str, int]) -> None:
        session = self.sessions.pop(addr, None) or _Session(self._new_event(addr, "server"))
        # Authorized inside a handshake that then failed (a replayed certificate without its
        # key, a timeout): its per-identity slot must not stay claimed.
        self.identity_limits.release(session.identity_key)
        session.identity_key = None
        ev = session.event
        ev.alert = alert_of(exc)
        ev.error = str(exc)
        if ev.decision is None:
            self.metrics.inc("zerotls_handshake_failures_total", ev.listener, ev.alert or "other")
        session.closed = True
        ev.close_reason = "denied" if isinstance(exc, PolicyDenied) else "handshake_failed"
        self._write(session)

    def _peer_finished(self, endpoint: DTLSAssociation, error: ZeroTLSError | None) -> None:
        """An association ended before its handshake did, without an error (the server's idle
        sweep or shutdown): its half-made session must not stay behind."""
        if error is None and endpoint.conn.handshake is None:
            session = self.sessions.get(endpoint.peer)
            if session is not None and session.endpoint is None:
                session.event.error = "the handshake did not complete"
                self._end(session, "timeout")

    async def _serve_peer(self, endpoint: DTLSAssociation) -> None:
        cfg = self.config
        session = self.sessions.get(endpoint.peer) or _Session(
            self._new_event(endpoint.peer, "server")
        )
        self.sessions[endpoint.peer] = session
        session.endpoint = endpoint
        self._fill(session.event, endpoint)
        self.metrics.inc("zerotls_active_connections", cfg.name)
        loop = asyncio.get_running_loop()

        def reply(data: bytes, _addr: tuple[str, int]) -> None:
            self._to_dtls(session, endpoint, data)

        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Relay(reply), remote_addr=_hp(cfg.target)
            )
        except OSError as exc:
            session.event.error = f"cannot reach the target {cfg.target}: {exc}"
            self._end(session, "backend_unreachable")
            return
        session.plain = transport

        def forward(message: bytes) -> None:
            session.last = time.monotonic()
            session.datagrams_in += 1
            session.event.bytes_in += len(message)
            transport.sendto(message)

        endpoint.deliver_to(forward)  # relayed as they arrive: no task switch per datagram
        reason = await self._until_closed_or_idle(session, endpoint)
        if endpoint.conn.error is not None:
            session.event.error = str(endpoint.conn.error)
            reason = "client_reset"
        self._end(session, reason)

    async def _until_closed_or_idle(
        self, session: _Session, endpoint: DTLSAssociation
    ) -> CloseReason:
        period = max(0.05, min(self.config.idle_timeout / 4, 5.0))
        while not endpoint.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(endpoint.wait_closed(), period)
            if time.monotonic() - session.last >= self.config.idle_timeout:
                return "timeout"
        return "client_close" if self.config.mode == "server" else "backend_close"

    def _to_dtls(self, session: _Session, endpoint: DTLSAssociation, data: bytes) -> None:
        if session.closed:
            return
        try:
            endpoint.send(data)
        except LocalProtocolError:
            session.dropped += 1  # too large for one DTLS datagram, or already closed
            return
        except ZeroTLSError:
            return
        session.last = time.monotonic()
        session.datagrams_out += 1
        session.event.bytes_out += len(data)

    # -- client mode -----------------------------------------------------------------------

    def _from_legacy_client(self, data: bytes, addr: tuple[str, int]) -> None:
        session = self.sessions.get(addr)
        if session is None:
            if not self.accepting:  # draining: no new sessions
                return
            if len(self.sessions) >= self.config.max_peers:
                self.metrics.inc("zerotls_closed_total", self.config.name, "limit")
                return
            session = _Session(self._new_event(addr, "client"), plain_peer=addr)
            self.sessions[addr] = session
            task = asyncio.get_running_loop().create_task(self._dial(session, [data]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        session.last = time.monotonic()
        session.datagrams_in += 1
        session.event.bytes_in += len(data)
        if session.endpoint is None:
            if len(session.pending) < 64:
                session.pending.append(data)
            return
        try:
            session.endpoint.send(data)
        except ZeroTLSError:
            session.dropped += 1

    async def _dial(self, session: _Session, first: list[bytes]) -> None:
        cfg = self.config
        session.datagrams_in += 1
        session.event.bytes_in += len(first[0])
        try:
            endpoint = await open_association(*_hp(cfg.target), self.context, options=cfg.options)
        except ZeroTLSError as exc:
            ev = session.event
            ev.error = str(exc)
            ev.alert = alert_of(exc)
            self.metrics.inc("zerotls_handshake_failures_total", ev.listener, ev.alert or "other")
            self._end(session, "handshake_failed")
            return
        if session.closed:
            endpoint.close()
            return
        session.endpoint = endpoint
        self._fill(session.event, endpoint)
        session.event.decision = "allow"
        self.metrics.inc("zerotls_connections_total", cfg.name, "default", "allow")
        self.metrics.inc("zerotls_active_connections", cfg.name)
        for data in [first[0], *session.pending]:
            with contextlib.suppress(ZeroTLSError):
                endpoint.send(data)
        plain = self._plain
        peer = session.plain_peer

        def back(message: bytes) -> None:
            session.last = time.monotonic()
            session.datagrams_out += 1
            session.event.bytes_out += len(message)
            if plain is not None and peer is not None:
                plain.sendto(message, peer)

        endpoint.deliver_to(back)
        reason = await self._until_closed_or_idle(session, endpoint)
        if endpoint.conn.error is not None:
            session.event.error = str(endpoint.conn.error)
            reason = "backend_reset"
        self._end(session, reason)

    async def _sweep(self) -> None:
        period = max(0.05, min(self.config.idle_timeout / 4, 5.0))
        while True:
            await asyncio.sleep(period)
            deadline = time.monotonic() - self.config.idle_timeout
            for session in [s for s in self.sessions.values() if s.last < deadline]:
                self._end(session, "timeout")

    # -- common ----------------------------------------------------------------------------

    @staticmethod
    def _fill(ev: AuditEvent, endpoint: DTLSAssociation) -> None:
        ev.identity = endpoint.identity
        ev.tls_version, ev.cipher, ev.group = endpoint.tls_version, endpoint.cipher, endpoint.group
        ev.revocation = endpoint.revocation
        ev.sni = endpoint.conn.server_name

    def _end(self, session: _Session, reason: CloseReason) -> None:
        if session.closed:
            return
        session.closed = True
        for key, value in list(self.sessions.items()):
            if value is session:
                del self.sessions[key]
        if session.endpoint is not None:
            session.endpoint.close()
            self.metrics.inc("zerotls_active_connections", self.config.name, value=-1)
        if session.plain is not None:
            session.plain.close()
            session.plain = None  # its protocol's closure points back at the session
        self.identity_limits.release(session.identity_key)
        session.identity_key = None
        session.event.close_reason = reason
        self._write(session)

    def _write(self, session: _Session) -> None:
        ev = session.event
        ev.extra.update(
            transport="udp",
            datagrams_in=session.datagrams_in,
            datagrams_out=session.datagrams_out,
        )
        if session.dropped:
            ev.extra["datagrams_dropped"] = session.dropped
        name = self.config.name
        self.metrics.inc("zerotls_bytes_total", name, "default", "in", value=ev.bytes_in)
        self.metrics.inc("zerotls_bytes_total", name, "default", "out", value=ev.bytes_out)
        self.metrics.inc(
            "zerotls_datagrams_total", name, "default", "in", value=session.datagrams_in
        )
        self.metrics.inc(
            "zerotls_datagrams_total", name, "default", "out", value=session.datagrams_out
        )
        self.metrics.inc("zerotls_closed_total", name, ev.close_reason or "error")
        self._ended += 1
        self.audit.write(ev, time.time())
