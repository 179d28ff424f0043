"""``zerotls pki`` with the inputs people really type: each expected failure is one line on
stderr with exit 2, never a traceback; odd but valid input is accepted in its proper form."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from zerotls.cli import main


@pytest.fixture
def pki_dir(tmp_path: Path) -> str:
    d = str(tmp_path / "pki")
    assert main(["pki", "init", "--dir", d, "--intermediate"]) == 0  # --dir after the action
    return d


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["issue", ""], "1-64 letters"),
        (["issue", "x" * 300], "1-64 letters"),
        (["issue", "a/b"], "1-64 letters"),
        (["issue", "x", "--ttl", "99999999999d"], "at most 100 years"),
        (["issue", "x", "--ttl", "-1h"], "must be positive"),
        (["issue", "x", "--dns", "bad..name"], "not a valid DNS name"),
        (["revoke", "nothing-here"], "no certificate"),
        (["revoke", "x", "--reason", "keyCompromised"], "use one of"),
    ],
)
def test_expected_failures_are_one_line(
    pki_dir: str, args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pki", "--dir", pki_dir, *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_idna_names_go_in_as_a_labels(pki_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pki", "--dir", pki_dir, "issue", "shop", "--dns", "bücher.example"]) == 0
    assert "xn--bcher-kva.example" in capsys.readouterr().out
    cert = x509.load_pem_x509_certificate((Path(pki_dir) / "certs" / "shop.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["xn--bcher-kva.example"]


def test_durations_show_as_given(pki_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pki", "--dir", pki_dir, "issue", "w", "--ttl", "1h30m"]) == 0
    assert "valid 1 h 30 min until" in capsys.readouterr().out


def test_reissue_is_refused_then_replace_keeps_both(
    pki_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pki", "--dir", pki_dir, "issue", "db"]) == 0
    assert main(["pki", "--dir", pki_dir, "issue", "db"]) == 2
    assert "--replace" in capsys.readouterr().err
    assert main(["pki", "--dir", pki_dir, "issue", "db", "--replace"]) == 0
    capsys.readouterr()
    assert main(["pki", "--dir", pki_dir, "revoke", "db", "--reason", "keyCompromise"]) == 0
    out = capsys.readouterr().out
    assert out.count("revoked db (serial") == 2 and "reason key_compromise" in out


def test_help_examples_with_dir_after_the_action_run(tmp_path: Path) -> None:
    # `zerotls pki --help` shows `pki init --dir ./pki --intermediate`: it must work as shown.
    proc = subprocess.run(
        [sys.executable, "-m", "zerotls", "pki", "init", "--dir", "./pki", "--intermediate"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "pki" / "intermediate.pem").exists()
