"""Two sans-IO engines back to back, in memory (h11's ConnectionPair, aioquic's transfer)."""

from __future__ import annotations

from dataclasses import dataclass, field

from zerotls.errors import ZeroTLSError
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.context import TLSContext
from zerotls.tls.engine import Event, TLSConnection


@dataclass
class Pair:
    client: TLSConnection
    server: TLSConnection
    client_events: list[Event] = field(default_factory=list)
    server_events: list[Event] = field(default_factory=list)
    client_error: ZeroTLSError | None = None
    server_error: ZeroTLSError | None = None

    def run(self, rounds: int = 10) -> Pair:
        """Shuttle bytes until quiet or until one side fails; deliver the failing side's
        alert to the other side (as the I/O layers do)."""
        for _ in range(rounds):
            moved = False
            for src, dst, name in (
                (self.client, self.server, "server"),
                (self.server, self.client, "client"),
            ):
                data = src.data_to_send()
                if not data or dst.error is not None:
                    continue
                moved = True
                try:
                    getattr(self, f"{name}_events").extend(dst.receive_data(data))
                except ZeroTLSError as exc:
                    setattr(self, f"{name}_error", exc)
                    alert = dst.data_to_send()
                    other = "client" if name == "server" else "server"
                    if alert and src.error is None:
                        try:
                            getattr(self, f"{other}_events").extend(src.receive_data(alert))
                        except ZeroTLSError as exc2:
                            setattr(self, f"{other}_error", exc2)
                    return self
            if not moved:
                break
        return self


def pair(client: ClientConfig, server: ServerConfig) -> Pair:
    return Pair(TLSContext(client).connection(), TLSContext(server).connection()).run()
