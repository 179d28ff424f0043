"""KeyRing: generation, rotation and retirement state, and the 0600 JSON file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from zerotls.errors import ConfigError
from zerotls.integrity import HmacKey, KeyRing, Verifier, sign

T0 = 1_764_320_000.0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_makes_a_32_byte_key_with_a_short_printable_id() -> None:
    ring = KeyRing.generate(now=T0)
    key = ring.current
    assert len(key.secret) == 32
    assert len(key.kid) == 8
    assert key.kid.isascii()
    assert key.kid.isalnum()
    assert key.created_at == int(T0)
    assert key.retire_at is None
    assert KeyRing.generate(now=T0).current.secret != key.secret


def test_secrets_never_appear_in_reprs() -> None:
    ring = KeyRing.generate(now=T0)
    assert ring.current.secret.hex() not in repr(ring.current)
    assert repr(ring.current.secret) not in repr(ring.current)
    assert repr(ring.current.secret) not in repr(ring)


def test_short_secret_and_bad_id_are_refused() -> None:
    with pytest.raises(ConfigError, match="shorter than 32 bytes"):
        HmacKey(kid="k1", secret=b"x" * 31, created_at=0)
    with pytest.raises(ConfigError, match="not 1-32 characters"):
        HmacKey(kid="has.dot", secret=b"x" * 32, created_at=0)


def test_rotate_schedules_and_purges() -> None:
    ring = KeyRing.generate(now=T0)
    first = ring.current.kid
    second = ring.rotate(now=T0 + 1, retire_after=100).kid
    assert [k.kid for k in ring.keys] == [second, first]
    assert [k.kid for k in ring.active_keys(now=T0 + 100)] == [second, first]
    assert [k.kid for k in ring.active_keys(now=T0 + 101)] == [second]
    third = ring.rotate(now=T0 + 200).kid  # purges `first`, leaves `second` active
    assert ring.retired == {first: int(T0) + 101}
    assert [k.kid for k in ring.keys] == [third, second]
    assert len({first, second, third}) == 3


def test_retire_refuses_the_current_key_and_unknown_ids() -> None:
    ring = KeyRing.generate(now=T0)
    with pytest.raises(ConfigError, match="rotate first"):
        ring.retire(ring.current.kid, now=T0)
    with pytest.raises(ConfigError, match="no such key"):
        ring.retire("nope", now=T0)
    with pytest.raises(ConfigError, match="retire_after"):
        ring.rotate(now=T0, retire_after=-1)


def test_save_writes_mode_0600_atomically_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    old_umask = os.umask(0)  # a permissive umask must not leak into the file mode
    try:
        ring = KeyRing.generate(now=T0)
        old_kid = ring.current.kid
        envelope = sign(ring, b"before save", now=T0)
        ring.rotate(now=T0 + 1, retire_after=60)
        ring.save(path)
    finally:
        os.umask(old_umask)
    assert _mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ring.json"]  # no temp file left

    loaded = KeyRing.load(path)
    assert loaded.current == ring.current
    assert loaded.keys == ring.keys
    assert loaded.retired == ring.retired
    assert loaded.to_json() == ring.to_json()
    assert Verifier(loaded).verify(envelope, now=T0 + 2).key_id == old_kid

    document = json.loads(path.read_text())
    assert document["format"] == "zerotls-hmac-keyring"
    assert document["version"] == 1
    assert document["current"] == ring.current.kid
    assert [k["kid"] for k in document["keys"]] == [ring.current.kid, old_kid]
    assert document["keys"][1]["retire_at"] == int(T0) + 61


def test_save_replaces_a_world_readable_file_with_a_private_one(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    path.write_text("old contents")
    path.chmod(0o644)
    KeyRing.generate(now=T0).save(path)
    assert _mode(path) == 0o600
    assert KeyRing.load(path).current.created_at == int(T0)


def test_retired_tombstones_survive_the_file(tmp_path: Path) -> None:
    ring = KeyRing.generate(now=T0)
    old = ring.current.kid
    ring.rotate(now=T0, retire_after=0)
    ring.save(tmp_path / "ring.json")
    loaded = KeyRing.load(tmp_path / "ring.json")
    assert loaded.retired == {old: int(T0)}
    assert old not in (tmp_path / "ring.json").read_text().split('"retired"')[0]


def test_load_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    KeyRing.generate(now=T0).save(path)
    path.chmod(0o640)
    with pytest.raises(ConfigError, match=r"mode 0640.*chmod 600"):
        KeyRing.load(path)


def test_load_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="zerotls hmac keygen --keyring"):
        KeyRing.load(tmp_path / "missing.json")


def test_save_into_a_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write key ring"):
        KeyRing.generate(now=T0).save(tmp_path / "no" / "ring.json")


def _write_private(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(format="other"), "'format'"),
        (lambda d: d.update(version=2), "'version' is 2"),
        (lambda d: d.update(version=True), "'version' is True"),
        (lambda d: d.update(extra=1), "unknown fields"),
        (lambda d: d.update(current="nope"), "current key 'nope' is not in the key ring"),
        (lambda d: d["keys"][0].update(secret="c2hvcnQ"), "shorter than 32 bytes"),
        (lambda d: d["keys"][0].update(secret="not base64!"), "not unpadded base64url"),
        (lambda d: d["keys"][0].update(created_at="yesterday"), "not Unix times"),
        (lambda d: d["keys"][0].pop("retire_at"), "must be an object with"),
        (lambda d: d.update(keys=d["keys"] * 2), "appears twice"),
        (lambda d: d.update(retired={"x": "y"}), "'retired'"),
    ],
)
def test_load_refuses_invalid_documents(tmp_path: Path, mutate: object, reason: str) -> None:
    document = json.loads(KeyRing.generate(now=T0).to_json())
    mutate(document)  # type: ignore[operator]
    path = tmp_path / "ring.json"
    _write_private(path, json.dumps(document))
    with pytest.raises(ConfigError, match=reason):
        KeyRing.load(path)


def test_load_refuses_non_json(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    _write_private(path, "{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        KeyRing.load(path)
