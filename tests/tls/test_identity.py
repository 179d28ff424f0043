"""Identities: SPIFFE ID rules, SANs, pins."""

from __future__ import annotations

import pytest

from tests.conftest import PKI, SERVER_ID
from zerotls.errors import ConfigError
from zerotls.pki import CA
from zerotls.tls.identity import Identity, parse_spiffe_id


@pytest.mark.parametrize(
    "good",
    ["spiffe://prod.example/svc/db", "spiffe://prod.example", "spiffe://a-b_c.d/x.y-z_0/A"],
)
def test_valid_spiffe_ids(good: str) -> None:
    assert str(parse_spiffe_id(good)) == good


@pytest.mark.parametrize(
    "bad",
    [
        "http://prod.example/svc",  # wrong scheme
        "spiffe://Prod.example/svc",  # uppercase trust domain
        "spiffe://prod.example:8443/svc",  # port
        "spiffe://user@prod.example/svc",  # user info
        "spiffe:///svc",  # empty trust domain
        "spiffe://prod.example/svc/",  # trailing slash
        "spiffe://prod.example//svc",  # empty segment
        "spiffe://prod.example/svc/../db",  # dot segment
        "spiffe://prod.example/svc?x=1",  # query
        "spiffe://prod.example/svc#f",  # fragment
        "spiffe://prod.example/" + "a" * 2100,  # too long
    ],
)
def test_invalid_spiffe_ids(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_spiffe_id(bad)


def test_identity_fields(pki: PKI) -> None:
    ident = Identity.from_certificate(pki.server.issued.cert)
    assert ident.spiffe_id == SERVER_ID
    assert ident.dns_names == ("localhost",) and ident.ip_addresses == ("127.0.0.1",)
    assert ident.common_name == "server"
    assert ident.spki_pin == pki.server.issued.pin and len(ident.fingerprint_sha256) == 64
    assert ident.issuer == "CN=test root CA,O=zerotls"
    assert ident.matches_host("LOCALHOST.") and ident.matches_host("127.0.0.1")
    assert not ident.matches_host("server")  # the CN is never a name
    assert ident.to_dict()["spiffe_id"] == SERVER_ID


def test_no_spiffe_id_from_a_second_spiffe_uri() -> None:
    # Two SPIFFE URIs make an invalid SVID: no identity rather than an ambiguous one.
    from cryptography import x509

    ca = CA.create()
    cert = ca.issue("x", spiffe_id="spiffe://a.example/one").cert
    sans = x509.SubjectAlternativeName(
        [
            x509.UniformResourceIdentifier("spiffe://a.example/one"),
            x509.UniformResourceIdentifier("spiffe://a.example/two"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(ca.cert.subject)
        .public_key(cert.public_key())
        .serial_number(1)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
        .add_extension(sans, critical=False)
    )
    from cryptography.hazmat.primitives import hashes

    two = builder.sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
    ident = Identity.from_certificate(two)
    assert ident.spiffe_id is None and len(ident.uris) == 2
