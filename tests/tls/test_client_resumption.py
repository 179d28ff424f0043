"""Client-side session resumption: tickets kept per context, used once, and every check that
does not need a fresh certificate run again on the certificate the session remembers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import PKI
from tests.peers.openssl import s_server
from tests.tls.pair import Pair
from zerotls.errors import RevocationError
from zerotls.tls.context import TLSContext
from zerotls.tls.sync import connect


def talk(client: TLSContext, server: TLSContext) -> Pair:
    """A handshake, a reply from the server (after the TLS 1.3 tickets), a clean close.

    The close matters: OpenSSL marks the session of a connection that ends without
    close_notify as not resumable (a truncated connection's session is not trusted again).
    """
    p = Pair(client.connection(), server.connection()).run()
    if p.client_error is None and p.server_error is None:
        p.server.send(b"hello")
        p.run()
        p.client.close()
        p.run()
    return p


def test_second_connection_resumes_and_tickets_are_single_use(pki: PKI) -> None:
    client, server = TLSContext(pki.client_config()), TLSContext(pki.server_config())
    first = talk(client, server)
    assert first.client.handshake is not None and not first.client.handshake.resumed
    second = talk(client, server)
    assert second.client.handshake is not None and second.client.handshake.resumed
    assert second.client.identity == first.client.identity  # from the remembered certificate
    # Two connections opened while one ticket is kept: only the first can resume.
    client2 = TLSContext(pki.client_config())
    talk(client2, server)
    a_conn, b_conn = client2.connection(), client2.connection()
    a = Pair(a_conn, server.connection()).run()
    b = Pair(b_conn, server.connection()).run()
    assert [a.client.resumed, b.client.resumed] == [True, False]


def test_a_connection_that_ends_without_close_notify_is_not_resumed(pki: PKI) -> None:
    client, server = TLSContext(pki.client_config()), TLSContext(pki.server_config())
    p = Pair(client.connection(), server.connection()).run()
    p.server.send(b"hello")
    p.run()  # the client now holds a ticket ...
    p.client.abort(RevocationError("cut short"))  # ... from a connection that then failed
    del p
    import gc

    gc.collect()
    assert not talk(client, server).client.resumed


def test_resumption_can_be_turned_off(pki: PKI) -> None:
    client = TLSContext(pki.client_config(session_resumption=False))
    server = TLSContext(pki.server_config())
    talk(client, server)
    assert not talk(client, server).client.resumed


def test_resumed_session_is_checked_against_the_current_crl(pki: PKI, tmp_path: Path) -> None:
    victim = pki.write("resumed-server", dns=["localhost"], usage="server")
    crl = tmp_path / "crl.pem"
    crl.write_bytes(pki.ca.crl([]).public_bytes(serialization.Encoding.PEM))
    client = TLSContext(pki.client_config(crls=(crl,), crl_refresh=1))
    server = TLSContext(pki.server_config(cert=victim.cert, key=victim.key))
    assert talk(client, server).client_error is None
    entry = (victim.issued.cert.serial_number, dt.datetime.now(dt.UTC), "key_compromise")
    crl.write_bytes(pki.ca.crl([entry]).public_bytes(serialization.Encoding.PEM))
    checker = client.revocation
    assert checker is not None
    checker.reload_files()  # what the refresher thread does every crl_refresh
    p = talk(client, server)
    assert p.client.resumed  # the ticket was accepted by the server ...
    assert isinstance(p.client_error, RevocationError)  # ... but we refuse the revoked server
    assert p.client_error.reason == "key_compromise"


@pytest.mark.peers
def test_our_client_resumes_with_openssl_s_server(pki: PKI) -> None:
    context = TLSContext(pki.client_config())
    with s_server(pki.server.cert, pki.server.key) as srv:
        resumed = []
        for _ in range(3):
            with connect("127.0.0.1", srv.port, context) as tls:
                tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
                while tls.recv():
                    pass
                resumed.append(tls.handshake.resumed)
    assert resumed == [False, True, True]
