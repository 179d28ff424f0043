"""Periodic by design (NTP, DNS ...) is told from a beacon by protocol, port and size; the
alert says why a periodic flow on such a port was not discounted."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.monitor.helpers import CONN_FIELDS, T0, conn_line, write, zeek_header
from zerotls.cli import main

DAY = 86400.0


def test_ntp_is_discounted_a_fat_flow_on_the_ntp_port_and_a_jittered_beacon_are_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(0)
    lines = [conn_line(T0 + i * 900, f"H{i}", "10.0.0.9", "93.184.216.34") for i in range(96 * 2)]
    start = T0 + DAY
    for i in range(80):  # real NTP: 48 bytes every 1,024 s, to a server only two hosts use
        lines.append(conn_line(start + i * 1024, f"N{i}", "10.0.0.5", "198.51.100.20", 123,
                               orig="48", resp="48", proto="udp", state="SF"))  # fmt: skip
    for i in range(120):  # "NTP" that sends 4 KB every 10 minutes: not what NTP does
        lines.append(conn_line(start + i * 600, f"F{i}", "10.0.0.6", "198.51.100.21", 123,
                               orig="4000", resp="48", proto="udp", state="SF"))  # fmt: skip
    t = start
    for i in range(250):  # a C2 beacon: every 5 minutes, 15 % jitter, to a new host
        t += 300 * rng.uniform(0.85, 1.15)
        lines.append(conn_line(t, f"C{i}", "10.0.0.7", "203.0.113.50", 443, orig="2000"))
    write(tmp_path / "conn.log", zeek_header("conn", CONN_FIELDS) + "".join(sorted(lines)))
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "ingest", str(tmp_path / "conn.log"), "--store", store]) == 0
    capsys.readouterr()
    assert main(["monitor", "detect", "--store", store, "--json", "--only", "beacon"]) == 0
    alerts = json.loads(capsys.readouterr().out)["alerts"]
    found = {a["identity"]: a for a in alerts}
    assert "10.0.0.5" not in found  # NTP as NTP looks
    assert "10.0.0.7" in found  # the jittered C2 beacon
    assert "10.0.0.6" in found and "not discounted as NTP" in found["10.0.0.6"]["why"]


def test_a_poller_checking_many_hosts_on_one_schedule_is_not_a_beacon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(1)
    lines = [conn_line(T0 + i * 1800, f"H{i}", "10.0.0.9", "93.184.216.34") for i in range(96)]
    start = T0 + DAY
    for w in range(20):  # a monitoring server checks 20 agents every 15 minutes
        for i in range(90):
            lines.append(conn_line(start + i * 900 + w * 3 + rng.uniform(0, 2), f"M{w}x{i}",
                                   "10.0.10.50", f"10.0.1.{w + 10}", 9100, orig="300"))  # fmt: skip
    t = start
    for i in range(250):  # one host's C2 channel on a similar schedule
        t += 900 * rng.uniform(0.85, 1.15)
        lines.append(conn_line(t, f"C{i}", "10.0.0.7", "203.0.113.50", 443, orig="2000"))
    write(tmp_path / "conn.log", zeek_header("conn", CONN_FIELDS) + "".join(sorted(lines)))
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "ingest", str(tmp_path / "conn.log"), "--store", store]) == 0
    capsys.readouterr()
    assert main(["monitor", "detect", "--store", store, "--json", "--only", "beacon"]) == 0
    found = {a["identity"] for a in json.loads(capsys.readouterr().out)["alerts"]}
    assert "10.0.10.50" not in found and "10.0.0.7" in found
