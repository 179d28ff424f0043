"""The tunnel as a service: worker processes, signals, drain, the admin listener.

The commands (``zerotls tunnel server|client|run|dtls-server|dtls-client``) only turn their
arguments into a config and call :func:`serve_tunnel` or :func:`serve_udp_tunnel`; everything
that makes a long-running service lives here, shared by the TCP and the UDP tunnel:

* :func:`fork_workers` forks one process per core after the TLS contexts are built (so the
  workers share the session-ticket keys), forwards signals and returns the first failure;
* each worker runs its tunnel on uvloop when available (:func:`run_loop`), and on SIGTERM or
  SIGINT stops accepting, drains open sessions up to the drain timeout, then aborts the rest;
* SIGHUP (TCP) reloads the config and its files; the first worker serves the admin endpoints
  and adds up the others' figures (``tunnel/share.py``).

With a Workload API identity (``--workload-api``) the contexts are built in each worker
instead: a gRPC channel does not survive ``fork()``, so every worker opens its own stream to
the agent and follows rotations itself (the cost: session tickets are per worker, so a
client that comes back to another worker gets a full handshake).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zerotls.errors import ConfigError, ZeroTLSError
from zerotls.tunnel.config import TunnelConfig

if TYPE_CHECKING:
    from zerotls.tls.context import TLSContext
    from zerotls.tunnel.udp import UDPTunnelConfig

__all__ = ["fork_workers", "run_loop", "serve_tunnel", "serve_udp_tunnel", "worker_count"]


def worker_count(requested: int) -> int:
    """``--workers``: 0 means one per core.

    Raises:
        ConfigError: a negative count.
    """
    if requested < 0:
        raise ConfigError("--workers must be 0 (one per core) or more")
    return requested or (len(os.sched_getaffinity(0)) or 1)


def serve_tunnel(
    config: TunnelConfig, *, workers: int = 0, verbose: int = 0, loop: str = "auto"
) -> int:
    """Run a tunnel until SIGTERM/SIGINT; ``workers`` processes (0: one per core) share the
    ports."""
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from zerotls.tunnel.runtime import ListenerRuntime, raise_fd_limit

    raise_fd_limit()
    workers = worker_count(workers)
    sources = config.identity_sources()
    if workers == 1 or not sources:
        # Built once, before forking: a bad file fails here with its name, and every worker
        # inherits the same TLS contexts (and session-ticket keys).
        runtimes = {lst.name: ListenerRuntime.build(lst) for lst in config.listeners}
    else:
        check_agents_reachable(sources)
        runtimes = None  # each worker builds its own, with its own stream to the agent
    if workers == 1:
        return run_loop(loop, _serve_tcp(config, runtimes, reuse_port=False, worker=0, share=None))
    # Workers leave snapshots of their figures here for the admin worker to add up.
    share = Path(tempfile.mkdtemp(prefix="zerotls-workers-"))
    try:
        return fork_workers(
            workers,
            lambda index: run_loop(
                loop, _serve_tcp(config, runtimes, reuse_port=True, worker=index, share=share)
            ),
            signals=(signal.SIGTERM, signal.SIGINT, signal.SIGHUP),
        )
    finally:
        shutil.rmtree(share, ignore_errors=True)


def check_agents_reachable(sources: list[Any]) -> None:
    """Before forking workers that each connect to the agent: its socket exists.

    Raises:
        ConfigError: a unix socket path that is not there, with what to check.
    """
    for source in sources:
        path = source.socket_path
        if path is not None and not Path(path).exists():
            raise ConfigError(
                f"no Workload API agent at {source.address}: {path} does not exist; is the "
                "agent running, and is its socket mounted into this container or host?"
            )


def fork_workers(
    count: int,
    run_one: Callable[[int], int],
    *,
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> int:
    """Fork ``count`` workers that each call ``run_one(index)`` and exit with its code; pass
    ``signals`` on to them and return the first non-zero exit status (0 if all succeeded).

    Everything built before the call (TLS contexts, their ticket keys) is shared by inheritance.
    """
    children = []
    for index in range(count):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - exercised by the multi-worker tests as processes
            code = 1
            try:  # a worker must never fall back into the parent's code
                code = run_one(index)
            except KeyboardInterrupt:
                code = 130
            except ZeroTLSError as exc:  # what a single process would have said
                print(f"zerotls: worker {index}: {exc}", file=sys.stderr, flush=True)
                code = 2 if isinstance(exc, ConfigError) else 3
            except BaseException:  # never a silent exit
                logging.getLogger("zerotls.tunnel").exception("worker %d failed", index)
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    for sig in signals:
        signal.signal(sig, forward)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    return status


async def _serve_tcp(
    config: TunnelConfig,
    runtimes: dict[str, Any] | None,
    *,
    reuse_port: bool,
    worker: int,
    share: Path | None,
) -> int:
    from zerotls.tunnel.admin import start_admin
    from zerotls.tunnel.runtime import Tunnel
    from zerotls.tunnel.share import publish_every
    from zerotls.tunnel.watch import watch_files

    tunnel = Tunnel(config, runtimes=runtimes, worker=worker, share_dir=share)
    admin = worker == 0
    await tunnel.start(reuse_port=reuse_port)
    log = logging.getLogger("zerotls.tunnel")
    for name, addr in tunnel.addresses().items():
        log.warning("listener %s on %s (pid %d)", name, addr, os.getpid())
    admin_server = None
    if admin and config.admin is not None and config.admin.host and config.admin.port is not None:
        admin_server = await start_admin(tunnel, config.admin.host, config.admin.port)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def request_stop(why: str) -> None:
        if not stop.done():
            stop.set_result(why)

    loop.add_signal_handler(signal.SIGTERM, request_stop, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, request_stop, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, tunnel.reload)
    watcher = loop.create_task(watch_files(tunnel)) if config.source is not None else None
    snapshots = (
        loop.create_task(publish_every(tunnel.write_snapshot)) if share is not None else None
    )
    why = await stop
    log.warning(
        "%s: draining %d connection(s) for up to %g s",
        why,
        len(tunnel.sessions),
        config.limits.drain_timeout,
    )
    aborted = await tunnel.drain()
    if aborted:
        log.warning("aborted %d connection(s) still open at the drain deadline", aborted)
    if watcher is not None:
        watcher.cancel()
    if snapshots is not None:
        snapshots.cancel()
    if admin_server is not None:
        admin_server.close()
    tunnel.close()
    tunnel.audit.close()
    return 0


def run_loop(kind: str, main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when asked or available (measured: about 1.2-1.4x the handshakes and
    bulk per CPU-second of the stdlib loop on the shared harness), else on asyncio."""
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                main.close()
                raise ConfigError(
                    "--loop uvloop: uvloop is not installed (pip install uvloop)"
                ) from None
        else:
            return int(uvloop.run(main))
    return asyncio.run(main)


