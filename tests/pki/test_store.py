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
    [revoked] = store.revoke("db", reason="key_compromise")
    assert revoked.revoked and revoked.reason == "key_compromise"
    crl = x509.load_pem_x509_crl(store.crl_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(issued.cert.serial_number) is not None
    with pytest.raises(PKIError, match="already revoked"):
        store.revoke(record.serial)
    with pytest.raises(PKIError, match="no certificate"):
        store.revoke("nope")


def test_reissue_never_overwrites_a_key_and_revoke_by_name_revokes_all(tmp_path: Path) -> None:
    store = PKIStore.init(tmp_path / "pki")
    first, _ = store.issue("db", dns=["db.internal"])
    first_key = (store.root / first.key_path).read_bytes()
    with pytest.raises(PKIError, match="--replace"):
        store.issue("db", dns=["db.internal"])
    assert (store.root / first.key_path).read_bytes() == first_key  # untouched
    second, _ = store.issue("db", dns=["db.internal"], replace=True)
    [old] = [r for r in store.records() if r.serial == first.serial]
    assert old.cert_path == f"certs/previous/db.{first.serial}.pem"
    assert (store.root / old.key_path).read_bytes() == first_key  # moved, not lost
    assert (store.root / second.key_path).read_bytes() != first_key
    # After a key theft: revoke by name revokes the stolen one and the reissue alike.
    revoked = store.revoke("db", reason="keyCompromise")
    assert {r.serial for r in revoked} == {first.serial, second.serial}
    crl = x509.load_pem_x509_crl(store.crl_path.read_bytes())
    for record in (first, second):
        assert crl.get_revoked_certificate_by_serial_number(int(record.serial, 16)) is not None
    with pytest.raises(PKIError, match="already revoked"):
        store.revoke("db")
    store.issue("db", dns=["db.internal"])  # nothing valid under the name: no --replace needed


@pytest.mark.parametrize("name", ["", "a/b", "a\nb", "../x", ".hidden", "x" * 65, "é"])
def test_unsafe_names_are_refused_with_the_rule(tmp_path: Path, name: str) -> None:
    store = PKIStore.init(tmp_path / "pki")
    with pytest.raises(PKIError, match="1-64 letters, digits"):
        store.issue(name.replace("\\n", "\n"), dns=["x.internal"])
    assert list((store.root / "certs").glob("*")) == [] if (store.root / "certs").exists() else True


def test_serials_as_openssl_prints_them_and_unique_prefixes(tmp_path: Path) -> None:
    store = PKIStore.init(tmp_path / "pki")
    record, issued = store.issue("web", dns=["web.internal"])
    openssl_form = "serial=0" + f"{issued.cert.serial_number:X}"  # leading zero, upper case
    assert store.find(openssl_form).serial == record.serial
    assert store.find(record.serial[:16].upper()).serial == record.serial
    store.issue("api", dns=["api.internal"])
    store.issue("app", dns=["app.internal"])
    # Two serials that share their first 12 digits (edited in: random ones almost never do).
    index = json.loads((store.root / "index.json").read_text())
    index["certs"][1]["serial"] = "abcdef012345" + "1" * 20
    index["certs"][2]["serial"] = "abcdef012345" + "2" * 20
    (store.root / "index.json").write_text(json.dumps(index))
    with pytest.raises(PKIError, match="matches 2 certificates: abcdef0123451"):
        store.find("ABCDEF012345")
    assert store.find("abcdef0123452").name == "app"
    assert store.find("api").serial.startswith("abcdef")  # a name still wins
    with pytest.raises(PKIError, match="no certificate"):
        store.find("0123456789abcdef0123")
    [revoked] = store.revoke(record.serial[:16])
    assert revoked.serial == record.serial


def test_reasons_in_every_spelling_are_stored_canonically(tmp_path: Path) -> None:
    from zerotls.errors import ConfigError

    store = PKIStore.init(tmp_path / "pki")
    for i, spelling in enumerate(
        ["keyCompromise", "KEY_COMPROMISE", "key_compromise ", "key-compromise"]
    ):
        store.issue(f"k{i}", dns=["k.internal"])
        [r] = store.revoke(f"k{i}", reason=spelling)
        assert r.reason == "key_compromise"
    store.issue("z", dns=["z.internal"])
    with pytest.raises(ConfigError, match="delta CRLs"):
        store.revoke("z", reason="removeFromCRL")
    with pytest.raises(ConfigError, match="keyCompromise"):
        store.revoke("z", reason="stolen")
    assert not store.find("z").revoked


def test_an_index_with_odd_spellings_is_migrated(tmp_path: Path) -> None:
    store = PKIStore.init(tmp_path / "pki")
    store.issue("a", dns=["a.internal"])
    store.issue("b", dns=["b.internal"])
    index = json.loads((store.root / "index.json").read_text())
    index["certs"][0].update(revoked_at="2026-01-01T00:00:00+00:00", reason="keyCompromise")
    index["certs"][1].update(revoked_at="2026-01-01T00:00:00+00:00", reason="made up")
    (store.root / "index.json").write_text(json.dumps(index))
    reopened = PKIStore(store.root)
    stored = json.loads((store.root / "index.json").read_text())["certs"]
    assert [c["reason"] for c in stored] == ["key_compromise", "unspecified"]
    assert all(r.revoked for r in reopened.records())  # an odd reason never un-revokes


def test_an_old_index_entry_written_to_the_same_file_is_never_overwritten(tmp_path: Path) -> None:
    # Older versions sanitized "my web" to certs/my_web.pem; issuing "my_web" must see it.
    store = PKIStore.init(tmp_path / "pki")
    first, _ = store.issue("my_web", dns=["w.internal"])
    index = json.loads((store.root / "index.json").read_text())
    index["certs"][0]["name"] = "my web"
    (store.root / "index.json").write_text(json.dumps(index))
    old_key = (store.root / first.key_path).read_bytes()
    with pytest.raises(PKIError, match="--replace"):
        store.issue("my_web", dns=["w.internal"])
    store.issue("my_web", dns=["w.internal"], replace=True)
    [kept] = [r for r in store.records() if r.serial == first.serial]
    assert (store.root / kept.key_path).read_bytes() == old_key
