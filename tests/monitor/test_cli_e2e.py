"""The command: a real tunnel's audit log through ingest, detect, report and export, in
process through ``main`` and once as real processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CLIENT_ID, DOMAIN, PKI
from tests.monitor.helpers import CONN_FIELDS, T0, conn_line, write, zeek_header
from tests.tunnel.helpers import OPEN_SERVERS, server_tunnel_config, start_backend
from zerotls import TLSAlert, open_connection
from zerotls.cli import main
from zerotls.tunnel import AuditLog, Tunnel

INTRUDER = f"spiffe://{DOMAIN}/svc/intruder"


async def _traffic(pki: PKI, log: Path) -> None:
    backend = await start_backend()
    audit = AuditLog(log)
    tunnel = Tunnel(server_tunnel_config(pki, backend.port), audit=audit)
    await tunnel.start()
    port = next(iter(tunnel.addresses().values()))[1]
    intruder = pki.write("intruder", spiffe_id=INTRUDER, usage="client")
    try:
        for _ in range(3):  # the allowed client does its work
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"select 1;")
            assert await stream.readexactly(9) == b"select 1;"
            await stream.aclose()
        for _ in range(12):  # the intruder knocks, and is refused every time
            stream = await open_connection(
                "127.0.0.1", port, pki.client_config(cert=intruder.cert, key=intruder.key)
            )
            with pytest.raises(TLSAlert):
                await stream.send(b"x")
                await stream.read()
            await stream.aclose()
        for _ in range(50):  # every connection leaves its line when it is over
            if log.exists() and log.read_text().count("\n") >= 15:
                break
            await asyncio.sleep(0.05)
    finally:
        tunnel.close()
        audit.close()
        while OPEN_SERVERS:
            server = OPEN_SERVERS.pop()
            server.close()
            await server.wait_closed()
        await asyncio.sleep(0.1)


def test_real_tunnel_audit_log_to_alerts(
    pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    asyncio.run(_traffic(pki, log))
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "ingest", str(log), "--store", store]) == 0
    out = capsys.readouterr().out
    assert "new (zerotls), 15 added" in out
    assert main(["monitor", "ingest", str(log), "--store", store, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["added"] == 0 and again["files"][0]["status"] == "unchanged"

    from zerotls.monitor.store import Store

    with Store(store) as s:
        got = s.con.execute(
            "SELECT identity, decision, outcome, dst_host, count(*) FROM events GROUP BY ALL ORDER BY 1"
        ).fetchall()
    # the destination is what the client asked for by name (SNI), else the route
    assert sorted(got) == [
        (INTRUDER, "deny", "denied", "localhost", 12),
        (CLIENT_ID, "allow", "ok", "localhost", 3),
    ]

    assert main(["monitor", "detect", "--store", store, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    probing = [a for a in result["alerts"] if a["detector"] == "probing"]
    assert [a["identity"] for a in probing] == [INTRUDER]
    assert probing[0]["evidence"]["denied"] == 12
    assert INTRUDER in probing[0]["evidence"]["top_reasons"][0]["reason"]
    assert main(["monitor", "detect", "--store", store, "--fail-on", "low"]) == 1
    text = capsys.readouterr().out
    assert "probing" in text and "why:" in text

    html = tmp_path / "report.html"
    assert main(["monitor", "report", "--store", store, "--html", str(html)]) == 0
    assert "<svg" in html.read_text() and INTRUDER in html.read_text()


def test_cli_errors_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "detect", "--store", store]) == 2
    assert "no monitor store" in capsys.readouterr().err
    conn = write(
        tmp_path / "conn.log",
        zeek_header("conn", CONN_FIELDS)
        + conn_line(T0, "C1", "10.0.0.1", "93.1.1.1")
        + "bad\tline\n",
    )
    other = write(tmp_path / "weird.txt", "what is this\n")
    assert main(["monitor", "ingest", str(conn), str(other), "--store", store]) == 2
    captured = capsys.readouterr()
    assert "1 bad line(s): line 10:" in captured.out and "weird.txt: skipped" in captured.out
    assert "1 of 2 file(s) could not be read" in captured.err
    assert main(["monitor", "rejects", "--store", store]) == 0
    assert f"{conn}:10:" in capsys.readouterr().out
    assert main(["monitor", "detect", "--store", store, "--since", "yesterday"]) == 2
    assert "neither a duration" in capsys.readouterr().err
    assert main(["monitor", "detect", "--store", store, "--only", "beacons"]) == 2
    assert "unknown detector" in capsys.readouterr().err
    assert (
        main(
            [
                "monitor",
                "detect",
                "--store",
                store,
                "--since",
                "2026-01-01T00:00Z",
                "--until",
                "2026-01-02T00:00Z",
            ]
        )
        == 0
    )
    assert main(["monitor", "export", str(tmp_path / "pq"), "--store", store]) == 0
    assert "wrote 1 event(s)" in capsys.readouterr().out
    assert list((tmp_path / "pq").glob("day=2026-01-01/*.parquet"))


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["monitor", "--help"],
        ["monitor", "ingest", "--help"],
        ["monitor", "follow", "--help"],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
        assert "examples:" in capsys.readouterr().out


def test_as_real_processes(tmp_path: Path) -> None:
    conn = write(
        tmp_path / "conn.log",
        zeek_header("conn", CONN_FIELDS) + conn_line(T0, "C1", "10.0.0.1", "93.1.1.1"),
    )
    store = str(tmp_path / "m.duckdb")
    cmd = [sys.executable, "-m", "zerotls", "monitor"]
    done = subprocess.run(
        [*cmd, "ingest", str(conn), "--store", store],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 new event(s)" in done.stdout
    # A second writer while the store is open elsewhere gets one clear line, not a traceback.
    from zerotls.monitor.store import Store

    with Store(store):
        busy = subprocess.run(
            [*cmd, "ingest", str(conn), "--store", store],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert busy.returncode == 2 and "Traceback" not in busy.stderr
    assert busy.stderr.startswith("zerotls: cannot open the monitor store")
    follow = subprocess.run(
        [*cmd, "follow", str(tmp_path / "audit.jsonl"), "--store", store, "--max-seconds", "0.3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert follow.returncode == 0 and "followed" in follow.stderr


def test_the_command_line_does_not_load_the_monitor_libraries() -> None:
    code = (
        "import sys, zerotls.cli as c; c.build_parser(); "
        "print([m for m in ('duckdb', 'pyarrow', 'numpy', 'sklearn') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("value", ["2", "-0.1", "nan", "high"])
def test_an_alert_floor_outside_0_to_1_is_refused_with_the_range(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["monitor", "detect", "--alert-floor", value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--alert-floor" in err and ("0..1" in err or "0 to 1" in err), err
