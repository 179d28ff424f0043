"""Client simulations against real servers: openssl s_server TLS 1.3 only (the older
generations refused), a legacy TLS 1.0-1.2 server (they connect, and a TLS 1.3 client falls
back to 1.2), and zerotls's own server (the post-quantum client gets the hybrid group)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit.conftest import Certs, audit
from tests.conftest import PKI
from tests.peers.legacy import Server, openssl_server
from zerotls.audit.model import ClientSimulationResult, SimulatedClient
from zerotls.audit.probes.clients import CLIENTS
from zerotls.audit.reports import render_text
from zerotls.tls.sync import TLSSocket, serve

pytestmark = pytest.mark.peers


def _sims(result: object) -> list[SimulatedClient]:
    assert isinstance(result, ClientSimulationResult) and result.error is None, result
    assert [s.name for s in result.clients] == [c.name for c in CLIENTS]
    return list(result.clients)


def test_a_tls13_only_server_refuses_the_older_generations(
    tls13_only: Server, certs: Certs
) -> None:
    report = audit(tls13_only, certs.ca, probes=("clients",))
    tls10, cbc12, aead12, tls13, hybrid = _sims(report.results["clients"])
    for old in (tls10, cbc12, aead12):
        assert not old.connects and "alert" in old.detail, old
    assert tls13.connects and tls13.version == "TLS 1.3" and tls13.group == "x25519", tls13
    assert tls13.suite is not None and tls13.suite.startswith("TLS_AES_")
    assert hybrid.connects and hybrid.group == "x25519"  # OpenSSL 3.0 has no hybrid
    text = render_text([report])
    assert "Client simulations" in text and "refused: alert" in text


def test_a_legacy_server_lets_them_in_and_a_tls13_client_falls_back(
    legacy_tls10: Server, certs: Certs
) -> None:
    report = audit(legacy_tls10, certs.ca, probes=("clients",))
    tls10, cbc12, aead12, tls13, _ = _sims(report.results["clients"])
    assert tls10.connects and tls10.version == "TLS 1.0", tls10
    assert cbc12.connects and cbc12.version == "TLS 1.2" and "CBC" in (cbc12.suite or "")
    assert aead12.connects and aead12.version == "TLS 1.2"
    assert tls13.connects and tls13.version == "TLS 1.2", tls13  # the server stops at 1.2


def test_the_post_quantum_client_gets_the_hybrid_from_zerotls(pki: PKI) -> None:
    def handler(tls: TLSSocket) -> None:
        tls.close()

    server = serve(handler, "127.0.0.1", 0, pki.server_config(require_client_cert=False))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        report = audit(f"127.0.0.1:{server.port}", pki.ca_path, probes=("clients",))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    *_, tls13, hybrid = _sims(report.results["clients"])
    assert tls13.connects and tls13.version == "TLS 1.3"
    assert hybrid.connects and hybrid.group == "X25519MLKEM768", hybrid
    assert "HelloRetryRequest" in hybrid.detail


@pytest.fixture(scope="module")
def p384_first(certs: Certs) -> Iterator[Server]:
    """The server's own order, P-384 before X25519: the group rules, not only the suites'."""
    extra = ["-cipher", "ECDHE+AESGCM", "-serverpref", "-groups", "P-384:X25519"]
    with openssl_server(certs.rsa.cert, certs.rsa.key, extra=extra) as server:
        yield server


@pytest.mark.parametrize(
    "server", ["tls13_only", "tls12_13", "legacy_tls10", "static_rsa", "p384_first"]
)
def test_computed_simulations_match_real_connections(
    server: str, certs: Certs, request: pytest.FixtureRequest
) -> None:
    """The rules that compute the real-client table (no connections) give, for the five
    generations, what their real connections got on each server: version, suite, group."""
    from zerotls.audit.simulate import simulate_all

    target: Server = request.getfixturevalue(server)
    report = audit(target, certs.ca, probes=("protocols", "groups", "clients"))
    measured = _sims(report.results["clients"])
    computed = simulate_all(report.results, CLIENTS)
    assert computed is not None
    for real, sim in zip(measured, computed.clients, strict=True):
        assert (sim.connects, sim.version, sim.suite, sim.group) == (
            real.connects,
            real.version,
            real.suite,
            real.group,
        ), (real, sim)
    table = report.results["simulations"]  # the real clients, computed in every scan
    assert isinstance(table, ClientSimulationResult) and len(table.clients) >= 10
    assert "Real clients (computed" in render_text([report])


_GNUTLS_CHECK = """
import json, sys
from pathlib import Path
from zerotls.audit import scan
from zerotls.audit.model import ScanOptions, Target
from zerotls.audit.probes.clients import CLIENTS
from zerotls.audit.simulate import simulate_all

probes = ("protocols", "groups", "clients", "robot", "ticketbleed", "grease")
[r] = scan([Target.parse(sys.argv[1], server_name="localhost")],
           ScanOptions(ca_file=Path(sys.argv[2]), probes=probes, timeout=5))
computed = simulate_all(r.results, CLIENTS)
pairs = [[[m.connects, m.version, m.suite, m.group], [c.connects, c.version, c.suite, c.group]]
         for m, c in zip(r.results["clients"].clients, computed.clients)]
print(json.dumps({"error": r.error, "pairs": pairs,
                  "robot": r.results["robot"].vulnerable,
                  "ticketbleed": r.results["ticketbleed"].detail,
                  "grease": [r.results["grease"].tolerant, r.results["grease"].large_hello]}))
"""


@pytest.mark.skipif(shutil.which("gnutls-serv") is None, reason="gnutls-bin is not installed")
@pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("ip") is None,
    reason="no unshare(1) or ip(8) for a network namespace",
)
def test_a_second_tls_stack_gnutls(certs: Certs, tmp_path: Path) -> None:
    """GnuTLS, another TLS stack than every other peer here: the computed simulations equal
    the real connections (it follows the client's group order, unlike s_server -serverpref),
    and ROBOT, Ticketbleed, GREASE and the large hello find nothing wrong. gnutls-serv
    listens on every address, so it runs in a network namespace with only a loopback, and
    the scan beside it there."""
    port = 24434
    check = tmp_path / "check.py"
    check.write_text(_GNUTLS_CHECK)
    script = tmp_path / "run.sh"
    script.write_text(
        "set -e\nip link set lo up\n"
        f"gnutls-serv -p {port} --x509certfile {certs.rsa.cert} --x509keyfile {certs.rsa.key} "
        "--priority NORMAL:+RSA:+VERS-TLS1.0:+VERS-TLS1.1 > /dev/null 2>&1 &\n"
        "pid=$!\n"
        f"for i in $(seq 100); do grep -qi ':{port:04X} ' /proc/net/tcp6 /proc/net/tcp && "
        "break; sleep 0.05; done\n"
        f"{sys.executable} {check} 127.0.0.1:{port} {certs.ca} || true\n"
        "kill $pid\n"
    )
    done = subprocess.run(
        ["unshare", "-n", "sh", str(script)], capture_output=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    if done.returncode != 0 and b"Operation not permitted" in done.stderr:
        pytest.skip("no permission to create a network namespace here")
    result = json.loads(done.stdout)
    assert result["error"] is None
    assert any(measured[0] for measured, _ in result["pairs"])  # some generation connects
    for measured, computed in result["pairs"]:
        assert computed == measured
    assert result["robot"] is False
    assert "echoed at its own length" in result["ticketbleed"]  # GnuTLS resumed the ticket
    assert result["grease"] == [True, True]
