"""The fan-out detector: lateral movement and external spread, with their negative twins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.monitor.helpers import CONN_FIELDS, T0, conn_line, write, zeek_header
from zerotls.cli import main

HOUR = 3600.0
DAYS = 3


def background() -> list[str]:
    """Twenty workstations using a file server (SMB) and the web every hour for three days."""
    lines = []
    for h in range(DAYS * 24):
        for w in range(20):
            ts = T0 + h * HOUR + w * 7
            lines.append(conn_line(ts, f"B{h}x{w}", f"10.1.0.{w + 10}", "10.1.9.1", 445))
            lines.append(conn_line(ts + 1, f"W{h}x{w}", f"10.1.0.{w + 10}", "93.184.216.34"))
    return lines


def detect_json(
    tmp_path: Path, lines: list[str], capsys: pytest.CaptureFixture[str]
) -> list[dict[str, object]]:
    write(tmp_path / "conn.log", zeek_header("conn", CONN_FIELDS) + "".join(sorted(lines)))
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "ingest", str(tmp_path / "conn.log"), "--store", store]) == 0
    capsys.readouterr()
    assert main(["monitor", "detect", "--store", store, "--json", "--only", "fan-out"]) == 0
    return json.loads(capsys.readouterr().out)["alerts"]  # type: ignore[no-any-return]


def test_a_workstation_reaching_twelve_workstations_on_smb_is_lateral_movement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = background()
    attack = T0 + (DAYS * 24 - 3) * HOUR
    for i in range(12):  # 10.1.0.15 sweeps its neighbours on SMB and WinRM within the hour
        lines.append(conn_line(attack + i * 60, f"L{i}", "10.1.0.15", f"10.1.0.{i + 40}", 445))
        lines.append(conn_line(attack + i * 60 + 5, f"R{i}", "10.1.0.15", f"10.1.0.{i + 40}", 5985))
    alerts = detect_json(tmp_path, lines, capsys)
    assert {a["identity"] for a in alerts} == {"10.1.0.15"}
    ports = {a["evidence"]["port"] for a in alerts}  # type: ignore[index]
    assert ports == {445, 5985}
    smb = next(a for a in alerts if a["evidence"]["port"] == 445)  # type: ignore[index]
    assert smb["evidence"]["new_hosts"] == 12 and "lateral movement" in str(smb["why"])  # type: ignore[index]


def test_ssh_to_seven_new_external_hosts_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = background()
    attack = T0 + (DAYS * 24 - 2) * HOUR
    for i in range(7):
        lines.append(conn_line(attack + i * 300, f"S{i}", "10.1.0.22", f"198.51.100.{i + 1}", 22))
    alerts = detect_json(tmp_path, lines, capsys)
    assert [(a["identity"], a["evidence"]["port"]) for a in alerts] == [("10.1.0.22", 22)]  # type: ignore[index]


def test_known_servers_and_new_web_sites_are_not_fan_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = background()
    last = T0 + (DAYS * 24 - 3) * HOUR
    for i in range(30):  # browsing: thirty new web sites in an hour (port 443 is left out)
        lines.append(conn_line(last + i * 60, f"N{i}", "10.1.0.11", f"203.0.113.{i + 1}"))
    for w in range(12):  # everybody reaching the file server they always reach
        lines.append(conn_line(last + w, f"K{w}", "10.1.0.12", "10.1.9.1", 445))
    for i in range(4):  # four new SMB hosts: under the five it takes
        lines.append(conn_line(last + i * 60, f"F{i}", "10.1.0.13", f"10.1.0.{i + 60}", 445))
    assert detect_json(tmp_path, lines, capsys) == []
