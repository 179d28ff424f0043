"""Real peers: our client against ``openssl s_server``, our server against ``s_client``.

The system ``openssl`` (a different OpenSSL build from the one our engine uses) is the
reference implementation on the other end of a real loopback socket.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import CLIENT_ID, PKI, SERVER_ID
from tests.peers.openssl import s_client, s_server, stop
from zerotls.errors import PinMismatch, RevocationError, TLSAlert, VerificationError, ZeroTLSError
from zerotls.tls.identity import Identity
from zerotls.tls.sync import TLSSocket, TLSThreadingServer, connect, serve

pytestmark = pytest.mark.peers


# -- our client, their server ---------------------------------------------------------------


def test_client_tls13_against_s_server(pki: PKI) -> None:
    with s_server(pki.server.cert, pki.server.key) as srv:
        with connect("127.0.0.1", srv.port, pki.client_config()) as tls:
            assert tls.tls_version == "TLSv1.3"
            assert tls.group in {"X25519MLKEM768", "X25519"}
            assert tls.identity is not None and tls.identity.spiffe_id == SERVER_ID
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            reply = b""
            while chunk := tls.recv():
                reply += chunk
            assert reply.startswith(b"HTTP/1.0 200")


def test_one_client_hello_to_a_peer_without_post_quantum(pki: PKI) -> None:
    """A share for the hybrid and one for X25519: OpenSSL 3.0 (no ML-KEM) picks X25519 from
    the first ClientHello, with no HelloRetryRequest (a whole round trip) in between."""
    with s_server(pki.server.cert, pki.server.key, extra=["-tls1_3", "-msg"]) as srv:
        with connect("127.0.0.1", srv.port, pki.client_config()) as tls:
            assert tls.group == "X25519"
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while tls.recv():
                pass
        stop(srv.proc)
        assert srv.proc.stdout is not None
        trace = srv.proc.stdout.read().decode(errors="replace")
    assert trace.count("ClientHello") == 1, trace
    assert "HelloRetryRequest" not in trace


def test_client_floor_13_refuses_tls12_only_server(pki: PKI) -> None:
    with s_server(pki.server.cert, pki.server.key, extra=["-tls1_2"]) as srv:
        with pytest.raises(TLSAlert) as err:
            connect("127.0.0.1", srv.port, pki.client_config())
    assert err.value.description == "protocol_version"
    assert "TLS 1.3" in str(err.value)


def test_client_floor_12_accepts_tls12_server_with_ecdhe_aead(pki: PKI) -> None:
    with s_server(pki.server.cert, pki.server.key, extra=["-tls1_2"]) as srv:
        with connect("127.0.0.1", srv.port, pki.client_config(min_version="1.2")) as tls:
            assert tls.tls_version == "TLSv1.2"
            assert tls.cipher.startswith("ECDHE-") and "GCM" in tls.cipher


def test_client_refuses_tls12_server_offering_only_cbc(pki: PKI) -> None:
    with s_server(
        pki.server.cert, pki.server.key, extra=["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"]
    ) as srv:
        with pytest.raises(ZeroTLSError):
            connect("127.0.0.1", srv.port, pki.client_config(min_version="1.2"))


def test_client_wrong_hostname(pki: PKI) -> None:
    with s_server(pki.server.cert, pki.server.key) as srv:
        with pytest.raises(VerificationError, match="not valid for 'db.example'"):
            connect("127.0.0.1", srv.port, pki.client_config(server_name="db.example"))


def test_client_expired_server(pki: PKI) -> None:
    old = pki.expired("peer-expired", dns=["localhost"], usage="server")
    with s_server(old.cert, old.key) as srv:
        with pytest.raises(VerificationError, match="expired"):
            connect("127.0.0.1", srv.port, pki.client_config())


def test_client_untrusted_ca(pki: PKI) -> None:
    _, other = pki.other_ca("peer other CA")
    with s_server(pki.server.cert, pki.server.key) as srv:
        with pytest.raises(VerificationError, match="not issued by a CA"):
            connect("127.0.0.1", srv.port, pki.client_config(ca=other))


def test_client_pin_mismatch(pki: PKI) -> None:
    with s_server(pki.server.cert, pki.server.key) as srv:
        with pytest.raises(PinMismatch):
            connect(
                "127.0.0.1", srv.port, pki.client_config(pins=frozenset({pki.client.issued.pin}))
            )
        with connect(
            "127.0.0.1", srv.port, pki.client_config(pins=frozenset({pki.server.issued.pin}))
        ) as tls:
            assert tls.identity is not None


def test_client_crl_revoked_server(pki: PKI, tmp_path: Path) -> None:
    revoked = pki.write("peer-revoked", dns=["localhost"], usage="server")
    crl = pki.ca.crl([(revoked.issued.cert.serial_number, dt.datetime.now(dt.UTC), None)])
    crl_path = tmp_path / "crl.pem"
    crl_path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    with s_server(revoked.cert, revoked.key) as srv:
        with pytest.raises(RevocationError, match="revoked"):
            connect("127.0.0.1", srv.port, pki.client_config(crls=(crl_path,)))


# -- our server, their client ---------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.identities: list[Identity | None] = []
        self.refusals: list[ZeroTLSError] = []

    def handler(self, tls: TLSSocket) -> None:
        # Echo one message, then close: s_client -ign_eof waits for the server to close.
        self.identities.append(tls.identity)
        tls.sendall(tls.recv())

    def refused(self, exc: ZeroTLSError, _peer: object) -> None:
        self.refusals.append(exc)

    def wait_refused(self, timeout: float = 5.0) -> list[ZeroTLSError]:
        """The server logs a refusal after the client has its alert: wait for it (bounded)."""
        deadline = time.monotonic() + timeout
        while not self.refusals and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.refusals


@pytest.fixture
def our_server(pki: PKI) -> Iterator[tuple[TLSThreadingServer, Recorder]]:
    rec = Recorder()
    server = serve(
        rec.handler, "127.0.0.1", 0, pki.server_config(), on_handshake_failure=rec.refused
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    with server:
        yield server, rec
    thread.join(5)


def test_s_client_without_certificate_gets_certificate_required(
    pki: PKI, our_server: tuple[TLSThreadingServer, Recorder]
) -> None:
    server, rec = our_server
    out = s_client(server.port, ca=pki.ca_path).stdout
    assert "certificate required" in out
    assert rec.identities == []
    refusals = rec.wait_refused()
    assert len(refusals) == 1 and "no certificate" in str(refusals[0])


def test_a_client_that_offers_only_p384_connects(
    pki: PKI, our_server: tuple[TLSThreadingServer, Recorder]
) -> None:
    """CNSA / FIPS clients may offer P-384 alone: our default groups include it."""
    server, _ = our_server
    out = s_client(
        server.port, ca=pki.ca_path, cert=pki.client.cert, key=pki.client.key,
        extra=["-groups", "P-384"], send=b"p384\n",
    ).stdout  # fmt: skip
    assert "Verify return code: 0 (ok)" in out and "p384" in out
    assert "P-384" in out or "secp384r1" in out


def test_s_client_tls12_is_refused(
    pki: PKI, our_server: tuple[TLSThreadingServer, Recorder]
) -> None:
    server, rec = our_server
    out = s_client(
        server.port, ca=pki.ca_path, cert=pki.client.cert, key=pki.client.key, extra=["-tls1_2"]
    ).stdout
    assert "protocol version" in out
    assert rec.identities == []
    refusals = rec.wait_refused()
    assert refusals and "version" in str(refusals[0])


def test_s_client_with_certificate_succeeds_and_identity_is_right(
    pki: PKI, our_server: tuple[TLSThreadingServer, Recorder]
) -> None:
    server, rec = our_server
    result = s_client(
        server.port,
        ca=pki.ca_path,
        cert=pki.client.cert,
        key=pki.client.key,
        send=b"hello from s_client\n",
    )
    assert "Verify return code: 0 (ok)" in result.stdout
    assert "TLSv1.3" in result.stdout
    assert "hello from s_client" in result.stdout  # our echo (s_client does not print stdin)
    assert len(rec.identities) == 1
    ident = rec.identities[0]
    assert ident is not None and ident.spiffe_id == CLIENT_ID
    assert ident.spki_pin == pki.client.issued.pin


def test_s_client_of_another_ca_gets_unknown_ca(
    pki: PKI, our_server: tuple[TLSThreadingServer, Recorder]
) -> None:
    server, rec = our_server
    other, _ = pki.other_ca("s_client other CA")
    rogue = pki.write("s-client-rogue", ca=other, spiffe_id=CLIENT_ID, usage="client")
    out = s_client(server.port, ca=pki.ca_path, cert=rogue.cert, key=rogue.key).stdout
    assert "unknown ca" in out
    assert rec.identities == []
