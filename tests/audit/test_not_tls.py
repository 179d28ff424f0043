"""Endpoints that never speak TLS (silent, garbage, an endless stream) are "no TLS here" with
exit 3, like a refused connection, never a grade "F" with exit 0."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from zerotls.cli import main


def _serve(behave: Callable[[socket.socket], None]) -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=behave, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    listener.close()


def silent(conn: socket.socket) -> None:
    conn.settimeout(5)
    try:
        conn.recv(65536)
        conn.recv(65536)  # read the hello, answer nothing, until the client gives up
    except OSError:
        pass
    conn.close()


def garbage(conn: socket.socket) -> None:
    try:
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + os.urandom(64))
    except OSError:
        pass
    conn.close()


def endless(conn: socket.socket) -> None:
    conn.settimeout(5)
    try:
        for _ in range(2000):  # bounded: about 2 MB, then it stops by itself
            conn.sendall(b"A" * 1024)
    except OSError:
        pass
    conn.close()


@pytest.mark.parametrize("behave", [silent, garbage, endless], ids=lambda f: f.__name__)
def test_no_tls_here_exits_3(
    behave: Callable[[socket.socket], None], capsys: pytest.CaptureFixture[str]
) -> None:
    for port in _serve(behave):
        code = main(["audit", "tls", f"127.0.0.1:{port}", "--timeout", "1"])
        captured = capsys.readouterr()
        assert code == 3, captured.out
        assert "no TLS here" in captured.err + captured.out
        assert "Grade F" not in captured.out and "grade: F" not in captured.out.lower()
