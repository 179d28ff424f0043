"""DTLS endpoints audited over UDP against real servers: OpenSSL's s_server -dtls (cookie
exchange on), GnuTLS's gnutls-serv --udp with and without --nocookie (the amplifier), and a
port where nothing answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PKI
from tests.peers.openssl import OPENSSL, free_port, stop
from zerotls.audit import ScanOptions, scan
from zerotls.audit.model import DTLSCookieResult, Target

pytestmark = pytest.mark.peers


def _udp_bound(port: int) -> bool:
    needle = f":{port:04X} "
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            if needle in Path(table).read_text():
                return True
        except OSError:
            continue
    return False


@contextmanager
def openssl_dtls(pki: PKI, *extra: str) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-dtls", "-accept", f"127.0.0.1:{port}", "-cert",
         str(pki.server.cert), "-key", str(pki.server.key), "-quiet", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not _udp_bound(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield port
    finally:
        stop(proc)


def test_an_openssl_dtls_server_is_graded_with_its_suites_and_cookie(pki: PKI) -> None:
    with openssl_dtls(pki) as port:
        [report] = scan([f"dtls://127.0.0.1:{port}"], ScanOptions(ca_file=pki.ca_path))
    assert report.error is None
    protocols = report.results["protocols"]
    assert protocols.get("DTLS 1.2").supported is True
    assert protocols.get("DTLS 1.0").supported is False  # OpenSSL 3 needs SECLEVEL 0 for it
    names = [s.name for s in protocols.get("DTLS 1.2").suites]
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in names or any("GCM" in n for n in names)
    assert not any("RC4" in n for n in names)  # never offered: RFC 6347 forbids RC4
    cookie = report.results["dtls_cookie"]
    assert isinstance(cookie, DTLSCookieResult)
    assert cookie.hello_verify_request and cookie.amplification < 1.0
    ids = {f.id for f in report.findings}
    assert "dtls.no_cookie" not in ids and "protocol.no_tls12" not in ids
    assert "protocol.no_tls13" not in ids  # no DTLS 1.3 in OpenSSL: not held against it
    chain = report.results["certificate"].chain
    assert chain and chain[0].subject.endswith("server")  # the certificate came over UDP
    assert report.grade is not None and report.grade.grade in ("A", "A-")


def test_dtls_1_0_is_found_and_capped(pki: PKI) -> None:
    with openssl_dtls(pki, "-cipher", "DEFAULT:@SECLEVEL=0") as port:
        [report] = scan([Target("127.0.0.1", port, dtls=True)], ScanOptions(ca_file=pki.ca_path))
    protocols = report.results["protocols"]
    assert protocols.get("DTLS 1.0").supported is True
    assert any(c.finding == "protocol.dtls10" and c.grade == "B" for c in report.grade.caps)


@pytest.mark.skipif(shutil.which("gnutls-serv") is None, reason="gnutls-bin is not installed")
@pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("ip") is None,
    reason="no unshare(1) or ip(8) for a network namespace",
)
@pytest.mark.parametrize("nocookie", [True, False])
def test_a_dtls_server_without_cookies_is_reported_as_an_amplifier(
    pki: PKI, tmp_path: Path, nocookie: bool
) -> None:
    # gnutls-serv listens on every address: it runs in a network namespace of its own, with
    # only a loopback, and the audit (the real CLI) runs beside it there.
    port = 24433
    script = tmp_path / "run.sh"
    script.write_text(
        "set -e\nip link set lo up\n"
        f"gnutls-serv --udp {'--nocookie' if nocookie else ''} -p {port} "
        f"--x509certfile {pki.server.cert} --x509keyfile {pki.server.key} "
        f"> {tmp_path}/serv.log 2>&1 &\n"
        "pid=$!\n"
        f"for i in $(seq 100); do grep -qi ':{port:04X} ' /proc/net/udp6 /proc/net/udp && "
        "break; sleep 0.05; done\n"
        f"{sys.executable} -m zerotls audit tls --dtls 127.0.0.1:{port} --ca {pki.ca_path} "
        "--json || true\n"
        "kill $pid\n"
    )
    done = subprocess.run(
        ["unshare", "-n", "sh", str(script)], capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0 and b"Operation not permitted" in done.stderr:
        pytest.skip("no permission to create a network namespace here")
    doc = json.loads(done.stdout)
    [target] = doc["targets"]
    cookie = target["results"]["dtls_cookie"]
    ids = {f["id"] for f in target["findings"]}
    if nocookie:
        assert not cookie["hello_verify_request"] and cookie["amplification"] > 1.0
        assert "dtls.no_cookie" in ids
    else:
        assert cookie["hello_verify_request"] and cookie["amplification"] < 1.0
        assert "dtls.no_cookie" not in ids
    dtls12 = target["results"]["protocols"]["versions"][1]
    assert dtls12["version"] == "DTLS 1.2" and dtls12["supported"] is True


def test_silence_on_udp_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from zerotls.cli import main

    port = free_port()
    assert main(["audit", "tls", "--dtls", f"127.0.0.1:{port}"]) == 3
    err = capsys.readouterr()
    assert "no DTLS answer from 127.0.0.1" in err.out + err.err
    with pytest.raises(Exception, match="no STARTTLS"):
        Target.parse("dtls://h:1", starttls="smtp")


@pytest.mark.parametrize("seed", range(3))
def test_hostile_flights_never_break_the_reassembler(seed: int) -> None:
    """Random and truncated handshake fragments: parsed or ignored, never an exception."""
    import random

    from zerotls.audit.dtls import Flight, _reassemble

    rng = random.Random(seed)
    for _ in range(2000):
        n = rng.randint(0, 80)
        payload = bytes(rng.getrandbits(8) for _ in range(n))
        if rng.random() < 0.5 and n >= 12:  # a plausible header with lying lengths
            payload = bytes([2]) + rng.randint(0, 2**24 - 1).to_bytes(3, "big") + payload[4:]
        flight = Flight()
        _reassemble(payload, {}, flight)
        for body in flight.messages.values():
            assert len(body) <= 2**17
        assert flight.cookie is None or len(flight.cookie) <= 255
