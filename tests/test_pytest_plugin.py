"""The pytest plugin, used by a small sample project that knows nothing of zerotls but its
fixtures (pytester): stdlib ssl handshakes, expired and not-yet-valid servers, a wrong
EKU, a revoked certificate that makes a test fail for the right reason, and live OCSP."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SAMPLE = r'''
import socket
import ssl
import threading
import time
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp


def serve_once(server_ctx):
    """Accept one TLS connection on 127.0.0.1 in a thread; return the port and the thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    errors = []

    def run():
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hi")
        except (ssl.SSLError, OSError) as exc:
            errors.append(exc)
        finally:
            listener.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread, errors


def fetch(port, client_ctx, name="localhost"):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_ctx.wrap_socket(raw, server_hostname=name) as tls:
            return tls.recv(2)


def test_a_good_server(zerotls_pki):
    port, thread, _ = serve_once(zerotls_pki.server_ssl_context())
    assert fetch(port, zerotls_pki.client_ssl_context()) == b"hi"
    thread.join()


def test_mutual_tls_with_a_spiffe_id(zerotls_pki):
    client = zerotls_pki.client("web", spiffe_id="svc/web")
    assert client.spiffe_id == "spiffe://test.example/svc/web"
    cert = x509.load_pem_x509_certificate(client.pem)
    uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert uris.get_values_for_type(x509.UniformResourceIdentifier) == [client.spiffe_id]
    port, thread, errors = serve_once(zerotls_pki.server_ssl_context(mtls=True))
    assert fetch(port, zerotls_pki.client_ssl_context(client)) == b"hi"
    thread.join()
    assert errors == []


@pytest.mark.parametrize("kind, text", [("expired", "certificate has expired"),
                                        ("not_yet_valid", "certificate is not yet valid")])
def test_bad_validity_is_refused(zerotls_pki, kind, text):
    port, thread, _ = serve_once(zerotls_pki.server_ssl_context(getattr(zerotls_pki, kind)()))
    with pytest.raises(ssl.SSLCertVerificationError, match=text):
        fetch(port, zerotls_pki.client_ssl_context())
    thread.join()


def test_a_server_only_certificate_is_no_client_certificate(zerotls_pki):
    port, thread, errors = serve_once(zerotls_pki.server_ssl_context(mtls=True))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        # TLS 1.3: the server's refusal arrives on the client's first read (inside fetch)
        fetch(port, zerotls_pki.client_ssl_context(zerotls_pki.wrong_eku()))
    thread.join()
    assert errors and "unsuitable certificate purpose" in str(errors[0])


def test_revoked_server_with_crl_checking(zerotls_pki):
    """Fails on purpose: the server is revoked, and the client checks the CRL."""
    bad = zerotls_pki.revoked("api")
    port, thread, _ = serve_once(zerotls_pki.server_ssl_context(bad))
    client = zerotls_pki.client_ssl_context()
    client.load_verify_locations(zerotls_pki.crl_path)
    client.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    fetch(port, client)


def test_live_ocsp_says_revoked(zerotls_pki, zerotls_ocsp):
    good, bad = zerotls_pki.server("ok"), zerotls_pki.revoked("gone")
    ca = x509.load_pem_x509_certificate(zerotls_pki.ca_path.read_bytes())
    for issued, status in ((good, ocsp.OCSPCertStatus.GOOD), (bad, ocsp.OCSPCertStatus.REVOKED)):
        cert = x509.load_pem_x509_certificate(issued.pem)
        req = ocsp.OCSPRequestBuilder().add_certificate(cert, ca, hashes.SHA1()).build()
        http = urllib.request.Request(
            zerotls_ocsp.url, data=req.public_bytes(serialization.Encoding.DER),
            headers={"Content-Type": "application/ocsp-request"})
        with urllib.request.urlopen(http, timeout=5) as reply:
            assert ocsp.load_der_ocsp_response(reply.read()).certificate_status is status


def echo_backend():
    """A cleartext echo service on 127.0.0.1 (the legacy service behind the tunnel)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    while data := conn.recv(4096):
                        conn.sendall(data)
                except ConnectionError:  # the tunnel resets what it aborts
                    pass

    threading.Thread(target=run, daemon=True).start()
    return listener


def test_a_tunnel_in_front_of_a_legacy_service(zerotls_pki, zerotls_tunnel):
    backend = echo_backend()
    tunnel = zerotls_tunnel(backend.getsockname()[1], allow=["svc/web"])
    web = zerotls_pki.client("web", spiffe_id="svc/web")
    assert fetch_echo(tunnel.port, zerotls_pki.client_ssl_context(web)) == b"ping"
    other = zerotls_pki.client("batch", spiffe_id="svc/batch")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        fetch_echo(tunnel.port, zerotls_pki.client_ssl_context(other))  # default deny
    backend.close()
    deadline = time.monotonic() + 5
    while len(tunnel.events) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    decisions = sorted((e["spiffe_id"], e["decision"]) for e in tunnel.events)
    assert decisions == [("spiffe://test.example/svc/batch", "deny"),
                         ("spiffe://test.example/svc/web", "allow")]


def fetch_echo(port, client_ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"ping")
            return tls.recv(4)
'''


def test_the_plugin_in_a_project_that_does_not_use_zerotls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sample=SAMPLE)
    result = pytester.runpytest("-p", "zerotls", "-q", "-p", "no:randomly")
    result.assert_outcomes(passed=7, failed=1)
    # The one failure is the revoked certificate, and it says so.
    result.stdout.fnmatch_lines(["*test_revoked_server_with_crl_checking*"])
    assert "certificate revoked" in result.stdout.str()
