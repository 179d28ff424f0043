"""Client certificates, audited against openssl s_server: required (-Verify), optional
(-verify), and not asked for; in TLS 1.3 (where the request is encrypted) and TLS 1.2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PKI
from tests.peers.openssl import s_server
from zerotls.audit import ScanOptions, scan

pytestmark = pytest.mark.peers


def _audit(port: int, ca: Path) -> dict[str, object]:
    [report] = scan([f"127.0.0.1:{port}"], ScanOptions(probes=("client-auth",), ca_file=ca))
    result = report.results["client-auth"]
    return {
        "versions": {v.version: (v.requested, v.required, v.ca_names) for v in result.versions},
        "findings": {f.id: f.detail for f in report.findings},
    }


def test_a_server_that_requires_a_client_certificate(pki: PKI) -> None:
    extra = ["-Verify", "1", "-CAfile", str(pki.ca_path)]
    with s_server(pki.server.cert, pki.server.key, extra=extra) as srv:
        got = _audit(srv.port, pki.ca_path)
    versions = got["versions"]
    assert isinstance(versions, dict)
    for version in ("TLS 1.3", "TLS 1.2"):
        requested, required, names = versions[version]
        assert (requested, required) == (True, True), (version, versions)
        assert any("test root CA" in n for n in names)
    findings = got["findings"]
    assert isinstance(findings, dict) and "client_auth.required" in findings
    assert "test root CA" in findings["client_auth.required"]


def test_an_optional_request_and_no_request(pki: PKI) -> None:
    extra = ["-verify", "1", "-CAfile", str(pki.ca_path)]
    with s_server(pki.server.cert, pki.server.key, extra=extra) as srv:
        optional = _audit(srv.port, pki.ca_path)
    assert optional["versions"]["TLS 1.3"][:2] == (True, False)  # type: ignore[index]
    assert "client_auth.optional" in optional["findings"]  # type: ignore[operator]
    with s_server(pki.server.cert, pki.server.key) as srv:
        none = _audit(srv.port, pki.ca_path)
    assert none["versions"]["TLS 1.3"][:2] == (False, False)  # type: ignore[index]
    assert not any(k.startswith("client_auth") for k in none["findings"])  # type: ignore[union-attr]
