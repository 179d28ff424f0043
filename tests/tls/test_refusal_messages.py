"""What a refused client is told: the likeliest cause on our side, not a generic category."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import CLIENT_ID, PKI
from tests.peers.openssl import s_server
from tests.tls.pair import pair
from zerotls.errors import TLSAlert
from zerotls.tls.sync import connect


def test_a_not_yet_valid_client_certificate_is_named_as_such(pki: PKI) -> None:
    future = pki.write(
        "not-yet", spiffe_id=CLIENT_ID, usage="client",
        now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
    )  # fmt: skip
    p = pair(pki.client_config(cert=future.cert, key=future.key), pki.server_config())
    assert isinstance(p.client_error, TLSAlert)
    assert "not valid until" in str(p.client_error) and "notBefore" in str(p.client_error)
    assert "wrong identity, pin or key usage)" not in str(p.client_error)


@pytest.mark.peers
def test_a_tls12_server_that_wants_a_certificate_we_lack_says_so(pki: PKI) -> None:
    extra = ["-tls1_2", "-Verify", "1", "-CAfile", str(pki.ca_path)]
    with s_server(pki.server.cert, pki.server.key, extra=extra) as srv:
        config = pki.client_config(cert=None, key=None, min_version="1.2")
        with pytest.raises(TLSAlert) as err:
            with connect("127.0.0.1", srv.port, config) as tls:
                tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
                tls.recv()
    assert "asked for a client certificate" in str(err.value), err.value
    assert "no acceptable parameters" not in str(err.value)


@pytest.mark.peers
def test_tls12_resumption_reports_no_group(pki: PKI) -> None:
    from zerotls.tls.context import TLSContext

    with s_server(pki.server.cert, pki.server.key, extra=["-tls1_2"]) as srv:
        context = TLSContext(pki.client_config(min_version="1.2"))
        seen = []
        for _ in range(3):
            with connect("127.0.0.1", srv.port, context) as tls:
                tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
                while tls.recv():
                    pass
                seen.append((tls.tls_version, tls.handshake.resumed, tls.group))
    assert seen[0] == ("TLSv1.2", False, "X25519")
    assert ("TLSv1.2", True, None) in seen[1:], seen
