"""`zerotls connect --workload-api` and `zerotls doctor --workload-api` against a Workload API
server speaking the real protocol (tests/spiffe/agent.py)."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("grpc", reason="grpcio is not installed (pip install 'zerotls[spiffe]')")

from tests.spiffe.agent import Agent, Identity
from zerotls.cli import main
from zerotls.pki import CA
from zerotls.spiffe import WorkloadAPI
from zerotls.tls import TLSSocket, serve
from zerotls.tls.config import ServerConfig

A = "a.example"
SERVER_ID, CLIENT_ID = f"spiffe://{A}/db", f"spiffe://{A}/web"


@pytest.fixture
def agents() -> Iterator[dict[str, Agent]]:
    ca = CA.create("trust domain a")
    sockdir = Path(tempfile.mkdtemp(prefix="zt-wc-", dir="/tmp"))
    made = {
        "server": Agent(sockdir / "s.sock", Identity(SERVER_ID, ca)).start(),
        "client": Agent(sockdir / "c.sock", Identity(CLIENT_ID, ca)).start(),
    }
    yield made
    for agent in made.values():
        agent.stop()


def test_connect_as_the_agents_svid(
    agents: dict[str, Agent], capsys: pytest.CaptureFixture[str]
) -> None:
    def handler(tls: TLSSocket) -> None:
        assert tls.identity is not None
        if tls.recv():  # answer what it sent with the name we saw
            tls.sendall(tls.identity.name.encode())

    with WorkloadAPI(agents["server"].address, timeout=5) as source:
        server = serve(
            handler,
            "127.0.0.1",
            0,
            ServerConfig(identity=source, allowed_identities=frozenset({CLIENT_ID})),
        )
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        with server:
            where = f"127.0.0.1:{server.port}"
            client = agents["client"].address
            assert main(["connect", where, "--expect", SERVER_ID, "--workload-api", client]) == 0
            out = capsys.readouterr().out
            issued = agents["client"].identity.issued
            assert issued is not None
            assert f"identity: {SERVER_ID}" in out
            assert f"as:       {CLIENT_ID} (SVID serial {issued.cert.serial_number:x}" in out
            ask = ["--json", "--send", "who"]
            code = main(["connect", where, "--expect", SERVER_ID, "--workload-api", client, *ask])
            assert code == 0
            result = json.loads(capsys.readouterr().out)
            assert result["reply"] == CLIENT_ID  # the server saw the agent's SVID
            assert result["workload_api"]["spiffe_id"] == CLIENT_ID
            # A SPIFFE ID the server does not carry is refused as with files.
            wrong = ["connect", where, "--expect", f"spiffe://{A}/other", "--workload-api", client]
            assert main(wrong) == 1
            assert "spiffe://a.example/other" in capsys.readouterr().err
        thread.join(5)


def test_doctor_reports_what_the_agent_serves(
    agents: dict[str, Agent], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["doctor", "--json", "--workload-api", agents["client"].address])
    checks = {c["id"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["workload_api"]["status"] == "ok", checks["workload_api"]
    assert CLIENT_ID in checks["workload_api"]["detail"]
    assert "bundles for a.example" in checks["workload_api"]["detail"]
    main(["doctor", "--verbose", "--workload-api", f"unix://{tmp_path}/none.sock"])
    text = capsys.readouterr().out
    assert "no SVID from the Workload API at unix://" in text
    assert "registered" in text  # the fix says what to check
