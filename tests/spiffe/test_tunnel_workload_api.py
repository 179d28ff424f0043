"""The tunnel with its identity from a Workload API (tests/spiffe/agent.py speaks the real
gRPC protocol): a rotation during a running echo through `zerotls tunnel server` with two
workers fails no connection and shows in the next handshakes, /status and /metrics show the
SVID, and a missing agent or mixed flags are one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("grpc", reason="grpcio is not installed (pip install 'zerotls[spiffe]')")

from tests.peers.backends import EchoBackend
from tests.peers.openssl import free_port, wait_for_port
from tests.spiffe.agent import Agent, Identity
from zerotls import connect
from zerotls.pki import CA
from zerotls.spiffe import WorkloadAPI
from zerotls.tls.config import ClientConfig

pytestmark = pytest.mark.peers

DOMAIN = "a.example"
SERVER_ID = f"spiffe://{DOMAIN}/db"
CLIENT_ID = f"spiffe://{DOMAIN}/web"


@pytest.fixture
def agents() -> Iterator[dict[str, Agent]]:
    ca = CA.create("trust domain a")
    sockdir = Path(tempfile.mkdtemp(prefix="zt-tw-", dir="/tmp"))  # short unix socket paths
    made = {
        "server": Agent(sockdir / "server.sock", Identity(SERVER_ID, ca)).start(),
        "client": Agent(sockdir / "client.sock", Identity(CLIENT_ID, ca)).start(),
    }
    yield made
    for agent in made.values():
        agent.stop()


def _tunnel(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "zerotls", "tunnel", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return str(r.read().decode())


def test_a_rotation_during_an_echo_through_the_tunnel(agents: dict[str, Agent]) -> None:
    backend = EchoBackend()
    port, admin = free_port(), free_port()
    proc = _tunnel(
        "server", "--listen", f"127.0.0.1:{port}", "--target", f"127.0.0.1:{backend.port}",
        "--workload-api", agents["server"].address, "--allow", CLIENT_ID,
        "--admin", f"127.0.0.1:{admin}", "--workers", "2", "--audit-log", "off",
    )  # fmt: skip
    try:
        wait_for_port(port, proc)
        wait_for_port(admin, proc)
        first = agents["server"].identity.issued
        assert first is not None
        status = json.loads(_get(admin, "/status"))
        assert status["workload_api"]["server"]["spiffe_id"] == SERVER_ID
        assert status["workload_api"]["server"]["serial"] == format(first.cert.serial_number, "x")

        with WorkloadAPI(agents["client"].address, timeout=5) as source:
            config = ClientConfig(identity=source, expect_identity=SERVER_ID)
            serials: list[int] = []
            rotated_at = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(serials) < 120:
                with connect("127.0.0.1", port, config, timeout=5) as conn:
                    message = f"echo {len(serials)}\n".encode()
                    conn.sendall(message)
                    assert conn.recv_exactly(len(message)) == message  # none may fail
                    assert conn.identity is not None and conn.identity.spiffe_id == SERVER_ID
                    serials.append(conn.identity.serial_number)
                if len(serials) == 40:
                    second = agents["server"].rotate()
                    rotated_at = len(serials)
                if rotated_at is not None and len(serials) >= rotated_at + 60:
                    break
        assert rotated_at is not None, "the echo loop did not reach the rotation"
        assert set(serials[:rotated_at]) == {first.cert.serial_number}
        # Both workers follow the agent: after a moment every handshake shows the new SVID.
        assert set(serials[-20:]) == {second.cert.serial_number}, serials
        status = json.loads(_get(admin, "/status"))
        assert status["workload_api"]["server"]["serial"] == format(second.cert.serial_number, "x")
        expires = second.cert.not_valid_after_utc.timestamp()
        metrics = _get(admin, "/metrics")
        line = next(
            m for m in metrics.splitlines() if m.startswith("zerotls_certificate_not_after_seconds")
        )
        assert abs(float(line.rsplit(" ", 1)[1]) - expires) < 1, line
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        backend.close()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_missing_agent_is_one_line_with_what_to_check(workers: str, tmp_path: Path) -> None:
    proc = _tunnel(
        "server", "--listen", f"127.0.0.1:{free_port()}", "--target", "127.0.0.1:9",
        "--workload-api", f"unix://{tmp_path}/agent.sock", "--allow", CLIENT_ID,
        "--workers", workers,
    )  # fmt: skip
    _, err = proc.communicate(timeout=30)
    text = err.decode()
    # One worker waits for the agent (10 s) and says what it last heard; several check the
    # socket before they fork.
    assert proc.returncode == (3 if workers == "1" else 2), text
    assert "Traceback" not in text
    assert "agent" in text and "agent.sock" in text, text


def test_mixed_or_missing_identity_flags_say_which() -> None:
    both = _tunnel(
        "server", "--listen", "127.0.0.1:1", "--target", "127.0.0.1:9",
        "--workload-api", "unix:///nowhere.sock", "--cert", "x.pem", "--allow", "any",
    )  # fmt: skip
    _, err = both.communicate(timeout=30)
    assert both.returncode == 2 and "drop --cert" in err.decode(), err
    neither = _tunnel("server", "--listen", "127.0.0.1:1", "--target", "127.0.0.1:9")
    _, err = neither.communicate(timeout=30)
    assert neither.returncode == 2 and "missing --cert, --key, --ca" in err.decode(), err


def test_the_toml_config_takes_workload_api_per_listener(
    agents: dict[str, Agent], tmp_path: Path
) -> None:
    config = tmp_path / "tunnel.toml"
    config.write_text(
        f"""
