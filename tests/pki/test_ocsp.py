"""The OCSP responder, checked by ``openssl ocsp`` (a reference client) and over raw HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tests.peers.openssl import OPENSSL
from zerotls.errors import PKIError
from zerotls.pki import CA, PKIStore
from zerotls.pki.ocsp import CertStatus, OCSPResponder, OCSPServer, serve
from zerotls.tls.ocsp import check_ocsp_response, must_staple, ocsp_url_of

pytestmark = pytest.mark.peers


@pytest.fixture
def store(tmp_path: Path) -> PKIStore:
    return PKIStore.init(tmp_path / "pki", intermediate=True)


@pytest.fixture
def running(store: PKIStore) -> Iterator[OCSPServer]:
    server = serve(store.ocsp_responder())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _issuer(store: PKIStore) -> Path:
    return store.root / "intermediate.pem"


def openssl_ocsp(store: PKIStore, cert: Path, *args: str) -> str:
    """Ask with ``openssl ocsp`` and verify the answer against the root."""
    proc = subprocess.run(
        [
            OPENSSL,
            "ocsp",
            "-issuer",
            str(_issuer(store)),
            "-cert",
            str(cert),
            "-CAfile",
            str(store.ca_path),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return proc.stdout + proc.stderr


def test_openssl_verifies_good_then_revoked(store: PKIStore, running: OCSPServer) -> None:
    store.issue("api", dns=["api.internal"], usage="server")
    cert = store.cert_path("api")
    out = openssl_ocsp(store, cert, "-url", running.url)
    assert "Response verify OK" in out and f"{cert}: good" in out
    store.revoke("api", reason="key_compromise")
    out = openssl_ocsp(store, cert, "-url", running.url)  # no restart: read from the index
    assert "Response verify OK" in out and f"{cert}: revoked" in out
    assert "Reason: keyCompromise" in out


def test_unknown_serial_and_nonce_echo(
    store: PKIStore, running: OCSPServer, tmp_path: Path
) -> None:
    # A certificate from the same CA that the index never recorded: "unknown".
    stray = store.issuing_ca().issue("stray", dns=["stray.internal"])
    stray.write(tmp_path / "stray.pem", tmp_path / "stray.key")
    out = openssl_ocsp(store, tmp_path / "stray.pem", "-url", running.url)
    assert "Response verify OK" in out and "unknown" in out
    assert "WARNING: no nonce" not in out  # openssl sends a nonce; we echo it


def test_delegated_responder_is_verified_by_openssl(store: PKIStore) -> None:
    store.issue("db", dns=["db.internal"], usage="server")
    responder = store.ocsp_responder(delegated=True)
    assert responder.signer is not None
    delegate = responder.signer[0]
    assert (
        x509.ExtendedKeyUsageOID.OCSP_SIGNING
        in delegate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    delegate.extensions.get_extension_for_class(x509.OCSPNoCheck)
    server = serve(responder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.start()
    try:
        out = openssl_ocsp(store, store.cert_path("db"), "-url", server.url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert "Response verify OK" in out and ": good" in out
    # The delegate is reused, not reissued, while it has more than a day left.
    assert store.ocsp_responder(delegated=True).signer_certificate == delegate


def test_get_per_rfc5019_with_cache_headers(store: PKIStore, running: OCSPServer) -> None:
    _, issued = store.issue("web", dns=["web.internal"])
    issuer = store.issuing_ca().cert
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(issued.cert, issuer, hashes.SHA1())  # noqa: S303
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    path = urllib.parse.quote(base64.b64encode(request).decode(), safe="")
    with urllib.request.urlopen(f"{running.url}/{path}", timeout=10) as reply:  # noqa: S310
        body = reply.read()
        headers = reply.headers
    assert headers["Content-Type"] == "application/ocsp-response"
    assert re.match(r"max-age=\d+, public, no-transform, must-revalidate", headers["Cache-Control"])
    assert headers["ETag"] and headers["Last-Modified"] and headers["Expires"]
    status = check_ocsp_response(body, issued.cert, issuer, now=dt.datetime.now(dt.UTC))
    assert status.status == "good"


def _post(url: str, body: bytes, ctype: str = "application/ocsp-request") -> tuple[int, bytes]:
    req = urllib.request.Request(  # noqa: S310
        url, data=body, headers={"Content-Type": ctype}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:  # noqa: S310
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_untrusted_requests_get_their_ocsp_error(store: PKIStore, running: OCSPServer) -> None:
    status, body = _post(running.url, b"\x30\x03garbage")
    assert status == 200
    assert (
        ocsp.load_der_ocsp_response(body).response_status
        is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    other = CA.create("another CA")
    foreign = other.issue("x", dns=["x.test"])
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(foreign.cert, other.cert, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    status, body = _post(running.url, request)
    assert ocsp.load_der_ocsp_response(body).response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert _post(running.url, b"x" * 20000)[0] == 413
    assert _post(running.url, request, "text/plain")[0] == 415
    # A chunked POST (curl --data-binary @- -H 'Transfer-Encoding: chunked') was told "under
    # 10 KiB": now it is told what to send instead.
    import http.client

    host, port = running.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        # Sent as two chunks, then the terminator: the server reads the whole body it refuses, so
        # the client never meets a reset while it is still sending.
        conn.request(
            "POST", "/", body=iter([request[:10], request[10:]]), encode_chunked=True,
            headers={"Content-Type": "application/ocsp-request", "Transfer-Encoding": "chunked"},
        )  # fmt: skip
        reply = conn.getresponse()
        assert reply.status == 411 and b"Content-Length" in reply.read()
    finally:
        conn.close()
    assert running.requests_served == 2  # the HTTP-level refusals never reached the responder


def test_sha256_cert_ids_are_answered_in_kind(store: PKIStore) -> None:
    _, issued = store.issue("sha256", dns=["s.internal"])
    issuer = store.issuing_ca().cert
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(issued.cert, issuer, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    der = store.ocsp_responder().respond(request)
    parsed = ocsp.load_der_ocsp_response(der)
    assert isinstance(parsed.hash_algorithm, hashes.SHA256)
    assert (
        check_ocsp_response(der, issued.cert, issuer, now=dt.datetime.now(dt.UTC)).status == "good"
    )


def test_delegated_signer_must_be_authorized(store: PKIStore) -> None:
    ca = store.issuing_ca()
    plain = ca.issue("plain", dns=["plain.internal"])
    with pytest.raises(PKIError, match="id-kp-OCSPSigning"):
        OCSPResponder(ca, lambda _s: CertStatus("good"), signer=(plain.cert, plain.key))
    other = CA.create("other").issue_ocsp_responder()
    with pytest.raises(PKIError, match="not issued by"):
        OCSPResponder(ca, lambda _s: CertStatus("good"), signer=(other.cert, other.key))


def _zerotls(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "zerotls", *args],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_cli_issue_extensions_and_offline_staple(store: PKIStore, tmp_path: Path) -> None:
    d = str(store.root)
    proc = _zerotls(
        "pki", "--dir", d, "issue", "edge", "--dns", "edge.internal", "--server",
        "--must-staple", "--ocsp-url", "http://127.0.0.1:8080", "--crl-url",
        "http://127.0.0.1:8080/crl.pem",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cert = x509.load_pem_x509_certificate(store.cert_path("edge").read_bytes())
    assert must_staple(cert) and ocsp_url_of(cert) == "http://127.0.0.1:8080"
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name is not None
    assert cdp[0].full_name[0].value == "http://127.0.0.1:8080/crl.pem"

    staple = tmp_path / "edge.der"
    proc = _zerotls("pki", "--dir", d, "ocsp", "respond", "edge", "--out", str(staple))
    assert proc.returncode == 0, proc.stderr
    out = openssl_ocsp(store, store.cert_path("edge"), "-respin", str(staple))
    assert "Response verify OK" in out and ": good" in out

    proc = _zerotls("pki", "--dir", d, "issue", "bad", "--ocsp-url", "ftp://x")
    assert proc.returncode == 2 and b"must be an http:// URL" in proc.stderr


def test_cli_serve_answers_then_stops_on_sigterm(store: PKIStore) -> None:
    store.issue("svc", dns=["svc.internal"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "zerotls", "pki", "--dir", str(store.root), "ocsp", "serve",
         "--listen", "127.0.0.1:0", "--delegated"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        match = re.search(r"at (http://127\.0\.0\.1:\d+)/", first)
        assert match, first
        out = openssl_ocsp(store, store.cert_path("svc"), "-url", match.group(1))
        assert "Response verify OK" in out and ": good" in out
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=10)[0].decode()
    assert proc.returncode == 0
    assert "stopped after 1 request(s)" in rest


def test_a_silent_client_does_not_hold_the_responder(store: PKIStore, running: OCSPServer) -> None:
    import socket
    import time

    from zerotls.pki import ocsp as ocsp_module

    assert ocsp_module._Handler.timeout == 10
    host, port = running.server_address[:2]
    silent = socket.create_connection((str(host), int(port)))  # connects, never speaks
    try:
        store.issue("busy", dns=["busy.internal"])
        start = time.monotonic()
        out = openssl_ocsp(store, store.cert_path("busy"), "-url", running.url)
        assert "Response verify OK" in out  # others are served meanwhile
        assert time.monotonic() - start < 5
    finally:
        silent.close()
