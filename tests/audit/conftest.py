"""Certificates and real servers for the auditor's tests (session-scoped: started once).

Every finding the auditor can report has a server here where it is present and one where it
is absent; the test modules say which pairs they use.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from tests.conftest import PKI
from tests.peers.legacy import Server, openssl_server, raw_server, tlslite_server
from tests.peers.openssl import OPENSSL
from zerotls.audit import ScanOptions, Target, TargetReport, scan
from zerotls.pki import CA

SERVER_NAMES = {"dns": ["localhost"], "ips": ["127.0.0.1"], "usage": "server"}
INTERMEDIATE_SUITES = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"
)
LEGACY = ("-cipher", "ALL:@SECLEVEL=0")


@dataclass
class Pair:
    cert: Path
    key: Path


@dataclass
class Certs:
    ca: Path
    """Root CA (PEM): the trust store for most scans."""
    ca_with_intermediate: Path
    """Root plus the intermediate, to tell an incomplete chain from an untrusted one."""
    sha1_ca: Path
    ec: Pair
    rsa: Pair
    expired: Pair
    wrong_name: Pair
    self_signed: Pair
    weak_key: Pair
    sha1: Pair
    leaf_only: Pair
    """Issued by the intermediate; the file holds the leaf alone (an incomplete chain)."""
    full_chain: Pair
    """Issued by the intermediate; the file holds leaf and intermediate."""
    ocsp_good: Path
    """A DER OCSP response saying ``ec`` is good."""


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _leaf(
    subject: str, key: rsa.RSAPrivateKey, issuer: x509.Certificate | None, signer: object
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    import ipaddress

    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    )


def _write(root: Path, name: str, cert_pem: bytes, key_pem: bytes) -> Pair:
    pair = Pair(root / f"{name}.pem", root / f"{name}.key")
    pair.cert.write_bytes(cert_pem)
    pair.key.write_bytes(key_pem)
    return pair


def _sha1_pair(root: Path) -> tuple[Path, Pair]:
    """cryptography refuses to sign with SHA-1, so Debian's openssl does it."""

    def run(*args: str) -> None:
        subprocess.run([OPENSSL, *args], check=True, capture_output=True, cwd=root)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "sha1ca.key",
        "-out", "sha1ca.pem", "-subj", "/CN=SHA-1 test CA", "-days", "2", "-sha256",
        "-addext", "basicConstraints=critical,CA:TRUE")  # fmt: skip
    run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "sha1.key",
        "-out", "sha1.csr", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")  # fmt: skip
    run("x509", "-req", "-in", "sha1.csr", "-CA", "sha1ca.pem", "-CAkey", "sha1ca.key",
        "-CAcreateserial", "-out", "sha1.pem", "-days", "2", "-sha1",
        "-copy_extensions", "copy")  # fmt: skip
    return root / "sha1ca.pem", Pair(root / "sha1.pem", root / "sha1.key")


@pytest.fixture(scope="session")
def certs(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Certs:
    root = tmp_path_factory.mktemp("audit-certs")
    ca: CA = pki.ca
    ec = pki.write("audit-ec", **SERVER_NAMES)
    rsa_files = pki.write("audit-rsa", key_type="rsa", **SERVER_NAMES)
    expired = pki.expired("audit-expired", **SERVER_NAMES)
    wrong = pki.write("audit-wrong", dns=["other.example"], usage="server")
    own_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    self_signed = _write(root, "self", _pem(_leaf("localhost", own_key, None, own_key)),
                         _key_pem(own_key))  # fmt: skip
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (on purpose)
    weak_pair = _write(root, "weak", _pem(_leaf("localhost", weak, ca.cert, ca.key)),
                       _key_pem(weak))  # fmt: skip
    intermediate = ca.create_intermediate("audit intermediate")
    issued = intermediate.issue("audit-chain", **SERVER_NAMES)  # type: ignore[arg-type]
    leaf_only = _write(root, "leaf-only", _pem(issued.cert), issued.private_key_pem)
    full_chain = _write(root, "full-chain", issued.cert_chain_pem, issued.private_key_pem)
    bundle = root / "ca+intermediate.pem"
    bundle.write_bytes(ca.cert_pem + _pem(intermediate.cert))
    sha1_ca, sha1 = _sha1_pair(root)
    now = dt.datetime.now(dt.UTC)
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=ec.issued.cert,
            issuer=ca.cert,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now - dt.timedelta(minutes=1),
            next_update=now + dt.timedelta(hours=12),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.cert)
        .sign(ca.key, hashes.SHA256())
    )
    ocsp_path = root / "ocsp-good.der"
    ocsp_path.write_bytes(response.public_bytes(serialization.Encoding.DER))
    return Certs(
        ca=pki.ca_path,
        ca_with_intermediate=bundle,
        sha1_ca=sha1_ca,
        ec=Pair(ec.cert, ec.key),
        rsa=Pair(rsa_files.cert, rsa_files.key),
        expired=Pair(expired.cert, expired.key),
        wrong_name=Pair(wrong.cert, wrong.key),
        self_signed=self_signed,
        weak_key=weak_pair,
        sha1=sha1,
        leaf_only=leaf_only,
        full_chain=full_chain,
        ocsp_good=ocsp_path,
    )


