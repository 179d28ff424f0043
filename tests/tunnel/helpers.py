"""In-process tunnel fixtures: a real backend, a real tunnel, real TLS clients, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import PKI
from zerotls.policy import Policy
from zerotls.tunnel import AuditLog, Limits, ListenerConfig, Route, Target, Tunnel, TunnelConfig


@dataclass
class Backend:
    """A cleartext service: echoes, and records what it saw."""

    server: asyncio.Server
    connections: int = 0
    received: list[bytes] = field(default_factory=list)
    eofs: int = 0
    resets: int = 0
    mode: str = "echo"  # echo | reset-after-first | reply-after-eof | proxy

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])


async def start_backend(mode: str = "echo") -> Backend:
    holder: list[Backend] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        be = holder[0]
        be.connections += 1
        got = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    be.eofs += 1
                    break
                got += data
                if be.mode == "echo":
                    writer.write(data)
                    await writer.drain()
                elif be.mode == "reset-after-first":
                    writer.write(b"partial answer")
                    await writer.drain()
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    be.received.append(got)
                    return
            if be.mode == "reply-after-eof":
                writer.write(b"reply after your EOF: " + got)
                await writer.drain()
        except ConnectionResetError:
            be.resets += 1
        be.received.append(got)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    backend = Backend(server, mode=mode)
    holder.append(backend)
    OPEN_SERVERS.append(server)
    return backend


OPEN_SERVERS: list[asyncio.Server] = []
"""Backends started by a test; ``running`` closes them when the test's tunnel stops."""


class Events:
    """Collects audit events in memory (the JSON lines exactly as they are written)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def __call__(self, _event: object, line: str) -> None:
        self.lines.append(json.loads(line))

    async def wait(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.lines) < n:
                await asyncio.sleep(0.1)  # let closing transports finish before the loop ends
        return self.lines


def server_tunnel_config(
    pki: PKI,
    backend_port: int,
    *,
    policy: Policy | None = None,
    routes: tuple[Route, ...] | None = None,
    limits: Limits | None = None,
    proxy_protocol: bool = False,
    tls_overrides: dict[str, Any] | None = None,
) -> TunnelConfig:
    route = Route(
        name="db",
        target=Target(host="127.0.0.1", port=backend_port),
        policy=policy
        if policy is not None
        else Policy.allow_identities(["spiffe://test.zerotls.dev/svc/web"]),
        proxy_protocol=proxy_protocol,
    )
    return TunnelConfig(
        listeners=(
            ListenerConfig(
                name="front",
                mode="server",
                listen=Target(host="127.0.0.1", port=0),
                tls=pki.server_config(**(tls_overrides or {})),
                routes=routes or (route,),
            ),
        ),
        limits=limits or Limits(),
    )


@contextlib.asynccontextmanager
async def running(config: TunnelConfig) -> AsyncIterator[tuple[Tunnel, int, Events]]:
    events = Events()
    audit = AuditLog(None)
    audit.listeners.append(events)
    tunnel = Tunnel(config, audit=audit)
    await tunnel.start()
    port = next(iter(tunnel.addresses().values()))[1]
    try:
        yield tunnel, port, events
    finally:
        tunnel.close()
        while OPEN_SERVERS:
            server = OPEN_SERVERS.pop()
            server.close()
            await server.wait_closed()
        await asyncio.sleep(0.1)  # let closing transports finish before the loop ends


def run(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


@contextlib.contextmanager
def collector_off() -> Iterator[None]:
    """The cyclic GC off (after one collection): what is still alive inside was kept by a
    reference, not by a cycle waiting for a collection."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def alive(cls: type) -> int:
    """How many objects of ``cls`` exist (with the collector off, cycles included)."""
    return sum(1 for o in gc.get_objects() if isinstance(o, cls))
