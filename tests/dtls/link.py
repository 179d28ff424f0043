"""Two sans-IO DTLS peers joined by a simulated UDP link that loses, reorders and duplicates.

The clock is simulated too: retransmission timers fire when the test says time has passed, so
a lossy handshake takes milliseconds of real time and behaves the same on every run (seeded).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from zerotls.dtls.connection import DTLSConnection, DTLSListener
from zerotls.errors import ZeroTLSError
from zerotls.tls.engine import DataReceived, Event

CLIENT_ADDR = ("192.0.2.10", 40000)


@dataclass
class Link:
    """A one-way impairment: each datagram is lost, duplicated or delayed at random."""

    rng: random.Random
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    sent: int = 0
    lost: int = 0
    queue: list[tuple[float, bytes]] = field(default_factory=list)

    def put(self, datagram: bytes, now: float) -> None:
        self.sent += 1
        if self.rng.random() < self.loss:
            self.lost += 1
            return
        copies = 2 if self.rng.random() < self.duplicate else 1
        for _ in range(copies):
            delay = self.rng.uniform(0.001, 0.030) if self.rng.random() < self.reorder else 0.001
            self.queue.append((now + delay, datagram))

    def due(self, now: float) -> list[bytes]:
        ready = sorted((t, d) for t, d in self.queue if t <= now)
        self.queue = [(t, d) for t, d in self.queue if t > now]
        return [d for _, d in ready]


@dataclass
class Peers:
    client: DTLSConnection
    listener: DTLSListener
    up: Link
    down: Link
    server: DTLSConnection | None = None
    now: float = 0.0
    client_events: list[Event] = field(default_factory=list)
    server_events: list[Event] = field(default_factory=list)
    client_error: ZeroTLSError | None = None
    server_error: ZeroTLSError | None = None

    def step(self, dt: float = 0.005) -> None:
        self.now += dt
        for conn, link in ((self.client, self.up), (self.server, self.down)):
            if conn is None:
                continue
            try:
                conn.handle_timer(self.now)
            except ZeroTLSError as exc:
                self._fail(conn, exc)
            for d in conn.datagrams_to_send(self.now):
                link.put(d, self.now)
        for d in self.up.due(self.now):
            if self.server is None:
                reply, conn = self.listener.receive_untrusted(d, CLIENT_ADDR, self.now)
                if conn is not None:
                    self.server = conn
                for r in reply:
                    self.down.put(r, self.now)
            else:
                self._deliver(self.server, d)
        for d in self.down.due(self.now):
            self._deliver(self.client, d)
        self._collect()

    def _deliver(self, conn: DTLSConnection, datagram: bytes) -> None:
        try:
            conn.receive_datagram(datagram, self.now)
        except ZeroTLSError as exc:
            self._fail(conn, exc)

    def _fail(self, conn: DTLSConnection, exc: ZeroTLSError) -> None:
        if conn is self.client:
            self.client_error = self.client_error or exc
        else:
            self.server_error = self.server_error or exc

    def _collect(self) -> None:
        while (e := self.client.next_event()) is not None:
            self.client_events.append(e)
        if self.server is not None:
            while (e := self.server.next_event()) is not None:
                self.server_events.append(e)

    def run_until(self, done: object, seconds: float = 120.0) -> None:
        end = self.now + seconds
        while self.now < end and not done() and not (self.client_error or self.server_error):  # type: ignore[operator]
            self.step()
        if self.client_error or self.server_error:
            for _ in range(10):  # deliver the alert the failing side queued
                self.step()

    def handshake(self, seconds: float = 120.0) -> None:
        self.run_until(
            lambda: (
                self.client.handshake is not None
                and self.server is not None
                and self.server.handshake is not None
            ),
            seconds,
        )

    def received(self, side: str) -> list[bytes]:
        events = self.server_events if side == "server" else self.client_events
        return [e.data for e in events if isinstance(e, DataReceived)]