[[listener]]
name = "db"
listen = "127.0.0.1:0"
[listener.tls]
workload_api = "{agents["server"].address}"
[[listener.route]]
name = "default"
target = "127.0.0.1:5432"
rule = [{{ name = "web", effect = "allow", spiffe = ["{CLIENT_ID}"] }}]

[[listener]]
name = "out"
mode = "client"
listen = "127.0.0.1:0"
[[listener.route]]
name = "remote"
target = "127.0.0.1:8443"
tls = {{ workload_api = "{agents["client"].address}", expect_identity = "{SERVER_ID}" }}
""",
        encoding="utf-8",
    )
    check = _tunnel("check", "--config", str(config))
    out, err = check.communicate(timeout=30)
    assert check.returncode == 0, err.decode()
    text = out.decode()
    assert (
        f"client certs from trust bundles from the Workload API at {agents['server'].address}"
        in text
    )
    assert f"as the SVID from the Workload API at {agents['client'].address}" in text
    bad = tmp_path / "bad.toml"
    bad.write_text(
        config.read_text().replace("[listener.tls]\n", '[listener.tls]\ncert = "a.pem"\n', 1)
    )
    check = _tunnel("check", "--config", str(bad))
    _, err = check.communicate(timeout=30)
    assert check.returncode == 2 and "drop cert" in err.decode(), err.decode()


def test_the_dtls_tunnel_takes_its_identity_from_the_agent(agents: dict[str, Agent]) -> None:
    """`tunnel dtls-server --workload-api` on two workers, and `connect --dtls
    --workload-api` through it to a UDP echo: both ends present the agents' SVIDs."""
    from tests.tunnel.test_udp import echo_in_thread

    port = free_port()
    with echo_in_thread() as (_, echo_port):
        proc = _tunnel(
            "dtls-server", "--listen", f"127.0.0.1:{port}", "--target", f"127.0.0.1:{echo_port}",
            "--workload-api", agents["server"].address, "--allow", CLIENT_ID, "--workers", "2",
        )  # fmt: skip
        try:
            assert proc.stderr is not None
            assert b"DTLS tunnel (server)" in proc.stderr.readline()
            result = subprocess.run(
                [sys.executable, "-m", "zerotls", "connect", f"127.0.0.1:{port}", "--dtls",
                 "--expect", SERVER_ID, "--workload-api", agents["client"].address,
                 "--send", "ping", "--json"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["reply"] == "echo:ping"
    assert answer["identity"]["spiffe_id"] == SERVER_ID
    issued = agents["server"].identity.issued
    assert issued is not None
    assert answer["identity"]["serial_number"] == f"{issued.cert.serial_number:x}"
    events = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert [e["spiffe_id"] for e in events] == [CLIENT_ID], events
    assert b"Traceback" not in err