def audit(
    server: Server | str,
    ca: Path,
    *,
    probes: tuple[str, ...] | None = None,
    sni: str | None = "localhost",
    **options: object,
) -> TargetReport:
    """Scan one local target and return its report."""
    address = server if isinstance(server, str) else server.address
    target = Target.parse(address, server_name=sni)
    [report] = scan([target], ScanOptions(ca_file=ca, probes=probes, timeout=3, **options))  # type: ignore[arg-type]
    assert report.error is None, report.error
    return report


@pytest.fixture(scope="session")
def tls13_only(certs: Certs) -> Iterator[Server]:
    """Modern: TLS 1.3 only, ECDSA P-256, the modern groups."""
    with openssl_server(certs.ec.cert, certs.ec.key,
                        extra=["-tls1_3", "-groups", "X25519:P-256:P-384"]) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="session")
def tls12_13(certs: Certs) -> Iterator[Server]:
    """Intermediate: TLS 1.2 (ECDHE + AEAD only) and 1.3, stapling a good OCSP response."""
    extra = ["-cipher", INTERMEDIATE_SUITES, "-groups", "X25519:P-256:P-384",
             "-status_file", str(certs.ocsp_good), "-serverpref"]  # fmt: skip
    with openssl_server(certs.ec.cert, certs.ec.key, extra=extra) as server:
        yield server


@pytest.fixture(scope="session")
def legacy_tls10(certs: Certs) -> Iterator[Server]:
    """TLS 1.0 to 1.2 at security level 0, client renegotiation allowed."""
    extra = [*LEGACY, "-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2",
             "-client_renegotiation"]  # fmt: skip
    with openssl_server(certs.rsa.cert, certs.rsa.key, extra=extra) as server:
        yield server


@pytest.fixture(scope="session")
def static_rsa(certs: Certs) -> Iterator[Server]:
    """Static RSA key exchange only: no forward secrecy."""
    extra = ["-cipher", "AES128-GCM-SHA256:AES256-GCM-SHA384", "-no_tls1_3", "-serverpref"]
    with openssl_server(certs.rsa.cert, certs.rsa.key, extra=extra) as server:
        yield server


@pytest.fixture(scope="session")
def sslv3(certs: Certs) -> Iterator[Server]:
    """tlslite-ng serving SSLv3 and TLS 1.0 with RC4, 3DES and static RSA."""
    with tlslite_server(certs.rsa.cert, certs.rsa.key, min_version="ssl3",
                        max_version="tls1.0") as server:  # fmt: skip
        yield server


@pytest.fixture(scope="session")
def raw_broken(certs: Certs) -> Iterator[Server]:
    """SSLv2, compression, Heartbleed, no renegotiation_info, no fallback SCSV, CCS
    injection, ROBOT (a bad padding format refused at once)."""
    flags = ["--sslv2", "--compression", "--heartbeat", "vulnerable", "--no-ri",
             "--no-fallback-scsv", "--ccs", "vulnerable", "--key", str(certs.rsa.key),
             "--robot", "leak-alert"]  # fmt: skip
    with raw_server(certs.rsa.cert, flags=flags) as server:
        yield server


@pytest.fixture(scope="session")
def raw_fixed(certs: Certs) -> Iterator[Server]:
    """The same scripted server with every one of those fixed (heartbeat still offered)."""
    flags = ["--heartbeat", "fixed", "--ccs", "fixed", "--key", str(certs.rsa.key),
             "--robot", "fixed"]  # fmt: skip
    with raw_server(certs.rsa.cert, flags=flags) as server:
        yield server


@pytest.fixture(scope="session")
def raw_robot_close(certs: Certs) -> Iterator[Server]:
    """A second, weaker oracle: only a block that does not start 00 02 is answered by a
    close without an alert; every other padding error looks valid."""
    flags = ["--key", str(certs.rsa.key), "--robot", "leak-close"]
    with raw_server(certs.rsa.cert, flags=flags) as server:
        yield server


@contextlib.contextmanager
def https_server(cert: Path, key: Path, hsts: str | None) -> Iterator[str]:
    """A threaded stdlib HTTPS server answering every GET, with or without HSTS."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            if hsts is not None:
                self.send_header("Strict-Transport-Security", hsts)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
