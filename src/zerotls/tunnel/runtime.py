"""The running tunnel: listeners, the material in service, limits, reload and drain.

The material in service (TLS contexts, routes, policies) lives in one immutable
:class:`ListenerRuntime` per listener. A reload builds a complete new set first and swaps it in
with one assignment; a file that fails to load leaves the old set in service and says why.
Sessions keep the runtime they started with, so existing connections continue untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zerotls.errors import (
    ConfigError,
    TransportError,
    ZeroTLSError,
    alert_of,
)
from zerotls.tls.context import TLSContext
from zerotls.tunnel.audit import AuditLog
from zerotls.tunnel.authz import IdentityLimits
from zerotls.tunnel.config import ListenerConfig, Route, Target, TunnelConfig
from zerotls.tunnel.metrics import Metrics
from zerotls.tunnel.proxy import PlainSide, Session, TLSSide
from zerotls.tunnel.share import WorkerShare

__all__ = ["ListenerRuntime", "Tunnel", "raise_fd_limit"]

log = logging.getLogger("zerotls.tunnel")


@dataclass(frozen=True, slots=True)
class ListenerRuntime:
    """Everything a listener needs to accept a connection, loaded and checked."""

    config: ListenerConfig
    context: TLSContext
    """Server mode: our server context. Client mode: unused (the first route's context)."""
    client_contexts: dict[str, TLSContext] | None
    not_after: float | None
    """Expiry of the certificate this listener presents (Unix time)."""

    @classmethod
    def build(cls, config: ListenerConfig) -> ListenerRuntime:
        """Load and check everything the listener names; with a Workload API identity, start
        its stream first (waiting for the first SVID)."""
        if config.mode == "server":
            assert config.tls is not None  # noqa: S101 - checked by TunnelConfig
            start_identity(config.tls)
            ctx = TLSContext(config.tls)
            return cls(config, ctx, None, _expiry(ctx))
        contexts: dict[str, TLSContext] = {}
        not_after = None
        for route in config.routes:
            assert route.client_tls is not None  # noqa: S101
            start_identity(route.client_tls)
            contexts[route.name] = TLSContext(route.client_tls)
            not_after = _expiry(contexts[route.name]) or not_after
        first = contexts[config.routes[0].name]
        return cls(config, first, contexts, not_after)

    @property
    def identity(self) -> Any:
        """The Workload API source this listener presents, if any (else None)."""
        tls = self.config.tls if self.config.mode == "server" else self.context.config
        return getattr(tls, "identity", None)

    def expires(self) -> float | None:
        """When what we present now expires: the current SVID's expiry with an identity
        source (it rotates), else the certificate file's."""
        source = self.identity
        if source is not None:
            try:
                return float(source.svid().expires.timestamp())
            except ZeroTLSError:
                return None  # stale: /status says why, from the source
        return self.not_after


def start_identity(tls: Any) -> None:
    """Start the config's identity source, if it has one that is not running yet.

    Raises:
        WorkloadAPIError: no SVID came in time; the message says what happened.
    """
    source = getattr(tls, "identity", None)
    if source is not None and not source.started:
        source.start()


def _expiry(ctx: TLSContext) -> float | None:
    """When the certificate a context presents expires (Unix time), if it presents one."""
    cert = ctx.certificate
    return cert.not_valid_after_utc.timestamp() if cert is not None else None


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (each session costs two descriptors)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard
    return soft


class Tunnel:
    """A running tunnel. ``await start()``, then ``reload()``, ``drain()``, ``close()``."""

    def __init__(
        self,
        config: TunnelConfig,
        *,
        metrics: Metrics | None = None,
        audit: AuditLog | None = None,
        runtimes: dict[str, ListenerRuntime] | None = None,
        worker: int = 0,
        share_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.worker = worker
        """This process's index among the workers sharing the ports."""
        self.share_dir = share_dir
        self._share = WorkerShare(share_dir, worker) if share_dir is not None else None
        """Where workers leave snapshots of their figures for the admin listener (None: one
        worker)."""
        self.metrics = metrics or Metrics()
        self.audit = audit if audit is not None else AuditLog(config.audit_log)
        # Prebuilt runtimes let forked workers share one set of TLS contexts, and so the
        # session-ticket keys OpenSSL drew for them.
        self.runtimes: dict[str, ListenerRuntime] = runtimes or {
            lst.name: ListenerRuntime.build(lst) for lst in config.listeners
        }
        self.sessions: set[Session] = set()
        self.identity_limits = IdentityLimits(config.limits.max_per_identity)
        """Connections held per identity (limits.max_per_identity), shared by all listeners."""
        self.servers: list[asyncio.Server] = []
        self.accepting = True
        self.loaded_at = time.time()
        self.last_reload: dict[str, Any] = {"time": _iso(self.loaded_at), "result": "initial"}
        self.config_version = 1
        self._sweeper: asyncio.Task[None] | None = None
        self._fd_log_at = 0.0
        self._fd_suppressed = 0
        self._publish_cert_metrics()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, *, reuse_port: bool = False) -> None:
        """Bind every listener; raises ``TransportError`` naming the address on failure."""
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_exception)
        for lst in self.config.listeners:
            name = lst.name
            factory = (
                (lambda name=name: TLSSide(self._new_session(name, accepted_tls=True)))
                if lst.mode == "server"
                else (lambda name=name: PlainSide(self._new_session(name, accepted_tls=False)))
            )
            try:
                if lst.listen.unix is not None:
                    server = await loop.create_unix_server(
                        factory, str(lst.listen.unix), backlog=4096
                    )
                else:
                    server = await loop.create_server(
                        factory,
                        lst.listen.host,
                        lst.listen.port or 0,
                        backlog=4096,
                        reuse_port=reuse_port or None,
                    )
            except OSError as exc:
                self.close()
                raise TransportError(
                    f"listener {name}: cannot listen on {lst.listen}: {exc.strerror or exc}"
                ) from exc
            self.servers.append(server)
        self._sweeper = loop.create_task(self._sweep())

    def addresses(self) -> dict[str, Any]:
        """Listener name -> bound address (useful after binding port 0)."""
        out: dict[str, Any] = {}
        for lst, server in zip(self.config.listeners, self.servers, strict=False):
            out[lst.name] = server.sockets[0].getsockname() if server.sockets else None
        return out

    def reload(self, config: TunnelConfig | None = None) -> bool:
        """Load the config (re-read from its file if not given) and all its files, then swap.

        Returns:
            True if the new material is in service; False if it failed (old one kept).
        """
        try:
            if config is None:
                if self.config.source is None:
                    raise ConfigError("this tunnel was not started from a file")
                config = TunnelConfig.from_toml(self.config.source)
            if [(lst.name, lst.listen) for lst in config.listeners] != [
                (lst.name, lst.listen) for lst in self.config.listeners
            ]:
                raise ConfigError("listeners and their addresses cannot change on reload; restart")
            runtimes = {lst.name: ListenerRuntime.build(lst) for lst in config.listeners}
        except ZeroTLSError as exc:
            self.metrics.inc("zerotls_reloads_total", "failure")
            self.last_reload = {"time": _iso(time.time()), "result": "failure", "error": str(exc)}
            log.error(  # noqa: TRY400 - an expected failure: one line, no traceback
                "reload failed, the previous configuration stays in service: %s", exc
            )
            return False
        self.config, self.runtimes = config, runtimes
        self.identity_limits.limit = config.limits.max_per_identity  # held counts carry over
        self.config_version += 1
        self.loaded_at = time.time()
        self.last_reload = {"time": _iso(self.loaded_at), "result": "success"}
        self.metrics.inc("zerotls_reloads_total", "success")
        self._publish_cert_metrics()
        log.info("reloaded configuration (version %d)", self.config_version)
        return True

    async def drain(self, timeout: float | None = None) -> int:
        """Stop accepting, let open sessions finish up to ``timeout``, abort the rest.

        Returns:
            How many sessions had to be aborted.
        """
        self.accepting = False
        for server in self.servers:
            server.close()
        deadline = time.monotonic() + (
            timeout if timeout is not None else self.config.limits.drain_timeout
        )
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        leftover = list(self.sessions)
        for session in leftover:
            session.shutdown()
        return len(leftover)

    def close(self) -> None:
        for server in self.servers:
            server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for session in list(self.sessions):
            session.shutdown()

    # -- sessions -------------------------------------------------------------------------------

    def _new_session(self, name: str, *, accepted_tls: bool) -> Session:
        return Session(self, self.runtimes[name], accepted_tls=accepted_tls)

    def admit(self, session: Session) -> bool:
        """At accept: refuse when shutting down or over the connection limit."""
        limit = self.config.limits.max_connections
        if not self.accepting or len(self.sessions) >= limit:
            session.event.error = (
                "tunnel is shutting down"
                if not self.accepting
                else f"max_connections ({limit}) reached"
            )
            session.end(reason="limit", abort=True)
            return False
        self.sessions.add(session)
        self.metrics.inc("zerotls_active_connections", session.event.listener)
        return True

    def session_finished(self, session: Session) -> None:
        ev = session.event
        if session in self.sessions:
            self.sessions.discard(session)
            self.metrics.inc("zerotls_active_connections", ev.listener, value=-1)
        self.identity_limits.release(session.identity_key)
        session.identity_key = None
        m = self.metrics
        route = ev.route or ""
        if ev.decision is not None:
            m.inc("zerotls_connections_total", ev.listener, route, ev.decision)
            if ev.decision == "deny":
                m.inc("zerotls_denied_total", ev.listener, route, ev.rule or "default")
                log.warning(
                    "%s denied %s from %s on route %s: %s",
                    ev.conn_id,
                    ev.identity.name if ev.identity else "anonymous",
                    ev.source,
                    route,
                    ev.reason,
                )
        if ev.bytes_in:
            m.inc("zerotls_bytes_total", ev.listener, route, "in", value=ev.bytes_in)
        if ev.bytes_out:
            m.inc("zerotls_bytes_total", ev.listener, route, "out", value=ev.bytes_out)
        m.inc("zerotls_closed_total", ev.listener, ev.close_reason or "error")
        if ev.close_reason == "backend_reset" and session.server_mode:
            m.inc("zerotls_backend_errors_total", ev.listener, route, "reset")
        self.audit.write(ev, time.time())

    def handshake_failed(self, session: Session, exc: ZeroTLSError) -> None:
        alert = alert_of(exc) or "other"
        session.event.alert = session.event.alert or alert
        self.metrics.inc("zerotls_handshake_failures_total", session.event.listener, alert)
        log.info(
            "%s handshake with %s failed: %s", session.event.conn_id, session.event.source, exc
        )

    def dial_plain(self, session: Session, route: Route) -> None:
        asyncio.get_running_loop().create_task(
            self._dial(session, route.target, lambda: PlainSide(session), plain=True)
        )

    def dial_tls(self, session: Session, route: Route) -> None:
        asyncio.get_running_loop().create_task(
            self._dial(session, route.target, lambda: TLSSide(session), plain=False)
        )

    async def _dial(self, session: Session, target: Target, factory: Any, *, plain: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.config.limits.connect_timeout):
                if target.unix is not None:
                    await loop.create_unix_connection(factory, str(target.unix))
                else:
                    await loop.create_connection(factory, target.host or "", target.port or 0)
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: unusable address
            if session.finished:
                return
            if isinstance(exc, ValueError):
                exc = OSError(str(exc))
            if plain:
                session.plain_connect_failed(exc)
            else:
                session.tls_connect_failed(exc)

    async def _sweep(self) -> None:
        limits = self.config.limits
        interval = min(1.0, limits.idle_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for session in list(self.sessions):
                session.idle_check(
                    now, self.config.limits.idle_timeout, self.config.limits.max_lifetime
                )
            self._check_fds()

    def _check_fds(self) -> None:
        """Warn (rate-limited) when descriptors run short. uvloop (libuv) copes with EMFILE
        by itself and tells nobody, so this check is what makes exhaustion visible there."""
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if 2 * len(self.sessions) + 32 < 0.8 * limit:  # cheap estimate first: two per session
            return
        try:
            in_use = len(os.listdir("/proc/self/fd"))
        except OSError as exc:
            if exc.errno in (23, 24):  # could not even open the directory: that is the answer
                self.report_fd_exhausted(f"all {limit} in use")
            return
        if in_use >= 0.9 * limit:
            self.report_fd_exhausted(f"{in_use} of {limit} in use")

    def report_fd_exhausted(self, detail: str) -> None:
        """Out of file descriptors (accept or backend dial): logged, rate-limited."""
        # One line per ten seconds, with how many were suppressed, instead of a flood.
        now = time.monotonic()
        if now - self._fd_log_at >= 10.0:
            log.error(
                "out of file descriptors (%s); new connections are refused until some close; "
                "raise the limit (ulimit -n, LimitNOFILE=) or add workers%s",
                detail,
                f" ({self._fd_suppressed} similar messages suppressed)"
                if self._fd_suppressed
                else "",
            )
            self._fd_log_at = now
            self._fd_suppressed = 0
        else:
            self._fd_suppressed += 1

    # -- status ---------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What ``/status`` shows: this worker, and the others from their snapshots."""
        certs = {}
        identities = {}
        for name, rt in self.runtimes.items():
            expires = rt.expires()
            certs[name] = _iso(expires) if expires else None
            if rt.identity is not None:
                identities[name] = rt.identity.status()
        mine = self._worker_status()
        workers = [mine] + [snap["status"] for snap in self.peer_snapshots()]
        workers.sort(key=lambda w: int(w["worker"]))
        return {
            # The version every worker has reached: a reload is complete when this moves.
            "config_version": min(int(w["config_version"]) for w in workers),
            "config_file": str(self.config.source) if self.config.source else None,
            "last_reload": self.last_reload,
            "accepting": self.accepting,
            "active_connections": sum(int(w["active_connections"]) for w in workers),
            "certificate_not_after": certs,
            **({"workload_api": identities} if identities else {}),
            "listeners": {k: str(v) for k, v in self.addresses().items()},
            "workers": workers,
        }

    def _worker_status(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "pid": os.getpid(),
            "config_version": self.config_version,
            "last_reload": self.last_reload,
            "active_connections": len(self.sessions),
        }

    def write_snapshot(self) -> None:
        """Leave this worker's figures where the admin worker reads them."""
        if self._share is not None:
            self._share.write({"metrics": self.metrics.snapshot(), "status": self._worker_status()})

    def peer_snapshots(self) -> list[dict[str, Any]]:
        """The other workers' latest snapshots (none with a single worker)."""
        return self._share.others() if self._share is not None else []

    def refresh_gauges(self) -> None:
        """Before /metrics is rendered: what changes without a reload (a rotated SVID)."""
        for name, rt in self.runtimes.items():
            expires = rt.expires()
            if expires is not None:
                self.metrics.set("zerotls_certificate_not_after_seconds", name, value=expires)

    def _publish_cert_metrics(self) -> None:
        self.refresh_gauges()
        self.metrics.set("zerotls_config_last_reload_timestamp_seconds", value=self.loaded_at)

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (24, 23):  # EMFILE, ENFILE
            # asyncio already backs accept off for a second; we only keep the log quiet.
            self.report_fd_exhausted(exc.strerror or "EMFILE")
            return
        loop.default_exception_handler(context)


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")
