"""Revocation reasons end to end: every spelling a user types, through the real CLI, the OCSP
responder, ``openssl ocsp``, ``openssl crl`` and a tunnel that queries OCSP in soft mode.

Before reasons were parsed at the boundary, ``--reason keyCompromise`` was stored raw, the
responder hung up on every query for that certificate, and a soft-fail tunnel let it in.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from tests.peers.openssl import OPENSSL, free_port, stop, wait_for_port
from zerotls import ClientConfig, ConnectionBroken, TLSAlert, connect
from zerotls.pki import PKIStore
from zerotls.pki.ocsp import CertStatus, OCSPResponder, serve
from zerotls.pki.reasons import RFC_NAMES

pytestmark = pytest.mark.peers

CLIENT = "spiffe://prod.example/svc/web"


def zerotls(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zerotls", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def openssl(*args: str) -> str:
    proc = subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout + proc.stderr


REASONS = [f for f in RFC_NAMES if f is not x509.ReasonFlags.remove_from_crl]


def test_every_reason_round_trips_through_openssl_ocsp_and_crl(tmp_path: Path) -> None:
    store = PKIStore.init(tmp_path / "pki")
    serve_port = free_port()
    responder = serve(store.ocsp_responder(), port=serve_port)
    thread = threading.Thread(target=responder.serve_forever, args=(0.05,))
    thread.start()
    try:
        for i, flag in enumerate(REASONS):
            name = f"r{i}"
            store.issue(name, dns=[f"{name}.internal"])
            # Alternate the spellings: the RFC's (what openssl prints) and a shouted snake one.
            spelling = RFC_NAMES[flag] if i % 2 else flag.name.upper()
            out = zerotls("pki", "revoke", name, "--reason", spelling, "--dir", str(store.root))
            assert out.returncode == 0, out.stderr
            assert f"reason {flag.name}" in out.stdout
            answer = openssl(
                "ocsp", "-issuer", str(store.ca_path), "-cert", str(store.cert_path(name)),
                "-CAfile", str(store.ca_path), "-url", responder.url,
                "-respout", str(tmp_path / f"{name}.der"),
            )  # fmt: skip
            assert "Response verify OK" in answer, answer
            assert f"{store.cert_path(name)}: revoked" in answer
            # OpenSSL 3.0 prints "(UNKNOWN)" for privilegeWithdrawn and aACompromise (its
            # table stops at removeFromCRL), so read the response openssl received, too.
            received = ocsp.load_der_ocsp_response((tmp_path / f"{name}.der").read_bytes())
            if flag is x509.ReasonFlags.unspecified:  # RFC 5280 §5.3.1: omitted, not encoded
                assert received.revocation_reason is None
            else:
                assert received.revocation_reason is flag
                if flag not in (x509.ReasonFlags.privilege_withdrawn,
                                x509.ReasonFlags.aa_compromise):  # fmt: skip
                    assert f"Reason: {RFC_NAMES[flag]}" in answer
        crl_text = openssl("crl", "-in", str(store.crl_path), "-noout", "-text")
        for flag in REASONS:
            if flag is not x509.ReasonFlags.unspecified:
                assert _openssl_crl_label(flag) in crl_text, (flag, crl_text)
        assert openssl("crl", "-in", str(store.crl_path), "-CAfile", str(store.ca_path),
                       "-noout").strip() == "verify OK"  # fmt: skip
    finally:
        responder.shutdown()
        responder.server_close()
        thread.join(5)


def _openssl_crl_label(flag: x509.ReasonFlags) -> str:
    """How ``openssl crl -text`` prints a CRLReason (crypto/x509/v3_enum.c)."""
    return {
        x509.ReasonFlags.key_compromise: "Key Compromise",
        x509.ReasonFlags.ca_compromise: "CA Compromise",
        x509.ReasonFlags.affiliation_changed: "Affiliation Changed",
        x509.ReasonFlags.superseded: "Superseded",
        x509.ReasonFlags.cessation_of_operation: "Cessation Of Operation",
        x509.ReasonFlags.certificate_hold: "Certificate Hold",
        x509.ReasonFlags.privilege_withdrawn: "Privilege Withdrawn",
        x509.ReasonFlags.aa_compromise: "AA Compromise",
    }[flag]


def test_cli_refuses_unknown_and_delta_only_reasons(tmp_path: Path) -> None:
    store = PKIStore.init(tmp_path / "pki")
    store.issue("db", dns=["db.internal"])
    for reason, expected in (("stolen", "keyCompromise (key_compromise)"),
                             ("removeFromCRL", "delta CRLs")):  # fmt: skip
        out = zerotls("pki", "--dir", str(store.root), "revoke", "db", "--reason", reason)
        assert out.returncode == 2 and expected in out.stderr and "Traceback" not in out.stderr
    assert not store.find("db").revoked


def test_a_responder_that_cannot_answer_says_internal_error(tmp_path: Path) -> None:
    store = PKIStore.init(tmp_path / "pki")
    store.issue("db", dns=["db.internal"])

    def broken(serial: int) -> CertStatus:
        raise OSError("index on a dead disk")

    responder = serve(OCSPResponder(store.issuing_ca(), broken))
    thread = threading.Thread(target=responder.serve_forever, args=(0.05,))
    thread.start()
    try:
        answer = openssl(
            "ocsp", "-issuer", str(store.ca_path), "-cert", str(store.cert_path("db")),
            "-CAfile", str(store.ca_path), "-url", responder.url,
        )  # fmt: skip
    finally:
        responder.shutdown()
        responder.server_close()
        thread.join(5)
    assert "internalerror (2)" in answer.lower(), answer
    assert "Error querying OCSP responder" not in answer


def test_soft_fail_tunnel_refuses_a_certificate_revoked_as_keyCompromise(tmp_path: Path) -> None:
    pki_dir = str(tmp_path / "pki")
    ocsp_port, tunnel_port, backend_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{ocsp_port}"
    for args in (
        ("init",),
        ("issue", "srv", "--server", "--dns", "localhost"),
        ("issue", "web", "--client", "--spiffe-id", CLIENT, "--ocsp-url", url),
        ("revoke", "web", "--reason", "keyCompromise"),
    ):
        out = zerotls("pki", "--dir", pki_dir, *args)
        assert out.returncode == 0, out.stderr
    store = PKIStore(pki_dir)
    ocsp = subprocess.Popen(
        [sys.executable, "-m", "zerotls", "pki", "ocsp", "serve", "--dir", pki_dir,
         "--listen", f"127.0.0.1:{ocsp_port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    tunnel = subprocess.Popen(
        [sys.executable, "-m", "zerotls", "tunnel", "server",
         "--listen", f"127.0.0.1:{tunnel_port}", "--target", f"127.0.0.1:{backend_port}",
         "--cert", str(store.cert_path("srv")), "--key", str(store.key_path("srv")),
         "--ca", str(store.ca_path), "--allow", CLIENT, "--workers", "1",
         "--query-ocsp", "--revocation", "soft"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(ocsp_port, ocsp)
        wait_for_port(tunnel_port, tunnel)
        config = ClientConfig(
            server_name="localhost",
            cert=store.cert_path("web"),
            key=store.key_path("web"),
            ca=store.ca_path,
        )
        # The tunnel never makes a handshake wait for a responder it has not asked yet: the
        # very first one starts the query (soft mode: that one is let in, and its audit event
        # says the status was pending). Once the answer is in, the revoked certificate is out.
        deadline = time.monotonic() + 20
        refused: TLSAlert | None = None
        while refused is None and time.monotonic() < deadline:
            try:
                with connect("127.0.0.1", tunnel_port, config) as tls:
                    tls.await_verdict()
                time.sleep(0.2)
            except TLSAlert as exc:
                refused = exc
            except ConnectionBroken:
                pass  # let in while the status was pending, then reset: no target listens
        assert refused is not None and refused.description == "certificate_revoked"
    finally:
        stop(tunnel)
        stop(ocsp)
    for proc in (tunnel, ocsp):
        assert proc.stderr is not None
        assert b"Traceback" not in proc.stderr.read()
        proc.stderr.close()
        assert proc.stdout is not None
        proc.stdout.close()
