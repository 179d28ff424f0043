"""What others choose (certificate fields, SNI names, log values, a server's reply) never
reaches the terminal raw: control and bidi characters come out escaped, from every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import PKI
from tests.peers.openssl import s_client
from zerotls.cli import main
from zerotls.pki import CA

EVIL = "evil\x1b]0;pwned\x07\x1b[2J\u202egpj.exe\x9b"


def test_pki_inspect_escapes_certificate_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = CA.create("test CA")
    # The CN is attacker-chosen text; the CA API takes it as the certificate's name.
    issued = ca.issue(EVIL.replace("\x07", "").replace("\x9b", "")[:60], dns=["x.example"])
    issued.write(tmp_path / "c.pem", tmp_path / "c.key")
    assert main(["pki", "inspect", str(tmp_path / "c.pem")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned" in out and "\\u202e" in out


def test_monitor_detect_text_escapes_log_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = []
    for i in range(30):  # a denied identity knocking: the probing detector reports it
        lines.append(json.dumps({
            "time": f"2026-01-01T00:{i:02d}:00Z", "conn_id": f"c{i}", "mode": "server",
            "listener": "front", "route": "db", "target": "127.0.0.1:5432",
            "source": "10.0.0.9:5000", "sni": EVIL, "spiffe_id": f"spiffe://x/{EVIL}",
            "identity": f"spiffe://x/{EVIL}", "tls_version": "TLSv1.3",
            "cipher": "TLS_AES_128_GCM_SHA256", "decision": "deny", "reason": "denied",
            "bytes_in": 0, "bytes_out": 0, "duration_ms": 5, "close_reason": "denied",
            "error": None, "alert": "access_denied",
        }))  # fmt: skip
    log.write_text("\n".join(lines) + "\n")
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "ingest", str(log), "--store", store]) == 0
    capsys.readouterr()
    main(["monitor", "detect", "--store", store, "--since", "30d"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x9b" not in out
    assert "evil\\x1b]0;pwned" in out, out


@pytest.mark.peers
def test_the_tunnel_refuses_an_sni_with_control_characters(pki: PKI) -> None:
    import asyncio

    from tests.tunnel.helpers import running, server_tunnel_config, start_backend

    async def main_() -> list[dict[str, object]]:
        backend = await start_backend()
        async with running(server_tunnel_config(pki, backend.port)) as (_, port, events):
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(None, lambda: s_client(
                port, ca=pki.ca_path, cert=pki.client.cert, key=pki.client.key,
                servername="db\x1b[2J.internal",
            ).stdout)  # fmt: skip
            assert "alert" in out
            return await events.wait(1)

    [event] = asyncio.run(main_())
    assert event["decision"] == "deny"
    assert "is not a DNS host name" in str(event["reason"])
    assert "\x1b" not in str(event["sni"])
