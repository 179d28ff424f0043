"""The logs people have: Zeek's gzip archive tree, and Suricata EVE JSON (flow + tls)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from tests.monitor.helpers import CONN_FIELDS, T0, conn_line, zeek_header
from zerotls.cli import main
from zerotls.monitor.store import Store


def test_zeek_archive_tree_of_gz_logs_is_read_in_time_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Zeek's log archive: logs/2026-01-01/conn.00:00:00-01:00:00.log.gz, one file an hour.
    archive = tmp_path / "logs" / "2026-01-01"
    archive.mkdir(parents=True)
    for hour in range(3):
        body = zeek_header("conn", CONN_FIELDS) + "".join(
            conn_line(T0 + hour * 3600 + i, f"C{hour}x{i}", "10.0.0.1", "93.184.216.34")
            for i in range(5)
        )
        name = archive / f"conn.{hour:02d}:00:00-{hour + 1:02d}:00:00.log.gz"
        name.write_bytes(gzip.compress(body.encode()))
        os.utime(name, (T0 + hour * 3600, T0 + hour * 3600))
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "ingest", str(tmp_path / "logs"), "--store", store]) == 0
    out = capsys.readouterr().out
    assert out.count("new (zeek-conn), 5 added") == 3, out
    assert out.index("conn.00:00:00") < out.index("conn.01:00:00") < out.index("conn.02:00:00")
    assert main(["monitor", "ingest", str(tmp_path / "logs"), "--store", store]) == 0
    assert "0 new event(s)" in capsys.readouterr().out  # archives read again add nothing
    (archive / "broken.log.gz").write_bytes(b"\x1f\x8b" + b"not really gzip")
    assert main(["monitor", "ingest", str(archive / "broken.log.gz"), "--store", store]) == 2
    assert "not a readable gzip file" in capsys.readouterr().out


def _eve(**fields: object) -> str:
    return json.dumps(fields) + "\n"


def test_suricata_eve_flows_with_tls_server_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stamp = "2026-01-01T00:00:%02d.000000+0000"
    lines = [
        _eve(timestamp=stamp % 1, flow_id=1001, event_type="tls", src_ip="10.0.0.7",
             src_port=50000, dest_ip="93.184.216.34", dest_port=443, proto="TCP",
             tls={"subject": "CN=example.com", "sni": "example.com", "version": "TLS 1.3"}),
        _eve(timestamp=stamp % 2, flow_id=1002, event_type="dns", src_ip="10.0.0.7",
             dest_ip="10.0.0.53", proto="UDP", dns={"type": "query", "rrname": "example.com"}),
        _eve(timestamp=stamp % 3, flow_id=1003, event_type="alert", src_ip="10.0.0.7",
             dest_ip="198.51.100.9", proto="TCP", alert={"signature": "ET POLICY test"}),
        _eve(timestamp=stamp % 9, flow_id=1001, event_type="flow", src_ip="10.0.0.7",
             src_port=50000, dest_ip="93.184.216.34", dest_port=443, proto="TCP",
             app_proto="tls", flow={"pkts_toserver": 12, "pkts_toclient": 14,
             "bytes_toserver": 2345, "bytes_toclient": 67890, "start": stamp % 1,
             "end": stamp % 8, "age": 7, "state": "closed", "reason": "timeout"}),
        _eve(timestamp=stamp % 9, flow_id=1004, event_type="flow", src_ip="10.0.0.7",
             src_port=50001, dest_ip="203.0.113.5", dest_port=22, proto="TCP",
             flow={"pkts_toserver": 1, "pkts_toclient": 0, "bytes_toserver": 74,
             "bytes_toclient": 0, "start": stamp % 4, "end": stamp % 4, "age": 0,
             "state": "new", "reason": "timeout"}),
        _eve(timestamp=stamp % 9, event_type="flow", src_ip="10.0.0.7", dest_ip="1.2.3.4",
             proto="TCP", flow={"start": stamp % 5}),  # no flow_id: a bad line
    ]  # fmt: skip
    eve = tmp_path / "eve.json"
    eve.write_text("".join(lines))
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "ingest", str(eve), "--store", store]) == 0
    out = capsys.readouterr().out
    # two flows and the tls record that names one of them; dns and alert events are not flows
    assert "new (suricata-eve), 3 added" in out and "1 bad line(s)" in out, out
    assert "flow_id is missing" in out
    with Store(store) as s:
        rows = s.con.execute(
            "SELECT source, identity, dst_host, dst_port, bytes_out, bytes_in, duration, "
            "tls_version, outcome FROM events ORDER BY ts"
        ).fetchall()
    assert rows == [
        ("suricata", "10.0.0.7", "example.com", 443, 2345, 67890, 7.0, "TLSv1.3", "ok"),
        ("suricata", "10.0.0.7", "203.0.113.5", 22, 74, 0, 0.0, None, "rejected"),
    ]
