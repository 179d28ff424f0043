"""Cleartext services for tunnel tests: threaded, on 127.0.0.1, closed by the test."""

from __future__ import annotations

import contextlib
import socket
import threading


class ThreadedBackend:
    """Accepts on a free loopback port and runs :meth:`handle` in a thread per connection."""

    def __init__(self, backlog: int = 128) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.accepted.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(ConnectionResetError, BrokenPipeError):
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


class EchoBackend(ThreadedBackend):
    """Echoes; with ``once``, one message and then it closes (s_client waits for that)."""

    def __init__(self, *, once: bool = False) -> None:
        self.once = once
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        while data := conn.recv(65536):
            conn.sendall(data)
            if self.once:
                break
