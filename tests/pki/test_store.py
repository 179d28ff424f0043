"""The on-disk PKI: layout, permissions, index, revocation and CRL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509

from zerotls.errors import PKIError
from zerotls.pki import PKIStore


def test_init_layout_and_permissions(tmp_path: Path) -> None:
    store = PKIStore.init(tmp_path / "pki", intermediate=True)
    root = store.root
    assert root.stat().st_mode & 0o777 == 0o700
    for key in ("ca.key", "intermediate.key"):
        assert (root / key).stat().st_mode & 0o777 == 0o600
    assert store.crl_path.exists()
    assert json.loads((root / "index.json").read_text())["certs"] == []
    with pytest.raises(PKIError, match="already exists"):
        PKIStore.init(root)


def test_open_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PKIError, match="zerotls pki init"):
        PKIStore(tmp_path / "nothing")


def test_issue_revoke_crl(tmp_path: Path) -> None:
    store = PKIStore.init(tmp_path / "pki", intermediate=True)
    record, issued = store.issue("db", spiffe_id="spiffe://prod.example/svc/db", usage="server")
    assert (store.root / record.key_path).stat().st_mode & 0o777 == 0o600
    chain = (store.root / record.cert_path).read_bytes()
    assert chain.count(b"BEGIN CERTIFICATE") == 2  # leaf + intermediate
    assert store.find("db").serial == record.serial
    assert store.find(record.serial.upper()).name == "db"
    revoked = store.revoke("db", reason="key_compromise")
    assert revoked.revoked and revoked.reason == "key_compromise"
    crl = x509.load_pem_x509_crl(store.crl_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(issued.cert.serial_number) is not None
    with pytest.raises(PKIError, match="already revoked"):
        store.revoke(record.serial)
    with pytest.raises(PKIError, match="no certificate"):
        store.revoke("nope")
