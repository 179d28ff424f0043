"""Start ``openssl s_server`` and run ``openssl s_client`` as real peers.

Processes are started by us, on 127.0.0.1, and stopped by PID. A server is ready when its
port accepts TCP connections (s_server prints ACCEPT, but polling the port is simpler and
does not depend on buffering).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl") or "openssl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"peer exited early ({proc.returncode}): {out}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"peer did not listen on {port} within {timeout} s")


@dataclass
class SServer:
    port: int
    proc: subprocess.Popen[bytes]

    def output(self) -> str:
        """Stop the server and return everything it printed."""
        stop(self.proc)
        assert self.proc.stdout is not None
        return self.proc.stdout.read().decode(errors="replace")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def s_server(
    cert: Path, key: Path, *, ca: Path | None = None, extra: Sequence[str] = ()
) -> Iterator[SServer]:
    """``openssl s_server`` answering with a small HTTP reply (``-www``)."""
    port = free_port()
    cmd = [
        OPENSSL,
        "s_server",
        "-accept",
        f"127.0.0.1:{port}",
        "-cert",
        str(cert),
        "-key",
        str(key),
        "-www",
        "-naccept",
        "50",
    ]
    if ca is not None:
        cmd += ["-CAfile", str(ca)]
    cmd += list(extra)
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, proc)
        yield SServer(port, proc)
    finally:
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def s_client(
    port: int,
    *,
    ca: Path,
    cert: Path | None = None,
    key: Path | None = None,
    servername: str = "localhost",
    extra: Sequence[str] = (),
    send: bytes = b"ping\n",
    timeout: float = 15.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``openssl s_client`` once; its stdout+stderr come back in ``.stdout``."""
    cmd = [
        OPENSSL,
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-servername",
        servername,
        "-CAfile",
        str(ca),
        "-verify_return_error",
        "-ign_eof",
    ]
    if cert is not None and key is not None:
        cmd += ["-cert", str(cert), "-key", str(key)]
    cmd += list(extra)
    proc = subprocess.run(
        cmd,
        input=send,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )
    return subprocess.CompletedProcess(
        cmd, proc.returncode, proc.stdout.decode(errors="replace"), ""
    )
