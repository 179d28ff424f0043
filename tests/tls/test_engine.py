"""The sans-IO engine, two peers back to back in memory: every check and its negative twin."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import CLIENT_ID, PKI, SERVER_ID
from tests.tls.pair import Pair, pair
from zerotls.errors import (
    ConnectionBroken,
    LocalProtocolError,
    PinMismatch,
    RemoteProtocolError,
    RevocationError,
    TLSAlert,
    VerificationError,
)
from zerotls.pki import CA
from zerotls.tls.config import TLSVersion
from zerotls.tls.context import TLSContext
from zerotls.tls.engine import ConnectionClosed, DataReceived, HandshakeCompleted, State


def _completed(events: list[object]) -> HandshakeCompleted:
    done = [e for e in events if isinstance(e, HandshakeCompleted)]
    assert len(done) == 1, events
    return done[0]


def test_mutual_tls_13_identities_and_parameters(pki: PKI) -> None:
    p = pair(pki.client_config(), pki.server_config())
    assert p.client_error is None and p.server_error is None
    client_side = _completed(p.client_events)
    server_side = _completed(p.server_events)
    assert client_side.tls_version == "TLSv1.3"
    assert client_side.group == "X25519MLKEM768"  # the post-quantum hybrid is preferred
    assert client_side.cipher == "TLS_AES_256_GCM_SHA384"
    assert client_side.identity is not None and client_side.identity.spiffe_id == SERVER_ID
    assert server_side.identity is not None and server_side.identity.spiffe_id == CLIENT_ID
    assert server_side.identity.spki_pin == pki.client.issued.pin
    assert p.client.state is State.OPEN and p.server.state is State.OPEN


def test_application_data_both_ways(pki: PKI) -> None:
    p = pair(pki.client_config(), pki.server_config())
    p.client.send(b"ping" * 10000)
    events = p.server.receive_data(p.client.data_to_send())
    assert b"".join(e.data for e in events if isinstance(e, DataReceived)) == b"ping" * 10000
    p.server.send(b"pong")
    events = p.client.receive_data(p.server.data_to_send())
    assert [e for e in events if isinstance(e, DataReceived)] == [DataReceived(b"pong")]


def test_close_notify_is_a_clean_close_and_half_close_works(pki: PKI) -> None:
    p = pair(pki.client_config(), pki.server_config())
    p.client.close()
    events = p.server.receive_data(p.client.data_to_send())
    assert ConnectionClosed() in events
    # TLS 1.3 half-close: the server may still answer after the client's close_notify.
    p.server.send(b"last words")
    events = p.client.receive_data(p.server.data_to_send())
    assert DataReceived(b"last words") in events
    with pytest.raises(LocalProtocolError):
        p.client.send(b"after close")


def test_eof_without_close_notify_is_truncation_not_success(pki: PKI) -> None:
    p = pair(pki.client_config(), pki.server_config())
    with pytest.raises(ConnectionBroken, match="truncat"):
        p.server.receive_data(b"")


def test_failure_is_sticky(pki: PKI) -> None:
    p = pair(pki.client_config(), pki.server_config())
    with pytest.raises(RemoteProtocolError):
        p.server.receive_data(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)  # forged record
    with pytest.raises(ConnectionBroken, match="already failed"):
        p.server.receive_data(b"anything")
    with pytest.raises(ConnectionBroken):
        p.server.send(b"x")


def test_send_before_handshake_is_a_local_error(pki: PKI) -> None:
    conn = TLSContext(pki.client_config()).connection()
    with pytest.raises(LocalProtocolError):
        conn.send(b"too early")


def test_client_without_certificate_gets_certificate_required(pki: PKI) -> None:
    p = pair(pki.client_config(cert=None, key=None), pki.server_config())
    assert isinstance(p.server_error, VerificationError)
    assert "no certificate" in str(p.server_error)
    assert isinstance(p.client_error, TLSAlert)
    assert p.client_error.description == "certificate_required"


def test_client_of_another_ca_gets_unknown_ca(pki: PKI) -> None:
    other, _ = pki.other_ca()
    rogue = pki.write("rogue-client", ca=other, spiffe_id=CLIENT_ID, usage="client")
    p = pair(pki.client_config(cert=rogue.cert, key=rogue.key), pki.server_config())
    assert isinstance(p.server_error, VerificationError)
    assert "not issued by a CA" in str(p.server_error)
    assert isinstance(p.client_error, TLSAlert) and p.client_error.description == "unknown_ca"


def test_server_of_another_ca_is_refused(pki: PKI) -> None:
    _, other_path = pki.other_ca("untrusted CA")
    p = pair(pki.client_config(ca=other_path), pki.server_config())
    assert isinstance(p.client_error, VerificationError)
    assert "not issued by a CA" in str(p.client_error)
    assert isinstance(p.server_error, TLSAlert) and p.server_error.description == "unknown_ca"
    assert p.client.handshake is None  # never completed: no application data possible


def test_wrong_hostname_is_refused_on_san(pki: PKI) -> None:
    p = pair(pki.client_config(server_name="db.example"), pki.server_config())
    assert isinstance(p.client_error, VerificationError)
    assert "not valid for 'db.example'" in str(p.client_error)
    assert isinstance(p.server_error, TLSAlert)
    assert p.server_error.description == "bad_certificate"


def test_common_name_is_never_used_for_the_hostname(pki: PKI) -> None:
    # CN "cn-only.example" but the only SAN is a SPIFFE ID: the name must not match.
    cn_only = pki.write("cn-only.example", spiffe_id=f"{SERVER_ID}-cn", usage="server")
    p = pair(
        pki.client_config(server_name="cn-only.example"),
        pki.server_config(cert=cn_only.cert, key=cn_only.key),
    )
    assert isinstance(p.client_error, VerificationError)


def test_ip_server_name_matches_ip_san(pki: PKI) -> None:
    p = pair(pki.client_config(server_name="127.0.0.1"), pki.server_config())
    assert p.client_error is None
    p = pair(pki.client_config(server_name="127.0.0.2"), pki.server_config())
    assert isinstance(p.client_error, VerificationError)


def test_expired_server_certificate(pki: PKI) -> None:
    old = pki.expired("expired-server", dns=["localhost"], usage="server")
    p = pair(pki.client_config(), pki.server_config(cert=old.cert, key=old.key))
    assert isinstance(p.client_error, VerificationError)
    assert "expired" in str(p.client_error) and "notAfter" in str(p.client_error)
    assert isinstance(p.server_error, TLSAlert)
    assert p.server_error.description == "certificate_expired"


def test_expired_client_certificate(pki: PKI) -> None:
    old = pki.expired("expired-client", spiffe_id=CLIENT_ID, usage="client")
    p = pair(pki.client_config(cert=old.cert, key=old.key), pki.server_config())
    assert isinstance(p.server_error, VerificationError) and "expired" in str(p.server_error)
    assert isinstance(p.client_error, TLSAlert)


def test_not_yet_valid_certificate(pki: PKI) -> None:
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    early = pki.write("early", dns=["localhost"], usage="server", now=future)
    p = pair(pki.client_config(), pki.server_config(cert=early.cert, key=early.key))
    assert isinstance(p.client_error, VerificationError)
    assert "not valid yet" in str(p.client_error)


def test_client_certificate_used_as_server_is_refused(pki: PKI) -> None:
    wrong_use = pki.write("client-only", dns=["localhost"], usage="client")
    p = pair(pki.client_config(), pki.server_config(cert=wrong_use.cert, key=wrong_use.key))
    assert isinstance(p.client_error, VerificationError)
    assert "serverAuth" in str(p.client_error)


@pytest.mark.parametrize("which", ["primary", "backup"])
def test_pin_matches(pki: PKI, which: str) -> None:
    spare = CA.create("spare").issue("spare").pin
    pins = {pki.server.issued.pin, spare} if which == "primary" else {spare, pki.server.issued.pin}
    p = pair(pki.client_config(pins=frozenset(pins)), pki.server_config())
    assert p.client_error is None and p.client.handshake is not None


def test_pin_on_the_ca_matches_any_leaf_it_issued(pki: PKI) -> None:
    from zerotls.tls.identity import spki_pin

    p = pair(pki.client_config(pins=frozenset({spki_pin(pki.ca.cert)})), pki.server_config())
    assert p.client_error is None


def test_pin_mismatch_is_refused_inside_the_handshake(pki: PKI) -> None:
    p = pair(pki.client_config(pins=frozenset({pki.client.issued.pin})), pki.server_config())
    assert isinstance(p.client_error, PinMismatch)
    assert pki.server.issued.pin in str(p.client_error)  # says what the key actually is
    assert p.client.handshake is None
    assert isinstance(p.server_error, TLSAlert)
    assert p.server_error.description == "bad_certificate"


def test_server_pins_client_keys(pki: PKI) -> None:
    ok = pair(pki.client_config(), pki.server_config(pins=frozenset({pki.client.issued.pin})))
    assert ok.server_error is None
    bad = pair(pki.client_config(), pki.server_config(pins=frozenset({pki.server.issued.pin})))
    assert isinstance(bad.server_error, PinMismatch)


def test_expected_identity_without_dns_name(pki: PKI) -> None:
    p = pair(pki.client_config(server_name=None, expect_identity=SERVER_ID), pki.server_config())
    assert p.client_error is None
    assert p.client.identity is not None and p.client.identity.spiffe_id == SERVER_ID


def test_expected_identity_mismatch(pki: PKI) -> None:
    p = pair(
        pki.client_config(server_name=None, expect_identity=f"{SERVER_ID}-other"),
        pki.server_config(),
    )
    assert isinstance(p.client_error, VerificationError)
    assert "identity mismatch" in str(p.client_error)


def test_server_allowed_identities(pki: PKI) -> None:
    ok = pair(pki.client_config(), pki.server_config(allowed_identities=frozenset({CLIENT_ID})))
    assert ok.server_error is None
    bad = pair(pki.client_config(), pki.server_config(allowed_identities=frozenset({SERVER_ID})))
    assert isinstance(bad.server_error, VerificationError)
    assert "not in allowed_identities" in str(bad.server_error)


def test_crl_revoked_server_is_refused(pki: PKI, tmp_path: object) -> None:
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization

    root = Path(str(tmp_path))
    revoked = pki.write("revoked-server", dns=["localhost"], usage="server")
    crl = pki.ca.crl(
        [(revoked.issued.cert.serial_number, dt.datetime.now(dt.UTC), "key_compromise")]
    )
    crl_path = root / "crl.pem"
    crl_path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    p = pair(
        pki.client_config(crls=(crl_path,)), pki.server_config(cert=revoked.cert, key=revoked.key)
    )
    assert isinstance(p.client_error, RevocationError)
    assert isinstance(p.server_error, TLSAlert)
    assert p.server_error.description == "certificate_revoked"
    # Its negative twin: the same CRL, a certificate that is not on it.
    good = pair(pki.client_config(crls=(crl_path,)), pki.server_config())
    assert good.client_error is None


def test_crl_of_another_issuer_fails_closed(pki: PKI, tmp_path: object) -> None:
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization

    other, _ = pki.other_ca("crl other")
    crl_path = Path(str(tmp_path)) / "other-crl.pem"
    crl_path.write_bytes(other.crl([]).public_bytes(serialization.Encoding.PEM))
    p = pair(pki.client_config(crls=(crl_path,)), pki.server_config())
    assert isinstance(p.client_error, RevocationError)
    assert "unknown" in str(p.client_error)


def test_tls12_floor_negotiates_ecdhe_aead(pki: PKI) -> None:
    p = pair(pki.client_config(min_version="1.2"), pki.server_config(min_version="1.2"))
    assert p.client.handshake is not None and p.client.handshake.tls_version == "TLSv1.3"
    # A TLS 1.2-only peer: emulate it with a server whose floor and ceiling are 1.2.
    ctx = TLSContext(pki.server_config(min_version="1.2"))
    from OpenSSL import SSL

    ctx.ssl_context.set_max_proto_version(SSL.TLS1_2_VERSION)
    p = Pair(
        TLSContext(pki.client_config(min_version=TLSVersion.TLSv1_2)).connection(), ctx.connection()
    ).run()
    assert p.client.handshake is not None
    assert p.client.handshake.tls_version == "TLSv1.2"
    assert p.client.handshake.cipher.startswith("ECDHE-")
    assert "GCM" in p.client.handshake.cipher or "CHACHA20" in p.client.handshake.cipher


def test_tls13_client_refuses_tls12_only_server(pki: PKI) -> None:
    from OpenSSL import SSL

    ctx = TLSContext(pki.server_config(min_version="1.2"))
    ctx.ssl_context.set_max_proto_version(SSL.TLS1_2_VERSION)
    p = Pair(TLSContext(pki.client_config()).connection(), ctx.connection()).run()
    assert p.client.handshake is None
    assert isinstance(p.server_error, RemoteProtocolError)
    assert "version" in str(p.server_error)
    assert isinstance(p.client_error, TLSAlert)
    assert p.client_error.description == "protocol_version"


def test_alpn_negotiated(pki: PKI) -> None:
    p = pair(pki.client_config(alpn=("h2", "http/1.1")), pki.server_config(alpn=("http/1.1",)))
    assert p.client.handshake is not None and p.client.handshake.alpn == "http/1.1"
    assert p.server.handshake is not None and p.server.handshake.alpn == "http/1.1"


def test_server_without_client_cert_requirement_accepts_anonymous(pki: PKI) -> None:
    p = pair(
        pki.client_config(cert=None, key=None),
        pki.server_config(require_client_cert=False, ca=None),
    )
    assert p.server_error is None
    assert p.server.handshake is not None and p.server.identity is None


def test_ticket_keys_rotate_with_the_context(pki: PKI) -> None:
    now = [0.0]
    ctx = TLSContext(pki.server_config(ticket_key_lifetime=60), clock=lambda: now[0])
    first = ctx.ssl_context
    now[0] = 59.0
    assert ctx.ssl_context is first
    now[0] = 61.0
    assert ctx.ssl_context is not first


def test_plaintext_http_on_tls_port(pki: PKI) -> None:
    conn = TLSContext(pki.server_config()).connection()
    with pytest.raises(RemoteProtocolError, match="plaintext HTTP"):
        conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_eof_during_handshake(pki: PKI) -> None:
    conn = TLSContext(pki.client_config()).connection()
    conn.data_to_send()
    with pytest.raises(ConnectionBroken, match="during the handshake"):
        conn.receive_data(b"")


def test_client_checks_cannot_be_skipped_by_sending_no_certificate(pki: PKI) -> None:
    from zerotls.errors import ConfigError

    with pytest.raises(ConfigError, match="require_client_cert"):
        pki.server_config(require_client_cert=False, pins=frozenset({pki.client.issued.pin}))
    with pytest.raises(ConfigError, match="require_client_cert"):
        pki.server_config(require_client_cert=False, allowed_identities=frozenset({CLIENT_ID}))


def test_server_without_client_ca_requests_no_client_certificate(pki: PKI) -> None:
    # Without a named client CA the server must not fall back to the system trust store
    # for client identities: it asks for no certificate at all.
    p = pair(pki.client_config(), pki.server_config(require_client_cert=False, ca=None))
    assert p.server_error is None
    assert p.server.handshake is not None and p.server.identity is None


def test_pinned_client_keys_turn_session_tickets_off(pki: PKI) -> None:
    from OpenSSL import SSL

    ctx = TLSContext(pki.server_config(pins=frozenset({pki.client.issued.pin})))
    assert ctx.ssl_context.get_session_cache_mode() == SSL.SESS_CACHE_OFF


def test_failed_ticket_rotation_keeps_the_context_in_service(pki: PKI, tmp_path: object) -> None:
    import shutil
    from pathlib import Path

    root = Path(str(tmp_path))
    cert, key = root / "s.pem", root / "s.key"
    shutil.copy(pki.server.cert, cert)
    shutil.copy(pki.server.key, key)
    now = [0.0]
    ctx = TLSContext(
        pki.server_config(cert=cert, key=key, ticket_key_lifetime=60), clock=lambda: now[0]
    )
    first = ctx.ssl_context
    key.write_text("half-written during a rotation")
    now[0] = 61.0
    assert ctx.ssl_context is first  # kept, not an exception on every accept
    p = Pair(TLSContext(pki.client_config()).connection(), ctx.connection()).run()
    assert p.client_error is None


def test_the_engine_judges_at_its_context_wall_clock(pki: PKI) -> None:
    """The chain (OpenSSL's verification), staples and CRLs are judged at the context's wall
    clock, not the system's: a handshake replayed three days later sees an expired client."""
    import time as _time

    from tests.tls.pair import Pair
    from zerotls.errors import VerificationError
    from zerotls.tls.context import TLSContext

    client = TLSContext(pki.client_config())
    now = TLSContext(pki.server_config(), wall_clock=_time.time)
    assert Pair(client.connection(), now.connection()).run().server_error is None
    later = TLSContext(pki.server_config(), wall_clock=lambda: _time.time() + 3 * 86400)
    p = Pair(client.connection(), later.connection()).run()
    assert isinstance(p.server_error, VerificationError) and "expired" in str(p.server_error)
    earlier = TLSContext(pki.server_config(), wall_clock=lambda: _time.time() - 2 * 86400)
    p = Pair(client.connection(), earlier.connection()).run()
    assert isinstance(p.server_error, VerificationError)
    assert "not valid yet" in str(p.server_error) or "not yet valid" in str(p.server_error)
