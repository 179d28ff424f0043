"""The in-memory CA: extensions, key types, chains, CRLs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.tls.pair import pair
from zerotls.errors import ConfigError, PKIError
from zerotls.pki import CA
from zerotls.tls.config import ClientConfig, ServerConfig


def test_leaf_extensions_are_exact() -> None:
    ca = CA.create()
    issued = ca.issue(
        "db",
        spiffe_id="spiffe://prod.example/svc/db",
        dns=["db.internal"],
        ips=["10.0.0.1"],
        usage="server",
    )
    cert = issued.cert
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert issued.identity.spiffe_id == "spiffe://prod.example/svc/db"
    assert issued.identity.ip_addresses == ("10.0.0.1",)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(hours=24) < lifetime <= dt.timedelta(hours=24, minutes=5)  # short-lived


def test_ca_extensions() -> None:
    ca = CA.create()
    bc = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 1
    ku = ca.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature


@pytest.mark.parametrize("usage", ["client", "both"])
def test_usage_sets_eku(usage: str) -> None:
    issued = CA.create().issue("x", usage=usage)  # type: ignore[arg-type]
    eku = list(issued.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert (ExtendedKeyUsageOID.SERVER_AUTH in eku) == (usage == "both")


def test_invalid_identities_are_refused() -> None:
    ca = CA.create()
    with pytest.raises(ConfigError):
        ca.issue("x", spiffe_id="spiffe://BAD/x")
    with pytest.raises(ConfigError):
        ca.issue("x", ips=["300.1.1.1"])
    with pytest.raises(ConfigError):
        ca.issue("bad name!")
    with pytest.raises(ConfigError):
        ca.issue("x", key_type="dsa")  # type: ignore[arg-type]


def test_leaf_cannot_outlive_its_ca() -> None:
    ca = CA.create(ttl=dt.timedelta(days=1))
    with pytest.raises(PKIError, match="outlive"):
        ca.issue("x", ttl=dt.timedelta(days=30))


@pytest.mark.parametrize("key_type", ["ec", "ed25519", "rsa"])
def test_key_types_handshake(tmp_path: Path, key_type: str) -> None:
    ca = CA.create(key_type=key_type)  # type: ignore[arg-type]
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    ca.issue("localhost", key_type=key_type).write(tmp_path / "s.pem", tmp_path / "s.key")  # type: ignore[arg-type]
    ca.issue("c", key_type=key_type, usage="client").write(tmp_path / "c.pem", tmp_path / "c.key")  # type: ignore[arg-type]
    p = pair(
        ClientConfig(
            server_name="localhost",
            ca=tmp_path / "ca.pem",
            cert=tmp_path / "c.pem",
            key=tmp_path / "c.key",
        ),
        ServerConfig(cert=tmp_path / "s.pem", key=tmp_path / "s.key", ca=tmp_path / "ca.pem"),
    )
    assert p.client_error is None and p.server_error is None
    assert p.client.handshake is not None


def test_intermediate_chain_verifies_against_the_root_only(tmp_path: Path) -> None:
    root = CA.create()
    inter = root.create_intermediate()
    assert inter.parents == ()
    (tmp_path / "root.pem").write_bytes(root.cert_pem)
    server = inter.issue("localhost")
    assert server.chain == (inter.cert,)
    server.write(tmp_path / "s.pem", tmp_path / "s.key")
    inter.issue("c", usage="client").write(tmp_path / "c.pem", tmp_path / "c.key")
    p = pair(
        ClientConfig(
            server_name="localhost",
            ca=tmp_path / "root.pem",
            cert=tmp_path / "c.pem",
            key=tmp_path / "c.key",
        ),
        ServerConfig(cert=tmp_path / "s.pem", key=tmp_path / "s.key", ca=tmp_path / "root.pem"),
    )
    assert p.client_error is None and p.server_error is None


def test_written_key_is_private(tmp_path: Path) -> None:
    issued = CA.create().issue("x")
    issued.write(tmp_path / "x.pem", tmp_path / "x.key")
    assert (tmp_path / "x.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "x.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 1


def test_crl_lists_reason_and_is_signed_by_the_ca() -> None:
    ca = CA.create()
    leaf = ca.issue("x")
    when = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    crl = ca.crl([(leaf.cert.serial_number, when, "key_compromise")])
    entry = crl.get_revoked_certificate_by_serial_number(leaf.cert.serial_number)
    assert entry is not None and entry.revocation_date_utc == when
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    assert crl.is_signature_valid(ca.cert.public_key())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown revocation reason"):
        ca.crl([(1, when, "because")])
