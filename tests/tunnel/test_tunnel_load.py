"""The tunnel under load, as a real process: big transfers, reloads under load, slowloris,
file-descriptor exhaustion. Every loop here is bounded in count and time."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import CLIENT_ID, PKI
from tests.peers.backends import EchoBackend, ThreadedBackend
from tests.peers.openssl import free_port, wait_for_port
from tests.tunnel.test_tunnel_processes import finish, tunnel_server, zerotls
from zerotls import connect

pytestmark = pytest.mark.peers


class HashBackend(ThreadedBackend):
    """Receives a stream, hashes it, and sends back a deterministic stream of the same length."""

    def __init__(self) -> None:
        self.digests: list[str] = []
        super().__init__(backlog=64)

    def handle(self, conn: socket.socket) -> None:
        header = _recv_exactly(conn, 8)
        size = int.from_bytes(header, "big")
        sender = threading.Thread(target=_send_stream, args=(conn, size, b"down"))
        sender.start()
        digest = hashlib.sha256()
        left = size
        while left:
            chunk = conn.recv(min(left, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        sender.join()
        self.digests.append(digest.hexdigest())


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("short read")
        data += chunk
    return data


def _stream_block(tag: bytes) -> bytes:
    return hashlib.sha256(tag).digest() * (1 << 15)  # 1 MiB, not all zeros


def _send_stream(sock: socket.socket, size: int, tag: bytes) -> None:
    block = _stream_block(tag)
    left = size
    while left:
        n = min(left, len(block))
        sock.sendall(block[:n])
        left -= n


def _expected(size: int, tag: bytes) -> str:
    digest, block, left = hashlib.sha256(), _stream_block(tag), size
    while left:
        n = min(left, len(block))
        digest.update(block[:n])
        left -= n
    return digest.hexdigest()


def _pump(port: int, pki: PKI, size: int, results: list[tuple[str, str]]) -> None:
    """Send ``size`` bytes up while receiving ``size`` down; record both SHA-256 digests."""
    with connect("127.0.0.1", port, pki.client_config()) as tls:
        tls.sendall(size.to_bytes(8, "big"))
        errors: list[BaseException] = []

        def upload() -> None:
            try:
                block, left = _stream_block(b"up"), size
                while left:
                    n = min(left, len(block))
                    tls.sendall(block[:n])
                    left -= n
            except BaseException as exc:  # reported below
                errors.append(exc)

        sender = threading.Thread(target=upload)
        sender.start()
        digest, got = hashlib.sha256(), 0
        while got < size:
            chunk = tls.recv(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
            got += len(chunk)
        sender.join()
        if errors:
            raise errors[0]
    results.append((_expected(size, b"up"), digest.hexdigest()))


def test_one_gib_each_way_with_equal_sha256(pki: PKI) -> None:
    backend = HashBackend()
    port = free_port()
    proc = tunnel_server(pki, port, backend.port, "--audit-log", "off")
    size = 1 << 30
    results: list[tuple[str, str]] = []
    try:
        _pump(port, pki, size, results)
    finally:
        code, _, err = finish(proc)
        backend.close()
    assert code == 0, err
    ((up_expected, down_got),) = results
    assert down_got == _expected(size, b"down")
    deadline = time.monotonic() + 10
    while not backend.digests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend.digests == [up_expected]


def test_reloads_under_load_with_a_certificate_swap(pki: PKI, tmp_path: Path) -> None:
    """Pumps hash data both ways while the tunnel reloads repeatedly (one reload swaps the
    server certificate): every hash matches and no connection fails."""
    backend = HashBackend()
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(pki.server.cert, certs / "server.pem")
    shutil.copy(pki.server.key, certs / "server.key")
    port = free_port()
    config = tmp_path / "tunnel.toml"
    config.write_text(
        textwrap.dedent(f"""\
        audit_log = "audit.jsonl"
        [[listener]]
        name = "front"
        listen = "127.0.0.1:{port}"
        [listener.tls]
        cert = "certs/server.pem"
        key = "certs/server.key"
        ca = "{pki.ca_path}"
        [[listener.route]]
        name = "hash"
        target = "127.0.0.1:{backend.port}"
        [[listener.route.rule]]
        name = "web"
        effect = "allow"
        spiffe = ["{CLIENT_ID}"]
    """)
    )
    proc = zerotls("tunnel", "run", "--config", str(config), "--workers", "2")
    wait_for_port(port, proc)
    results: list[tuple[str, str]] = []
    failures: list[BaseException] = []
    stop = time.monotonic() + 6  # bounded: pumps start for 6 s

    def worker() -> None:
        while time.monotonic() < stop:
            try:
                _pump(port, pki, 4 << 20, results)
            except BaseException as exc:
                failures.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            time.sleep(0.8)
            if i == 2:  # swap in a new certificate, as cert-manager would
                new = pki.write(
                    f"server-rotated-{os.getpid()}",
                    spiffe_id="spiffe://test.zerotls.dev/svc/db",
                    dns=["localhost"],
                    ips=["127.0.0.1"],
                    usage="server",
                )
                shutil.copy(new.key, certs / "server.key.new")
                shutil.copy(new.cert, certs / "server.pem.new")
                os.replace(certs / "server.key.new", certs / "server.key")
                os.replace(certs / "server.pem.new", certs / "server.pem")
            proc.send_signal(signal.SIGHUP)
        for t in threads:
            t.join(60)
    finally:
        code, _, err = finish(proc)
        backend.close()
    assert not failures, failures[:3]
    assert len(results) >= 8
    assert all(up == _expected(4 << 20, b"up") for up, _ in results)
    assert all(down == _expected(4 << 20, b"down") for _, down in results)
    assert code == 0, err
    assert "reload failed" not in err


def test_slowloris_is_cut_at_the_handshake_timeout(pki: PKI) -> None:
    """1,000 silent half-handshakes and 50 that trickle a byte every quarter second are all
    cut at the handshake timeout, while a legitimate client is served promptly."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    backend = EchoBackend()
    port = free_port()
    proc = tunnel_server(pki, port, backend.port, "--handshake-timeout", "1", "--audit-log", "off")
    silent: list[socket.socket] = []
    trickle: list[socket.socket] = []
    try:
        for i in range(1050):  # bounded: 1,050 slow clients
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing (or a trickle)
            (trickle if i % 21 == 0 else silent).append(s)
        stop = time.monotonic() + 2.5

        def drip() -> None:  # a byte every 0.25 s per trickling client, for 2.5 s at most
            while time.monotonic() < stop:
                for s in trickle:
                    with contextlib.suppress(OSError):
                        s.send(b"\x00")
                time.sleep(0.25)

        dripper = threading.Thread(target=drip)
        dripper.start()
        started = time.monotonic()
        with connect("127.0.0.1", port, pki.client_config()) as tls:  # a legitimate client
            tls.sendall(b"still served")
            assert tls.recv() == b"still served"
        assert time.monotonic() - started < 5
        dripper.join(10)
        time.sleep(0.5)  # well past the 1 s handshake timeout
        closed = 0
        for s in silent + trickle:
            s.settimeout(2)
            try:
                while s.recv(4096):  # an alert may come first; then the end
                    pass
                closed += 1
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                pass
        assert closed == len(silent) + len(trickle)
    finally:
        for s in silent + trickle:
            s.close()
        code, _, err = finish(proc)
        backend.close()
    assert code == 0, err


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs util-linux prlimit")
@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_fd_exhaustion_backs_off_and_logs_once(pki: PKI, loop: str) -> None:
    backend = EchoBackend()
    port = free_port()
    proc = tunnel_server(
        pki,
        port,
        backend.port,
        "--audit-log",
        "off",
        "--loop",
        loop,
        wrapper=("prlimit", "--nofile=48:48"),
    )
    held: list[socket.socket] = []
    try:
        for _ in range(120):  # more than the tunnel has descriptors for
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        time.sleep(3)
        for s in held:
            s.close()
        held.clear()
        time.sleep(1.5)  # asyncio retries accept after a one-second back-off
        with connect("127.0.0.1", port, pki.client_config()) as tls:
            tls.sendall(b"recovered")
            assert tls.recv() == b"recovered"
    finally:
        for s in held:
            s.close()
        code, _, err = finish(proc)
        backend.close()
    assert code == 0, err
    assert err.count("out of file descriptors") <= 2  # a line per 10 s, not a flood
    assert "out of file descriptors" in err
    assert "Traceback" not in err
