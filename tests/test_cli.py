"""The ``zerotls`` command, in-process through ``main(argv)`` and once as real processes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import PKI, SERVER_ID
from zerotls.cli import main
from zerotls.tls import TLSSocket, serve


def test_pki_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "pki")
    assert main(["pki", "--dir", d, "init", "--intermediate"]) == 0
    assert "trust anchor" in capsys.readouterr().out
    assert (
        main(
            [
                "pki",
                "--dir",
                d,
                "issue",
                "db",
                "--spiffe-id",
                "spiffe://prod.example/svc/db",
                "--dns",
                "db.internal",
                "--server",
                "--ttl",
                "2h",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "SPIFFE ID: spiffe://prod.example/svc/db" in out and "pin:  sha256/" in out
    assert main(["pki", "--dir", d, "list"]) == 0
    out = capsys.readouterr().out
    assert "db" in out and "valid 2 h" in out
    cert = str(tmp_path / "pki" / "certs" / "db.pem")
    assert main(["pki", "--dir", d, "pin", cert]) == 0
    pin = capsys.readouterr().out.strip()
    assert pin.startswith("sha256/") and len(pin) == len("sha256/") + 44
    assert main(["pki", "--dir", d, "inspect", cert]) == 0
    assert "spiffe://prod.example/svc/db" in capsys.readouterr().out
    assert main(["pki", "--dir", d, "revoke", "db", "--reason", "superseded"]) == 0
    assert "revoked db" in capsys.readouterr().out
    assert main(["pki", "--dir", d, "list", "--json"]) == 0
    assert '"reason": "superseded"' in capsys.readouterr().out
    assert main(["pki", "--dir", d, "crl"]) == 0
    assert "BEGIN X509 CRL" in capsys.readouterr().out


def test_expected_failures_are_one_line_with_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pki", "--dir", str(tmp_path / "none"), "issue", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zerotls: no PKI in") and "Traceback" not in err
    d = str(tmp_path / "pki")
    main(["pki", "--dir", d, "init"])
    capsys.readouterr()
    assert main(["pki", "--dir", d, "issue", "x", "--ttl", "soon"]) == 2
    assert "not a duration" in capsys.readouterr().err
    assert main(["pki", "--dir", d, "issue", "x", "--spiffe-id", "spiffe://UPPER/x"]) == 2
    assert main(["pki", "--dir", d, "revoke", "x", "--reason", "bored"]) == 2


def test_connect_shows_identity_and_refuses_wrong_pin(
    pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    def handler(tls: TLSSocket) -> None:
        tls.sendall(tls.recv())

    server = serve(handler, "127.0.0.1", 0, pki.server_config())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    with server:
        base = [
            f"127.0.0.1:{server.port}",
            "--name",
            "localhost",
            "--ca",
            str(pki.ca_path),
            "--cert",
            str(pki.client.cert),
            "--key",
            str(pki.client.key),
        ]
        assert main(["connect", *base, "--send", "hi"]) == 0
        out = capsys.readouterr().out
        assert f"identity: {SERVER_ID}" in out and "TLSv1.3" in out and out.endswith("hi")
        assert main(["connect", *base, "--pin", pki.client.issued.pin]) == 1
        assert "not pinned" in capsys.readouterr().err
        # Without a client certificate: TLS 1.3 completes our side first, then the server's
        # alert arrives; connect waits for that verdict instead of reporting success.
        anonymous = base[:5]
        assert main(["connect", *anonymous]) == 3
        assert "certificate_required" in capsys.readouterr().err
    thread.join(5)


def test_help_teaches() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zerotls", "pki", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    assert "examples:" in result.stdout and "zerotls pki issue" in result.stdout


def test_demo_runs_for_real(tmp_path: Path) -> None:
    import re

    result = subprocess.run(
        [sys.executable, "-m", "zerotls", "demo", "--no-color", "--reports", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "✔ connected: TLSv1.3" in out
    assert "refused: TLSAlert" in out and "certificate_required" in out
    assert "unknown_ca" in out and "certificate_revoked" in out
    assert "refused: PinMismatch" in out and "identity mismatch" in out
    assert "refused: ConfigError" in out
    assert "revocation: ocsp good (stapled" in out  # the must-staple server, then revoked:
    assert "is revoked (reason key_compromise" in out and "stapled OCSP response" in out
    assert "legacy service says: hello from web" in out  # through the tunnel
    assert '"decision": "deny"' in out and "batch/report" in out  # and its audit event
    assert "refused: ReplayDetected" in out and "refused: BadSignature" in out
    assert "associated: DTLSv1.2" in out and "ack temperature=21.5 from spiffe://" in out
    # The second half: the weak server graded below the tunnel, with the caps and fixes.
    grades = dict(re.findall(r"✔ (legacy server|zerotls tunnel)\s+grade (\S+)", out))
    order = ("A+", "A", "A-", "B", "C", "D", "E", "F", "T", "M")
    assert order.index(grades["legacy server"]) > order.index(grades["zerotls tunnel"]), grades
    assert "capped at B: TLS 1.0 is enabled" in out and "fix: disable TLS 1.0/1.1" in out
    for rule in ("TLS004", "TLS001", "MAC002"):  # verify=False, PROTOCOL_TLSv1, an MD5 MAC
        assert rule in out
    assert "bundled OpenSSL" in out and "post-quantum hybrid" in out  # the doctor
    # The monitor: at least one alert on each injected behaviour.
    assert re.search(r"\] beacon: 10\.0\.0\.13 -> cdn-update\.c2\.example", out)
    assert re.search(r"\] probing: 10\.0\.0\.15", out)
    assert re.search(r"\] [a-z-]+: 10\.0\.0\.14", out) and "120.0 MB" in out
    audit_page = (tmp_path / "audit.html").read_text()
    assert audit_page.lower().startswith("<!doctype html>") and "localhost" in audit_page
    monitor_page = (tmp_path / "monitor.html").read_text()
    assert monitor_page.startswith("<!DOCTYPE html>") and "<svg" in monitor_page
    assert result.stderr == ""


@pytest.mark.parametrize("hours_ago", [0.2, 5.5, 11.9, 17.3, 23.7])
def test_the_demo_scenario_does_not_depend_on_the_hour(tmp_path: Path, hours_ago: float) -> None:
    """The demo judges a history generated up to *now*; whatever the wall clock says, its
    top five alerts name the beacon, the upload (with its size) and the probing."""
    import datetime as dt
    import json

    pytest.importorskip("duckdb")
    from zerotls.cli.demo_more import history
    from zerotls.monitor.engine import default_window, detect
    from zerotls.monitor.store import Store

    now = dt.datetime.now(dt.UTC).timestamp() - hours_ago * 3600
    log = tmp_path / "audit.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in history(now)), encoding="utf-8")
    with Store(tmp_path / "m.duckdb") as store:
        store.ingest([log])
        top = detect(store, default_window(store, since_seconds=12 * 3600)).alerts[:5]
    said = [f"{a.detector}: {a.identity} -> {a.destination}: {a.why}" for a in top]
    assert any(s.startswith("beacon: 10.0.0.13 -> cdn-update.c2.example") for s in said), said
    assert any(s.startswith("probing: 10.0.0.15") for s in said), said
    assert any(": 10.0.0.14 " in s and "120.0 MB" in s for s in said), said
