"""The admin listener: ``/metrics`` (Prometheus), ``/healthz`` and ``/status`` (JSON).

A deliberately small HTTP/1.1 server: GET only, one request per connection, a bounded request
head read under a timeout, loopback by default (the config refuses anything else unless
``unsafe_target`` is set by name).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol

from zerotls.tunnel.metrics import Metrics

__all__ = ["AdminSource", "start_admin"]


class AdminSource(Protocol):
    """What the admin listener reads: the TCP tunnel and the UDP tunnel both provide it."""

    metrics: Metrics
    accepting: bool

    @property
    def servers(self) -> Any: ...

    def peer_snapshots(self) -> list[dict[str, Any]]: ...

    def status(self) -> dict[str, Any]: ...


_MAX_HEAD = 8192
_TIMEOUT = 5.0


async def start_admin(tunnel: AdminSource, host: str, port: int) -> asyncio.Server:
    """Serve the admin endpoints for ``tunnel`` on ``host:port``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
        ):
            writer.close()
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        method, path = (parts[0], parts[1].split("?", 1)[0]) if len(parts) >= 2 else ("", "")
        if method != "GET":
            status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
        elif path == "/metrics":
            status, ctype = "200 OK", "text/plain; version=0.0.4"
            refresh = getattr(tunnel, "refresh_gauges", None)
            if refresh is not None:
                refresh()
            body = tunnel.metrics.render(s["metrics"] for s in tunnel.peer_snapshots()).encode()
        elif path == "/healthz":
            ok = tunnel.accepting and bool(tunnel.servers)
            status = "200 OK" if ok else "503 Service Unavailable"
            ctype, body = "text/plain", b"ok\n" if ok else b"draining\n"
        elif path == "/status":
            status, ctype = "200 OK", "application/json"
            body = (json.dumps(tunnel.status(), indent=2) + "\n").encode()
        else:
            status, ctype, body = (
                "404 Not Found",
                "text/plain",
                b"try /metrics, /healthz, /status\n",
            )
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, port, limit=_MAX_HEAD)
