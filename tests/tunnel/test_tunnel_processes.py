"""The tunnel as real processes: `zerotls tunnel` against openssl s_client, stunnel as a client,
and our own client mode; signals (SIGHUP reload, SIGTERM drain) and the admin listener."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLIENT_ID, PKI
from tests.peers.backends import EchoBackend
from tests.peers.openssl import free_port, s_client, stop, wait_for_port
from zerotls import TLSAlert, connect

pytestmark = pytest.mark.peers


@pytest.fixture
def backend() -> Iterator[EchoBackend]:
    be = EchoBackend()
    yield be
    be.close()


def zerotls(*args: str, wrapper: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """``python -m zerotls ARGS`` as a process (``wrapper``: e.g. a prlimit prefix)."""
    return subprocess.Popen(
        [*wrapper, sys.executable, "-m", "zerotls", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def tunnel_server(
    pki: PKI, port: int, backend_port: int, *extra: str, wrapper: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    proc = zerotls(
        "tunnel",
        "server",
        "--listen",
        f"127.0.0.1:{port}",
        "--target",
        f"127.0.0.1:{backend_port}",
        "--cert",
        str(pki.server.cert),
        "--key",
        str(pki.server.key),
        "--ca",
        str(pki.ca_path),
        "--allow",
        CLIENT_ID,
        *(extra if "--workers" in extra else (*extra, "--workers", "1")),
        wrapper=wrapper,
    )
    wait_for_port(port, proc)
    return proc


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out.decode(), err.decode()


def tls_events(text: str) -> list[dict[str, object]]:
    """Audit events of connections that spoke TLS (not the readiness probes of the tests)."""
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [e for e in events if e["tls_version"] or e["alert"] or e["decision"]]


def test_openssl_s_client_through_the_tunnel(pki: PKI) -> None:
    backend = EchoBackend(once=True)  # s_client waits for the server to close
    port = free_port()
    proc = tunnel_server(pki, port, backend.port)
    try:
        ok = s_client(
            port,
            ca=pki.ca_path,
            cert=pki.client.cert,
            key=pki.client.key,
            send=b"through the tunnel\n",
            extra=["-quiet"],
        )
        assert "through the tunnel" in ok.stdout
        anon = s_client(port, ca=pki.ca_path)
        assert "certificate required" in anon.stdout
    finally:
        code, out, err = finish(proc)
        backend.close()
    assert code == 0, err
    events = tls_events(out)
    assert [e["decision"] for e in events] == ["allow", None]
    assert events[0]["spiffe_id"] == CLIENT_ID and events[0]["bytes_in"] == 19
    assert events[1]["alert"] == "certificate_required"
    assert "Traceback" not in err


def test_stunnel_client_through_our_server(pki: PKI, backend: EchoBackend, tmp_path: Path) -> None:
    port, sport = free_port(), free_port()
    proc = tunnel_server(pki, port, backend.port)
    conf = tmp_path / "stunnel.conf"
    conf.write_text(
        textwrap.dedent(f"""\
        foreground = yes
        pid =
        debug = 4
        [zt]
        client = yes
        accept = 127.0.0.1:{sport}
        connect = 127.0.0.1:{port}
        cert = {pki.client.cert}
        key = {pki.client.key}
        CAfile = {pki.ca_path}
        verifyChain = yes
        checkHost = localhost
        sslVersionMin = TLSv1.3
    """)
    )
    try:
        st = subprocess.Popen(
            ["stunnel4", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
    except FileNotFoundError:
        finish(proc)  # never leave our tunnel running when the peer cannot start
        raise
    try:
        wait_for_port(sport, st)  # type: ignore[arg-type]
        with socket.create_connection(("127.0.0.1", sport), timeout=10) as s:
            s.sendall(b"hello from stunnel")
            got = b""
            while len(got) < 18:
                chunk = s.recv(100)
                assert chunk
                got += chunk
        assert got == b"hello from stunnel"
    finally:
        stop(st)  # type: ignore[arg-type]
        code, out, _ = finish(proc)
    assert code == 0
    assert tls_events(out)[0]["decision"] == "allow"


def test_our_client_mode_to_our_server_mode(pki: PKI, backend: EchoBackend) -> None:
    port, cport = free_port(), free_port()
    server = tunnel_server(pki, port, backend.port, "--audit-log", "off")
    client = zerotls(
        "tunnel",
        "client",
        "--listen",
        f"127.0.0.1:{cport}",
        "--target",
        f"127.0.0.1:{port}",
        "--expect",
        "spiffe://test.zerotls.dev/svc/db",
        "--ca",
        str(pki.ca_path),
        "--cert",
        str(pki.client.cert),
        "--key",
        str(pki.client.key),
        "--workers",
        "1",
    )
    try:
        wait_for_port(cport, client)
        payload = os.urandom(4 * 1024 * 1024)
        with socket.create_connection(("127.0.0.1", cport), timeout=20) as s:
            threading.Thread(
                target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)), daemon=True
            ).start()
            got = bytearray()
            while chunk := s.recv(1 << 20):
                got += chunk
        assert got == payload  # 4 MiB both ways through two tunnels, half-close included
    finally:
        ccode, cout, _ = finish(client)
        scode, _, _ = finish(server)
    assert (ccode, scode) == (0, 0)
    event = max(tls_events(cout), key=lambda e: int(e["bytes_in"]))  # type: ignore[call-overload]
    assert event["mode"] == "client" and event["bytes_in"] == len(payload)


def http_get(url: str) -> tuple[int, str]:
    """A plain HTTP/1.1 GET over a socket we own (the admin listener closes after replying)."""
    hostport, _, path = url.removeprefix("http://").partition("/")
    host, port = hostport.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\n\r\n".encode())
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def test_sighup_reload_and_admin_endpoints(pki: PKI, backend: EchoBackend, tmp_path: Path) -> None:
    port, admin = free_port(), free_port()
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[[rule]]\nname = "web"\neffect = "allow"\nspiffe = ["{CLIENT_ID}"]\n')
    config = tmp_path / "tunnel.toml"
    config.write_text(
        textwrap.dedent(f"""\
        audit_log = "audit.jsonl"
        admin = "127.0.0.1:{admin}"
        [[listener]]
        name = "front"
        listen = "127.0.0.1:{port}"
        [listener.tls]
        cert = "{pki.server.cert}"
        key = "{pki.server.key}"
        ca = "{pki.ca_path}"
        [[listener.route]]
        name = "echo"
        target = "127.0.0.1:{backend.port}"
        policy = "policy.toml"
    """)
    )
    check = subprocess.run(
        [sys.executable, "-m", "zerotls", "tunnel", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "route echo" in check.stdout and "default deny" in check.stdout
    proc = zerotls("tunnel", "run", "--config", str(config), "--workers", "1")
    try:
        wait_for_port(port, proc)
        wait_for_port(admin, proc)
        with connect("127.0.0.1", port, pki.client_config()) as tls:
            tls.sendall(b"1")
            assert tls.recv() == b"1"
        # Deny web from now on; reload by signal.
        policy.write_text(
            '[[rule]]\nname = "nobody"\neffect = "allow"\n'
            'spiffe = ["spiffe://test.zerotls.dev/svc/nobody"]\n'
        )
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        status: dict[str, object] = {}
        while time.monotonic() < deadline:
            status = json.loads(http_get(f"http://127.0.0.1:{admin}/status")[1])
            if status["config_version"] == 2:
                break
            time.sleep(0.1)
        assert status["config_version"] == 2
        with connect("127.0.0.1", port, pki.client_config()) as tls, pytest.raises(TLSAlert):
            tls.sendall(b"2")
            tls.recv()
        metrics = http_get(f"http://127.0.0.1:{admin}/metrics")[1]
        assert (
            'zerotls_connections_total{listener="front",route="echo",decision="allow"} 1' in metrics
        )
        assert 'zerotls_denied_total{listener="front",route="echo",rule="default"} 1' in metrics
        assert "zerotls_certificate_not_after_seconds" in metrics
        assert http_get(f"http://127.0.0.1:{admin}/healthz") == (200, "ok\n")
    finally:
        code, _, err = finish(proc)
    assert code == 0, err
    events = tls_events((tmp_path / "audit.jsonl").read_text())
    assert [e["decision"] for e in events] == ["allow", "deny"]


def test_sigterm_drains_open_connections(pki: PKI, backend: EchoBackend) -> None:
    port = free_port()
    proc = tunnel_server(pki, port, backend.port)
    with connect("127.0.0.1", port, pki.client_config()) as tls:
        tls.sendall(b"before")
        assert tls.recv() == b"before"
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(OSError):  # no longer accepting
            probe = socket.create_connection(("127.0.0.1", port), timeout=2)
            probe.close()
        tls.sendall(b"during drain")  # the open connection still works
        assert tls.recv() == b"during drain"
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert tls_events(out.decode())[0]["close_reason"] == "client_close"


def test_two_workers_share_the_port_and_the_metrics_add_up(pki: PKI, backend: EchoBackend) -> None:
    port, admin = free_port(), free_port()
    proc = tunnel_server(
        pki,
        port,
        backend.port,
        "--workers",
        "2",
        "--audit-log",
        "off",
        "--admin",
        f"127.0.0.1:{admin}",
    )
    try:
        wait_for_port(admin, proc)
        for i in range(12):  # fresh connections: the kernel spreads them over both workers
            with connect("127.0.0.1", port, pki.client_config()) as tls:
                tls.sendall(b"w%d" % i)
                assert tls.recv() == b"w%d" % i
        line = 'zerotls_connections_total{listener="server",route="default",decision="allow"}'
        deadline, total = time.monotonic() + 10, 0
        while time.monotonic() < deadline:
            metrics = http_get(f"http://127.0.0.1:{admin}/metrics")[1]
            found = [x for x in metrics.splitlines() if x.startswith(line)]
            total = int(found[0].split()[-1]) if found else 0
            if total == 12:
                break
            time.sleep(0.2)
        assert total == 12  # both workers' connections, counted once each
        status = json.loads(http_get(f"http://127.0.0.1:{admin}/status")[1])
        assert [w["worker"] for w in status["workers"]] == [0, 1]
    finally:
        code, _, err = finish(proc)
    assert code == 0, err
    assert "Traceback" not in err


def test_cli_server_refuses_a_revoked_client_and_says_so(
    pki: PKI, backend: EchoBackend, tmp_path: Path
) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives import serialization

    revoked = pki.write("cli-revoked", spiffe_id=CLIENT_ID, usage="client")
    crl = tmp_path / "crl.pem"
    entry = (revoked.issued.cert.serial_number, dt.datetime.now(dt.UTC), "superseded")
    crl.write_bytes(pki.ca.crl([entry]).public_bytes(serialization.Encoding.PEM))
    port = free_port()
    proc = tunnel_server(pki, port, backend.port, "--crl", str(crl))
    try:
        with pytest.raises(TLSAlert) as err:
            with connect(
                "127.0.0.1", port, pki.client_config(cert=revoked.cert, key=revoked.key)
            ) as tls:
                tls.await_verdict()
        assert err.value.description == "certificate_revoked"
        with connect("127.0.0.1", port, pki.client_config()) as tls:
            tls.sendall(b"ok?")
            assert tls.recv() == b"ok?"
    finally:
        code, out, _ = finish(proc)
    assert code == 0
    events = tls_events(out)
    assert [e["revocation"] for e in events] == ["revoked (superseded)", f"crl good (file {crl})"]
