"""0-RTT: a TLS 1.3 server whose tickets allow early data is reported (openssl s_server
-early_data), one that does not is not."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import PKI
from tests.peers.openssl import OPENSSL, free_port, s_server, stop, wait_for_port
from zerotls.audit import ScanOptions, scan

pytestmark = pytest.mark.peers


def _resumption(port: int, pki: PKI) -> tuple[object, dict[str, str]]:
    [report] = scan([f"127.0.0.1:{port}"], ScanOptions(probes=("resumption",), ca_file=pki.ca_path))
    return report.results["resumption"], {f.id: f.detail for f in report.findings}


@contextlib.contextmanager
def early_data_server(pki: PKI) -> Iterator[int]:
    """``s_server -early_data`` (which refuses -www): echo mode, a few connections."""
    port = free_port()
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pki.server.cert),
         "-key", str(pki.server.key), "-tls1_3", "-early_data", "-naccept", "20", "-quiet"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        stop(proc)


def test_early_data_is_reported_with_its_size(pki: PKI) -> None:
    with early_data_server(pki) as port:
        result, findings = _resumption(port, pki)
    assert getattr(result, "max_early_data", 0) > 0
    assert "early_data.enabled" in findings and "bytes of 0-RTT" in findings["early_data.enabled"]


def test_a_server_without_early_data_is_not_flagged(pki: PKI) -> None:
    with s_server(pki.server.cert, pki.server.key, extra=["-tls1_3"]) as srv:
        result, findings = _resumption(srv.port, pki)
    assert getattr(result, "max_early_data", None) == 0
    assert "early_data.enabled" not in findings