def serve_udp_tunnel(
    config: UDPTunnelConfig, *, workers: int = 0, loop: str = "auto", drain_timeout: float = 10.0
) -> int:
    """Run a UDP (DTLS) tunnel until SIGTERM/SIGINT; then drain: no new associations, open
    sessions go on up to ``drain_timeout`` seconds, then each gets its close_notify and its
    audit event, and the process exits once those datagrams are sent."""
    from zerotls.tls.context import TLSContext
    from zerotls.tunnel.share import WorkerShare
    from zerotls.tunnel.udp import UDPTunnel

    workers = worker_count(workers)
    if workers > 1 and config.listen.port == 0:
        raise ConfigError("--workers above 1 needs a fixed --listen port (they share it)")
    from zerotls.tunnel.runtime import start_identity

    source = getattr(config.tls, "identity", None)
    context: TLSContext | None = None
    if source is not None and workers > 1:
        check_agents_reachable([source])  # each worker opens its own stream (see above)
    else:
        # Built once, before forking: a bad file fails here with its name, and workers
        # inherit it.
        start_identity(config.tls)
        context = TLSContext(config.tls, datagram=True)
    share_dir = Path(tempfile.mkdtemp(prefix="zerotls-dtls-workers-")) if workers > 1 else None

    async def main(worker: int) -> int:
        # The first worker serves the admin endpoints, adding up the others' figures.
        worker_config = config if worker == 0 else replace(config, admin=None)
        share = WorkerShare(share_dir, worker) if share_dir is not None else None
        if context is None:
            start_identity(config.tls)
        tunnel = UDPTunnel(
            worker_config,
            share=share,
            context=context or TLSContext(config.tls, datagram=True),
        )
        await tunnel.start(reuse_port=workers > 1)
        host, port = tunnel.address
        if worker == 0:
            print(
                f"zerotls: DTLS tunnel ({config.mode}) on {host}:{port} (udp) -> {config.target}"
                + (f", {workers} workers" if workers > 1 else ""),
                file=sys.stderr,
                flush=True,
            )
        stop = asyncio.Event()
        running = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(sig, stop.set)
        await stop.wait()
        left = await tunnel.drain(drain_timeout)
        if left:
            logging.getLogger("zerotls.tunnel").warning(
                "ended %d session(s) still open at the drain deadline", left
            )
        return 0

    if share_dir is None:
        return run_loop(loop, main(0))
    try:
        return fork_workers(workers, lambda index: run_loop(loop, main(index)))
    finally:
        shutil.rmtree(share_dir, ignore_errors=True)
