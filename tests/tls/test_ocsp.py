"""OCSP: staple validation (our code: OpenSSL checks nothing), stapling, and the client modes.

The validator's negatives each have their own error; the engine tests run two real engines
back to back; the ``peers`` tests put ``openssl s_server -status_file`` and ``s_client -status``
on the other end.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.conftest import PKI
from tests.peers.openssl import s_client, s_server
from tests.tls.ocsp_util import response, tamper_produced_at
from tests.tls.pair import Pair, pair
from zerotls.errors import (
    RevocationError,
    StapleInvalid,
    StapleMissing,
    StapleStale,
    TLSAlert,
)
from zerotls.pki import CA
from zerotls.pki.ocsp import CertStatus, OCSPResponder, OCSPServer, serve
from zerotls.tls.context import TLSContext
from zerotls.tls.ocsp import (
    Stapler,
    check_ocsp_response,
    must_staple,
    ocsp_url_of,
    verify_ocsp_response,
)
from zerotls.tls.sync import TLSSocket, connect
from zerotls.tls.sync import serve as serve_tls

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def _now() -> None:
    """Each test judges at its own start: responses are built with the real clock, and a
    module-wide time taken at collection drifts past the skew in a long run."""
    global NOW  # noqa: PLW0603
    NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def leaf(pki: PKI) -> x509.Certificate:
    return pki.server.issued.cert


# -- the validator ---------------------------------------------------------------------------


def test_good_response_signed_by_issuer(pki: PKI, leaf: x509.Certificate) -> None:
    status = check_ocsp_response(response(leaf, pki.ca), leaf, pki.ca.cert, now=NOW)
    assert status.status == "good" and status.signer == "issuer"
    assert status.next_update is not None and status.refresh_at() < status.next_update


def test_good_response_from_delegated_responder(pki: PKI, leaf: x509.Certificate) -> None:
    delegate = pki.ca.issue_ocsp_responder()
    der = response(leaf, pki.ca, signer=(delegate.cert, delegate.key), include=[delegate.cert])
    status = check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)
    assert status.signer.startswith("CN=zerotls OCSP responder")


def test_revoked_carries_reason_and_time(pki: PKI, leaf: x509.Certificate) -> None:
    when = NOW.replace(microsecond=0) - dt.timedelta(minutes=10)
    der = response(
        leaf, pki.ca, status="revoked", revoked_at=when, reason=x509.ReasonFlags.key_compromise
    )
    with pytest.raises(RevocationError, match="revoked .reason key_compromise") as err:
        check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)
    assert type(err.value) is RevocationError
    assert err.value.reason == "key_compromise" and err.value.revoked_at == when
    # The non-judging variant reports it instead (what a server uses for its own staple).
    assert verify_ocsp_response(der, leaf, pki.ca.cert, now=NOW).status == "revoked"


def test_unknown_status_is_refused(pki: PKI, leaf: x509.Certificate) -> None:
    with pytest.raises(RevocationError, match="does not know"):
        check_ocsp_response(response(leaf, pki.ca, status="unknown"), leaf, pki.ca.cert, now=NOW)


def test_wrong_signer_is_refused(pki: PKI, leaf: x509.Certificate) -> None:
    other, _ = pki.other_ca("ocsp forger CA")
    der = response(leaf, pki.ca, signer=(other.cert, other.key))
    with pytest.raises(StapleInvalid, match="neither the certificate's issuer"):
        check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)


def test_delegated_responder_from_another_ca_is_refused(pki: PKI, leaf: x509.Certificate) -> None:
    other, _ = pki.other_ca("ocsp other delegating CA")
    rogue = other.issue_ocsp_responder("rogue responder")
    der = response(leaf, pki.ca, signer=(rogue.cert, rogue.key), include=[rogue.cert])
    with pytest.raises(StapleInvalid, match="did not certify"):
        check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)


def test_delegated_responder_without_ocsp_signing_is_refused(
    pki: PKI, leaf: x509.Certificate
) -> None:
    plain = pki.ca.issue("not-a-responder", usage="client")
    der = response(leaf, pki.ca, signer=(plain.cert, plain.key), include=[plain.cert])
    with pytest.raises(StapleInvalid, match="id-kp-OCSPSigning"):
        check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)


def test_tampered_response_is_refused(pki: PKI, leaf: x509.Certificate) -> None:
    der = tamper_produced_at(response(leaf, pki.ca))
    with pytest.raises(StapleInvalid, match="signature does not verify"):
        check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)


def test_response_for_another_certificate_is_refused(pki: PKI, leaf: x509.Certificate) -> None:
    der = response(pki.client.issued.cert, pki.ca)
    with pytest.raises(StapleInvalid, match="about another certificate"):
        check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)


def test_response_from_the_future_is_stale(pki: PKI, leaf: x509.Certificate) -> None:
    der = response(leaf, pki.ca, this_update=NOW + dt.timedelta(hours=1))
    with pytest.raises(StapleStale, match="from the future"):
        check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)


def test_expired_response_is_stale_but_skew_is_tolerated(pki: PKI, leaf: x509.Certificate) -> None:
    der = response(
        leaf,
        pki.ca,
        this_update=NOW - dt.timedelta(hours=2),
        next_update=NOW - dt.timedelta(minutes=2),
    )
    check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)  # within the 5 min default skew
    with pytest.raises(StapleStale, match="expired"):
        check_ocsp_response(der, leaf, pki.ca.cert, now=NOW, skew=dt.timedelta(seconds=30))


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x0a\x01\x00garbage", b"not der at all"])
def test_garbage_is_invalid(pki: PKI, leaf: x509.Certificate, data: bytes) -> None:
    with pytest.raises(StapleInvalid):
        check_ocsp_response(data, leaf, pki.ca.cert, now=NOW)


def test_unsuccessful_response_is_invalid(pki: PKI, leaf: x509.Certificate) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import ocsp

    der = ocsp.OCSPResponseBuilder.build_unsuccessful(
        ocsp.OCSPResponseStatus.TRY_LATER
    ).public_bytes(serialization.Encoding.DER)
    with pytest.raises(StapleInvalid, match="try_later"):
        check_ocsp_response(der, leaf, pki.ca.cert, now=NOW)


def test_extensions_must_staple_and_aia(pki: PKI) -> None:
    issued = pki.ca.issue(
        "ms", dns=["ms.test"], ocsp_url="http://127.0.0.1:9/ocsp", must_staple=True
    )
    assert must_staple(issued.cert) and ocsp_url_of(issued.cert) == "http://127.0.0.1:9/ocsp"
    assert not must_staple(pki.server.issued.cert) and ocsp_url_of(pki.server.issued.cert) is None


# -- engines back to back --------------------------------------------------------------------


class Responder:
    """An OCSP responder on loopback whose answers the test controls."""

    def __init__(self, ca: CA) -> None:
        self.statuses: dict[int, CertStatus] = {}
        self.responder = OCSPResponder(ca, self._status)
        self.server: OCSPServer = serve(self.responder)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.start()

    def _status(self, serial: int) -> CertStatus:
        return self.statuses.get(serial, CertStatus("unknown"))

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def responder(pki: PKI) -> Iterator[Responder]:
    r = Responder(pki.ca)
    yield r
    r.close()


def _stapled_server(pki: PKI, responder: Responder, name: str, **kw: object) -> Path:
    files = pki.write(name, dns=["localhost"], usage="server", ocsp_url=responder.url, **kw)
    responder.statuses[files.issued.cert.serial_number] = CertStatus("good")
    return files.cert


def test_server_staples_and_client_requires(pki: PKI, responder: Responder) -> None:
    cert = _stapled_server(pki, responder, "stapled")
    server = pki.server_config(cert=cert, key=cert.with_suffix(".key"))
    p = pair(pki.client_config(ocsp="require"), server)
    assert p.client_error is None and p.server_error is None
    assert p.client.revocation == "ocsp good (stapled, signed by issuer)"
    assert responder.server.requests_served == 1  # fetched once, at start


def test_require_without_staple_is_refused_with_its_alert(pki: PKI) -> None:
    p = pair(pki.client_config(ocsp="require"), pki.server_config())
    assert isinstance(p.client_error, StapleMissing)
    assert 'ocsp = "require"' in str(p.client_error)
    assert p.client_error.alert_sent == "bad_certificate_status_response"
    assert isinstance(p.server_error, TLSAlert)
    assert p.server_error.description == "bad_certificate_status_response"


def test_if_stapled_accepts_a_server_without_staple(pki: PKI) -> None:
    p = pair(pki.client_config(), pki.server_config())
    assert p.client_error is None and p.client.revocation == "not stapled"


def test_must_staple_certificate_forces_require(pki: PKI, tmp_path: Path) -> None:
    files = pki.write("muststaple", dns=["localhost"], usage="server", must_staple=True)
    server = pki.server_config(cert=files.cert, key=files.key)
    p = pair(pki.client_config(), server)  # default mode: if-stapled
    assert isinstance(p.client_error, StapleMissing)
    assert "must-staple" in str(p.client_error)


def test_revoked_staple_is_stapled_honestly_and_refused(
    pki: PKI, responder: Responder, caplog: pytest.LogCaptureFixture
) -> None:
    cert = _stapled_server(pki, responder, "revoked-srv")
    serial = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    responder.statuses[serial] = CertStatus("revoked", NOW, "key_compromise")
    with caplog.at_level(logging.ERROR, logger="zerotls.tls.ocsp"):
        context = TLSContext(pki.server_config(cert=cert, key=cert.with_suffix(".key")))
    assert "REVOKED" in caplog.text
    p = Pair(TLSContext(pki.client_config()).connection(), context.connection()).run()
    assert type(p.client_error) is RevocationError
    assert p.client_error.reason == "key_compromise"


def test_staple_refreshes_at_half_validity(pki: PKI, responder: Responder) -> None:
    cert = _stapled_server(pki, responder, "refresh-srv")
    server = pki.server_config(cert=cert, key=cert.with_suffix(".key"))
    context = TLSContext(server)
    stapler = context.stapler
    assert stapler is not None and stapler.status is not None
    first = stapler.current()
    assert responder.server.requests_served == 1
    # Pretend half the validity passed: the next handshake starts a background refresh.
    half = stapler.status.refresh_at().timestamp() + 1
    stapler._clock = lambda: half
    assert stapler.current() == first  # never blocks: the old one is served meanwhile
    deadline = time.monotonic() + 5
    while responder.server.requests_served < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert responder.server.requests_served == 2


def test_staple_is_never_a_foreign_or_broken_response(
    pki: PKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    staple = tmp_path / "staple.der"
    staple.write_bytes(response(pki.client.issued.cert, pki.ca))  # someone else's response
    with caplog.at_level(logging.WARNING):
        context = TLSContext(pki.server_config(ocsp_staple_file=staple))
    assert context.stapler is not None and context.stapler.current() == b""
    assert "about another certificate" in caplog.text
    # The right response replaces it: picked up from the file without a restart.
    staple.write_bytes(response(pki.server.issued.cert, pki.ca))
    clock = time.time() + 2
    context.stapler._clock = lambda: clock
    assert context.stapler.current() != b""
    p = Pair(TLSContext(pki.client_config(ocsp="require")).connection(), context.connection())
    assert p.run().client_error is None


def test_last_good_staple_is_served_until_next_update(pki: PKI, tmp_path: Path) -> None:
    staple = tmp_path / "staple.der"
    staple.write_bytes(response(pki.server.issued.cert, pki.ca))
    stapler = Stapler(pki.server.issued.cert, pki.ca.cert, staple_file=staple)
    good = stapler.refresh()
    staple.write_bytes(b"broken")
    later = good.refresh_at().timestamp()
    stapler._clock = lambda: later
    assert stapler.current() == good.der  # the broken file is refused, the old one kept
    assert stapler.last_error is not None and "malformed" in stapler.last_error
    after = good.usable_until().timestamp() + 1
    stapler._clock = lambda: after
    assert stapler.current() == b""  # past nextUpdate (+ skew): staple nothing


def test_ocsp_off_does_not_ask(pki: PKI, tmp_path: Path) -> None:
    staple = tmp_path / "staple.der"
    staple.write_bytes(response(pki.server.issued.cert, pki.ca))
    p = pair(pki.client_config(ocsp="off"), pki.server_config(ocsp_staple_file=staple))
    assert p.client_error is None and p.client.revocation is None


# -- real peers ------------------------------------------------------------------------------


@pytest.mark.peers
@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_openssl_s_client_sees_our_staple(pki: PKI, responder: Responder, version: str) -> None:
    cert = _stapled_server(pki, responder, f"s-client-staple-{version}")
    config = pki.server_config(
        cert=cert,
        key=cert.with_suffix(".key"),
        require_client_cert=False,  # the ca bundle still names our issuer, for the staple
        min_version=version,
    )

    def echo(tls: TLSSocket) -> None:
        tls.sendall(tls.recv())

    server = serve_tls(echo, "127.0.0.1", 0, config)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        flag = "-tls1_3" if version == "1.3" else "-tls1_2"
        out = s_client(server.port, ca=pki.ca_path, extra=["-status", flag]).stdout
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert "OCSP Response Status: successful" in out
    assert "Cert Status: good" in out
    assert "Verify return code: 0 (ok)" in out


@pytest.mark.peers
@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("good", None),
        ("revoked", RevocationError),
        ("stale", StapleStale),
        ("foreign", StapleInvalid),
    ],
)
def test_our_client_against_s_server_status_file(
    pki: PKI, tmp_path: Path, kind: str, error: type[Exception] | None
) -> None:
    leaf = pki.server.issued.cert
    der = {
        "good": lambda: response(leaf, pki.ca),
        "revoked": lambda: response(leaf, pki.ca, status="revoked"),
        "stale": lambda: response(
            leaf,
            pki.ca,
            this_update=NOW - dt.timedelta(days=2),
            next_update=NOW - dt.timedelta(days=1),
        ),
        "foreign": lambda: response(pki.client.issued.cert, pki.ca),
    }[kind]()
    status_file = tmp_path / "status.der"
    status_file.write_bytes(der)
    with s_server(pki.server.cert, pki.server.key, extra=["-status_file", str(status_file)]) as srv:
        if error is None:
            with connect("127.0.0.1", srv.port, pki.client_config(ocsp="require")) as tls:
                assert tls.identity is not None
            return
        with pytest.raises(error) as err:
            connect("127.0.0.1", srv.port, pki.client_config())
    assert err.value.alert_sent == "bad_certificate_status_response"


@pytest.mark.peers
def test_our_client_tls12_floor_checks_staples_too(pki: PKI, tmp_path: Path) -> None:
    status_file = tmp_path / "status.der"
    status_file.write_bytes(response(pki.server.issued.cert, pki.ca, status="revoked"))
    with s_server(
        pki.server.cert, pki.server.key, extra=["-tls1_2", "-status_file", str(status_file)]
    ) as srv:
        with pytest.raises(RevocationError, match="revoked"):
            connect("127.0.0.1", srv.port, pki.client_config(min_version="1.2"))
