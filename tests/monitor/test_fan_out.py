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
    [alert] = alerts  # one alert for the one spread, every port in it
    assert alert["identity"] == "10.1.0.15"
    assert alert["evidence"]["ports"] == [445, 5985]  # type: ignore[index]
    assert alert["evidence"]["new_hosts"] == 12 and "lateral movement" in str(alert["why"])  # type: ignore[index]


def test_ssh_to_seven_new_external_hosts_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = background()
    attack = T0 + (DAYS * 24 - 2) * HOUR
    for i in range(7):
        lines.append(conn_line(attack + i * 300, f"S{i}", "10.1.0.22", f"198.51.100.{i + 1}", 22))
    alerts = detect_json(tmp_path, lines, capsys)
    assert [(a["identity"], a["evidence"]["ports"]) for a in alerts] == [("10.1.0.22", [22])]  # type: ignore[index]


def test_a_mostly_unanswered_sweep_is_left_to_the_probing_detector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = background()
    attack = T0 + (DAYS * 24 - 2) * HOUR
    for i in range(40):  # a scan: SYNs to forty hosts, none answers (Zeek S0)
        lines.append(
            conn_line(attack + i, f"Z{i}", "10.1.0.30", f"10.1.5.{i + 1}", 445, state="S0",
                      orig="0", resp="0")
        )  # fmt: skip
    assert detect_json(tmp_path, lines, capsys) == []


def test_a_monitoring_poller_does_not_hide_smb_to_the_hosts_it_polls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = background()
    for h in range(DAYS * 24):  # a monitoring server checks every workstation's agent hourly
        for w in range(40, 60):
            lines.append(conn_line(T0 + h * HOUR + w, f"M{h}x{w}", "10.1.9.9", f"10.1.0.{w}", 9100))
    attack = T0 + (DAYS * 24 - 3) * HOUR
    for i in range(8):
        lines.append(conn_line(attack + i * 60, f"L{i}", "10.1.0.15", f"10.1.0.{i + 40}", 445))
    alerts = detect_json(tmp_path, lines, capsys)
    assert [a["identity"] for a in alerts] == ["10.1.0.15"]


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


def test_without_half_a_day_of_history_fan_out_does_not_judge_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A capture of a few hours (as public sample logs are): every host is one "nobody
    # reached before", so the detector stays out and the coverage says why.
    lines = [conn_line(T0 + i * 60, f"P{i}", "10.1.0.15", f"198.51.100.{i % 200}", 16464)
             for i in range(300)]  # fmt: skip
    write(tmp_path / "conn.log", zeek_header("conn", CONN_FIELDS) + "".join(lines))
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "ingest", str(tmp_path / "conn.log"), "--store", store]) == 0
    capsys.readouterr()
    assert main(["monitor", "detect", "--store", store, "--json", "--only", "fan-out"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["alerts"] == []
    assert any("fan-out: not judged" in t for t in result["coverage"]["limits"])
