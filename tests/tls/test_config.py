"""Configs: secure defaults, weaker only by name, clear errors, TOML."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.conftest import PKI
from zerotls.errors import ConfigError
from zerotls.tls.config import DEFAULT_GROUPS, ClientConfig, ServerConfig, TLSVersion, parse_pin
from zerotls.tls.context import TLSContext


def test_defaults_are_secure(pki: PKI) -> None:
    cfg = pki.server_config()
    assert cfg.min_version is TLSVersion.TLSv1_3
    assert cfg.require_client_cert is True
    assert cfg.groups == DEFAULT_GROUPS and cfg.groups[0] == "X25519MLKEM768"


@pytest.mark.parametrize("legacy", ["1.1", "1.0", "TLSv1", "tls1_1", "ssl3", "SSLv3", "sslv2"])
def test_legacy_versions_are_refused_with_a_pointer_to_audit(legacy: str) -> None:
    with pytest.raises(ConfigError, match="zerotls audit") as err:
        ClientConfig(server_name="x", min_version=legacy)  # type: ignore[arg-type]
    assert "RFC 8996" in str(err.value)


@pytest.mark.parametrize(
    ("text", "version"),
    [("1.2", TLSVersion.TLSv1_2), ("TLSv1.3", TLSVersion.TLSv1_3), ("tls1_2", TLSVersion.TLSv1_2)],
)
def test_version_spellings(text: str, version: TLSVersion) -> None:
    assert ClientConfig(server_name="x", min_version=text).min_version is version  # type: ignore[arg-type]


def test_client_must_expect_someone() -> None:
    with pytest.raises(ConfigError, match="Hostname verification cannot be off"):
        ClientConfig()


def test_expect_identity_must_be_a_valid_spiffe_id() -> None:
    with pytest.raises(ConfigError, match="SPIFFE"):
        ClientConfig(expect_identity="https://prod.example/svc")
    assert ClientConfig(expect_identity="spiffe://prod.example/svc/db").expect_identity


def test_server_requires_ca_unless_client_auth_is_off_by_name(pki: PKI) -> None:
    with pytest.raises(ConfigError, match="require_client_cert"):
        ServerConfig(cert=pki.server.cert, key=pki.server.key)
    cfg = ServerConfig(cert=pki.server.cert, key=pki.server.key, require_client_cert=False)
    assert cfg.ca is None


def test_cert_and_key_go_together(pki: PKI) -> None:
    with pytest.raises(ConfigError, match="together"):
        ClientConfig(server_name="x", cert=pki.client.cert)


def test_pins_are_validated_and_normalized(pki: PKI) -> None:
    pin = pki.server.issued.pin
    assert parse_pin(f"sha256/{pin}") == pin
    with pytest.raises(ConfigError, match="32 bytes"):
        parse_pin("AAAA")
    with pytest.raises(ConfigError, match="not base64"):
        parse_pin("not a pin!")
    import base64
    import hashlib

    sha1 = base64.b64encode(hashlib.sha1(b"x").digest()).decode()  # noqa: S324
    with pytest.raises(ConfigError):
        parse_pin(sha1)


def test_unknown_group_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown key-exchange group"):
        ClientConfig(server_name="x", groups=("ffdhe1024",))


def test_frozen_and_replace(pki: PKI) -> None:
    cfg = pki.client_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.server_name = "y"  # type: ignore[misc]
    assert dataclasses.replace(cfg, server_name="y").server_name == "y"
    with pytest.raises(ConfigError):
        dataclasses.replace(cfg, min_version="1.0")  # type: ignore[arg-type]


def test_toml_loading_resolves_relative_paths(pki: PKI, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(pki.ca_path.read_bytes())
    (tmp_path / "svc.pem").write_bytes(pki.server.cert.read_bytes())
    (tmp_path / "svc.key").write_bytes(pki.server.key.read_bytes())
    toml = tmp_path / "zerotls.toml"
    toml.write_text(
        '[server]\ncert = "svc.pem"\nkey = "svc.key"\nca = "ca.pem"\nmin_version = "1.2"\n'
        'alpn = ["h2"]\nallowed_identities = ["spiffe://test.zerotls.dev/svc/web"]\n'
        '[client]\nserver_name = "localhost"\nca = "ca.pem"\n'
        f'pins = ["sha256/{pki.server.issued.pin}"]\n'
    )
    server = ServerConfig.from_toml(toml, table="server")
    assert server.cert == tmp_path / "svc.pem" and server.min_version is TLSVersion.TLSv1_2
    assert server.alpn == ("h2",)
    client = ClientConfig.from_toml(toml, table="client")
    assert client.pins == frozenset({pki.server.issued.pin})
    TLSContext(server)  # the files really load


def test_toml_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("server_name = 'x'\nverify = false\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        ClientConfig.from_toml(bad)
    bad.write_text("not = [toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        ClientConfig.from_toml(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        ClientConfig.from_toml(tmp_path / "missing.toml")


def test_context_reports_bad_files(pki: PKI, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello")
    with pytest.raises(ConfigError, match="no valid PEM certificate"):
        TLSContext(pki.client_config(ca=garbage))
    with pytest.raises(ConfigError, match="cannot read"):
        TLSContext(pki.client_config(ca=tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match="does not belong"):
        TLSContext(pki.server_config(key=pki.client.key))
