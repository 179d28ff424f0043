"""UDP peers for the DTLS tests: an echo service and an impairing relay (loss, reordering,
duplication), both asyncio, on loopback, seeded so a run can be repeated."""

from __future__ import annotations

import asyncio
import random
from typing import Any


class UDPEcho(asyncio.DatagramProtocol):
    """Answers each datagram with ``b"echo:" + datagram``; counts what it saw."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received: list[bytes] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)
        assert self.transport is not None
        self.transport.sendto(b"echo:" + data, addr)


async def start_echo() -> tuple[UDPEcho, asyncio.DatagramTransport, int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(UDPEcho, local_addr=("127.0.0.1", 0))
    return proto, transport, int(transport.get_extra_info("sockname")[1])


class ImpairingRelay(asyncio.DatagramProtocol):
    """Forwards datagrams between one client and ``target``, losing, duplicating and
    delaying (reordering) them at random."""

    def __init__(
        self, target: tuple[str, int], *, loss: float, duplicate: float, reorder: float, seed: int
    ) -> None:
        self.target = target
        self.loss, self.duplicate, self.reorder = loss, duplicate, reorder
        self.rng = random.Random(seed)
        self.client: Any = None
        self.transport: asyncio.DatagramTransport | None = None
        self.upstream: asyncio.DatagramTransport | None = None
        self.forwarded = 0
        self.lost = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def _forward(self, send: Any, data: bytes) -> None:
        if self.rng.random() < self.loss:
            self.lost += 1
            return
        loop = asyncio.get_running_loop()
        for _ in range(2 if self.rng.random() < self.duplicate else 1):
            self.forwarded += 1
            delay = self.rng.uniform(0.001, 0.02) if self.rng.random() < self.reorder else 0
            loop.call_later(delay, send, data)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.client = addr
        assert self.upstream is not None
        self._forward(self.upstream.sendto, data)

    def from_target(self, data: bytes) -> None:
        if self.client is not None and self.transport is not None:
            transport, client = self.transport, self.client
            self._forward(lambda d: transport.sendto(d, client), data)


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: ImpairingRelay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.relay.from_target(data)


async def start_relay(
    target: tuple[str, int],
    *,
    loss: float = 0.2,
    duplicate: float = 0.05,
    reorder: float = 0.2,
    seed: int = 7,
) -> tuple[ImpairingRelay, int, list[asyncio.DatagramTransport]]:
    loop = asyncio.get_running_loop()
    relay = ImpairingRelay(target, loss=loss, duplicate=duplicate, reorder=reorder, seed=seed)
    listen, _ = await loop.create_datagram_endpoint(lambda: relay, local_addr=("127.0.0.1", 0))
    upstream, _ = await loop.create_datagram_endpoint(lambda: _Upstream(relay), remote_addr=target)
    relay.upstream = upstream
    return relay, int(listen.get_extra_info("sockname")[1]), [listen, upstream]
