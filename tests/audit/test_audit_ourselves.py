"""The auditor against zerotls's own server: what our defaults look like from outside.

A server built with zerotls's defaults must get the best grade our auditor gives and satisfy
the Mozilla *modern* profile; with the explicit TLS 1.2 floor it must still satisfy
*intermediate* and offer only ECDHE + AEAD suites. If a default ever weakens, this fails.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.conftest import PKI
from zerotls.audit import ScanOptions, Target, scan
from zerotls.tls.sync import TLSSocket, TLSThreadingServer, serve

pytestmark = pytest.mark.peers


def _handler(tls: TLSSocket) -> None:
    tls.close()


@pytest.fixture
def our_server(pki: PKI, request: pytest.FixtureRequest) -> Iterator[TLSThreadingServer]:
    # Client certificates optional: the auditor has none, and must still see every suite.
    config = pki.server_config(require_client_cert=False, min_version=request.param)
    server = serve(_handler, "127.0.0.1", 0, config)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize("our_server", ["1.3"], indirect=True)
def test_default_server_gets_the_top_grade_and_modern_profile(
    pki: PKI, our_server: TLSThreadingServer
) -> None:
    (report,) = scan(
        [Target("127.0.0.1", our_server.port, server_name="localhost")],
        ScanOptions(ca_file=pki.ca_path),
    )
    assert report.error is None, report.error
    assert report.grade is not None and report.grade.grade in {"A+", "A"}, report.grade
    assert not report.grade.caps
    profiles = {p.profile: p for p in report.profiles}
    assert profiles["modern"].compliant, profiles["modern"].violations
    serious = [f for f in report.findings if f.severity.name in {"critical", "high", "medium"}]
    # Our test certificate lives one day, which the auditor rightly calls "expiring soon";
    # nothing else about our defaults may be at medium or above.
    assert [f.id for f in serious] == ["cert.expires_soon"]


@pytest.mark.parametrize("our_server", ["1.2"], indirect=True)
def test_tls12_floor_offers_only_ecdhe_aead(pki: PKI, our_server: TLSThreadingServer) -> None:
    (report,) = scan(
        [Target("127.0.0.1", our_server.port, server_name="localhost")],
        ScanOptions(ca_file=pki.ca_path),
    )
    assert report.error is None, report.error
    profiles = {p.profile: p for p in report.profiles}
    assert profiles["intermediate"].compliant, profiles["intermediate"].violations
    assert report.grade is not None and report.grade.grade in {"A+", "A"}, report.grade
    weak = [f.id for f in report.findings if "cipher" in f.id or "protocol" in f.id]
    assert not [w for w in weak if "tls13" not in w and "pq" not in w], weak
