"""`zerotls hmac`: in-process through zerotls.cli.main, and once as a real pipeline."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from zerotls.cli import main
from zerotls.integrity import KeyRing, sign


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))


@pytest.fixture
def ring_path(tmp_path: Path) -> Path:
    path = tmp_path / "ring.json"
    KeyRing.generate().save(path)  # `keygen` itself is tested below
    return path


def test_keygen_creates_a_private_ring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ring.json"
    assert main(["hmac", "keygen", "--keyring", str(path)]) == 0
    ring = KeyRing.load(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert capsys.readouterr().out == (
        f"created key ring {path} (mode 0600) with current key {ring.current.kid}\n"
    )


def test_keygen_refuses_to_overwrite_without_force(
    ring_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ring_path.read_bytes()
    assert main(["hmac", "keygen", "--keyring", str(ring_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zerotls: key ring {ring_path} already exists; pass --force")
    assert ring_path.read_bytes() == before
    assert main(["hmac", "keygen", "--keyring", str(ring_path), "--force"]) == 0
    assert ring_path.read_bytes() != before


def test_sign_then_verify_in_process(
    ring_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    payload = b'{"order": 42}\n\x00\xff binary is fine'
    _stdin(monkeypatch, payload)
    assert main(["hmac", "sign", "--keyring", str(ring_path)]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(f"zt1.{KeyRing.load(ring_path).current.kid}.".encode())
    assert out.endswith(b"\n")
    assert out.count(b"\n") == 1

    envelope_file = tmp_path / "msg.zt1"
    envelope_file.write_bytes(out)
    code = main(["hmac", "verify", "--keyring", str(ring_path), "--in", str(envelope_file)])
    captured = capsysbinary.readouterr()
    assert (code, captured.out, captured.err) == (0, payload, b"")


def test_sign_reads_a_file(
    ring_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "body.json"
    source.write_bytes(b"[1, 2]")
    assert main(["hmac", "sign", "--keyring", str(ring_path), "--in", str(source)]) == 0
    envelope = capsys.readouterr().out.strip()
    assert envelope.split(".")[4] == "WzEsIDJd"  # base64url of b"[1, 2]"


def _verify(
    ring_path: Path,
    envelope: bytes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
) -> tuple[int, str, str]:
    _stdin(monkeypatch, envelope)
    code = main(["hmac", "verify", "--keyring", str(ring_path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("make_envelope", "message"),
    [
        (lambda ring: b"not an envelope\n", "zerotls: envelope does not start with 'zt1.'"),
        (lambda ring: sign(ring, b"x")[:-5], "zerotls: envelope is malformed: the MAC is"),
        (
            lambda ring: sign(ring, b"x", now=time.time() - 400),
            "zerotls: envelope was signed 40",
        ),
        (
            lambda ring: sign(ring, b"x", now=time.time() + 120),
            "zerotls: envelope claims to be signed 1",
        ),
        (
            lambda ring: sign(KeyRing.generate(), b"x"),
            "zerotls: envelope was signed with key",
        ),
        (
            lambda ring: sign(ring, b"x").replace(b".eA.", b".eQ."),
            "zerotls: envelope MAC does not match",
        ),
    ],
    ids=["garbage", "truncated", "expired", "future", "unknown-key", "tampered"],
)
def test_verify_failures_exit_1_with_one_line(
    ring_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_envelope: object,
    message: str,
) -> None:
    envelope: bytes = make_envelope(KeyRing.load(ring_path))  # type: ignore[operator]
    code, out, err = _verify(ring_path, envelope, monkeypatch, capsys)
    assert code == 1
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_verify_max_age_option(
    ring_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = sign(KeyRing.load(ring_path), b"nightly", now=time.time() - 3000)
    assert _verify(ring_path, envelope, monkeypatch, capsys)[0] == 1
    assert _verify(ring_path, envelope, monkeypatch, capsys, "--max-age", "1h") == (
        0,
        "nightly",
        "",
    )


def test_verify_rejects_a_bad_duration(
    ring_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, b"")
    with pytest.raises(SystemExit) as exc_info:
        main(["hmac", "verify", "--keyring", str(ring_path), "--max-age", "soon"])
    assert exc_info.value.code == 2
    assert "'soon' is not a duration" in capsys.readouterr().err


def test_missing_keyring_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, b"hello")
    assert main(["hmac", "sign", "--keyring", str(tmp_path / "none.json")]) == 2
    assert "create one with `zerotls hmac keygen" in capsys.readouterr().err


def test_rotate_keeps_old_envelopes_verifying(
    ring_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old_kid = KeyRing.load(ring_path).current.kid
    old = sign(KeyRing.load(ring_path), b"old")
    assert main(["hmac", "rotate", "--keyring", str(ring_path)]) == 0
    ring = KeyRing.load(ring_path)
    out = capsys.readouterr().out
    assert f"new current key {ring.current.kid}; previous key {old_kid} keeps verifying" in out
    assert stat.S_IMODE(ring_path.stat().st_mode) == 0o600
    assert [k.kid for k in ring.keys] == [ring.current.kid, old_kid]
    assert _verify(ring_path, old, monkeypatch, capsys) == (0, "old", "")

    second_kid = ring.current.kid
    assert main(["hmac", "rotate", "--keyring", str(ring_path), "--retire-after", "0"]) == 0
    capsys.readouterr()
    ring = KeyRing.load(ring_path)
    assert list(ring.retired) == [second_kid]  # retired at once, secret deleted
    assert [k.kid for k in ring.keys] == [ring.current.kid, old_kid]  # still in its grace day
    assert _verify(ring_path, old, monkeypatch, capsys) == (0, "old", "")


def test_rotate_retire_now_stops_the_previous_key(
    ring_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = sign(KeyRing.load(ring_path), b"old")
    assert main(["hmac", "rotate", "--keyring", str(ring_path), "--retire-after", "0"]) == 0
    assert "is retired now" in capsys.readouterr().out
    code, out, err = _verify(ring_path, old, monkeypatch, capsys)
    assert (code, out) == (1, "")
    assert "retired at" in err


def test_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["hmac", "verify", "--help"])
    out = capsys.readouterr().out
    assert "cannot tell that" in out  # the replay limitation is spelled out
    assert "zerotls hmac verify --keyring ring.json --in order.zt1" in out


def test_sign_pipe_verify_as_real_processes(tmp_path: Path) -> None:
    ring = tmp_path / "ring.json"
    zerotls = [sys.executable, "-m", "zerotls", "hmac"]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    subprocess.run([*zerotls, "keygen", "--keyring", str(ring)], check=True, env=env, timeout=60)
    payload = b"line one\nline two\n\x00"
    with (
        subprocess.Popen(
            [*zerotls, "sign", "--keyring", str(ring)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        ) as signer,
        subprocess.Popen(
            [*zerotls, "verify", "--keyring", str(ring)],
            stdin=signer.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        ) as verifier,
    ):
        assert signer.stdin is not None
        assert signer.stdout is not None
        signer.stdin.write(payload)
        signer.stdin.close()
        signer.stdout.close()  # the verifier holds the read end now
        out, err = verifier.communicate(timeout=60)
        assert signer.wait(timeout=60) == 0
    assert (verifier.returncode, out, err) == (0, payload, b"")

    refused = subprocess.run(
        [*zerotls, "verify", "--keyring", str(ring)],
        input=b"zt1.garbage\n",
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert refused.stdout == b""
    assert refused.stderr.startswith(b"zerotls: envelope is malformed")
