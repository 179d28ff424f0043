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


@pytest.mark.parametrize(
    "second", ["spiffe://a.example/two", "SPIFFE://a.example/evil", "Spiffe://a.example/x"]
)
def test_no_spiffe_id_from_a_second_spiffe_uri(second: str) -> None:
    # Two SPIFFE URIs make an invalid SVID: no identity rather than an ambiguous one. The
    # scheme is case-insensitive, so an upper-case one counts as a second SPIFFE ID.
    from cryptography import x509

    ca = CA.create()
    cert = ca.issue("x", spiffe_id="spiffe://a.example/one").cert
    sans = x509.SubjectAlternativeName(
        [
            x509.UniformResourceIdentifier(second),
            x509.UniformResourceIdentifier("spiffe://a.example/one"),
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


def _client_cert(pki: PKI, tmp_path: object, eku: list[object] | None) -> tuple[object, object]:
    """A client certificate from the test CA with the given extendedKeyUsage (None: none)."""
    import datetime as dt
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eku-test")]))
        .issuer_name(pki.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier("spiffe://test.zerotls.dev/svc/web")]
            ),
            critical=False,
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)  # type: ignore[arg-type]
    cert = builder.sign(pki.ca.key, hashes.SHA256())  # type: ignore[arg-type]
    root = Path(str(tmp_path))
    (root / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "c.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return root / "c.pem", root / "c.key"


def test_client_certificates_without_eku_are_accepted_server_auth_only_refused(
    pki: PKI, tmp_path: object
) -> None:
    """The decision docs/tls.md records: RFC 5280 lets a leaf without extendedKeyUsage serve
    any purpose; one that names only serverAuth is not a client certificate."""
    from pathlib import Path

    from cryptography.x509.oid import ExtendedKeyUsageOID

    from tests.tls.pair import pair
    from zerotls.errors import VerificationError

    root = Path(str(tmp_path))
    (root / "none").mkdir()
    (root / "server").mkdir()
    cert, key = _client_cert(pki, root / "none", None)
    ok = pair(pki.client_config(cert=cert, key=key), pki.server_config())
    assert ok.server_error is None
    cert, key = _client_cert(pki, root / "server", [ExtendedKeyUsageOID.SERVER_AUTH])
    refused = pair(pki.client_config(cert=cert, key=key), pki.server_config())
    assert isinstance(refused.server_error, VerificationError)
    assert "extendedKeyUsage lacks clientAuth" in str(refused.server_error)
