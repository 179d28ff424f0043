"""Hostile input to the monitor: one event from the future must not blind detection, and
non-finite numbers must neither be stored nor break a query (they used to be formatted into
the SQL text: ``Referenced column "nan" not found``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.monitor.helpers import CONN_FIELDS, T0, conn_line, write, zeek_header
from zerotls.cli import main

HOUR = 3600.0


def history(days: int = 5) -> str:
    """A quiet host polling one service every hour, then a 3 GB upload to a new address."""
    lines = [
        conn_line(T0 + h * HOUR + 60, f"Cq{h}", "10.0.0.5", "93.184.216.34")
        for h in range(days * 24)
    ]
    last = T0 + days * 24 * HOUR - 2 * HOUR
    lines.append(conn_line(last, "Cexfil", "10.0.0.5", "198.51.100.77", orig="3000000000"))
    return zeek_header("conn", CONN_FIELDS) + "".join(lines)


def detect(store: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["monitor", "detect", "--store", store, "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_one_line_dated_2100_is_quarantined_and_does_not_move_the_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "m.duckdb")
    write(tmp_path / "conn.log", history())
    assert main(["monitor", "ingest", str(tmp_path / "conn.log"), "--store", store]) == 0
    honest = detect(store, capsys)
    assert honest["alerts"], "the scenario must raise alerts, or the test proves nothing"
    future = zeek_header("conn", CONN_FIELDS) + conn_line(
        4_102_444_800.0, "Cz", "10.0.0.9", "1.1.1.1"
    )
    ancient = conn_line(12.0, "Cold", "10.0.0.9", "1.1.1.1")
    write(tmp_path / "clock.log", future + ancient)
    capsys.readouterr()
    assert main(["monitor", "ingest", str(tmp_path / "clock.log"), "--store", store]) == 0
    said = capsys.readouterr().out
    assert "2 bad line(s)" in said and "in the future" in said and "before 1990" in said
    after = detect(store, capsys)
    assert after["window"] == honest["window"]
    assert [a["key"] for a in after["alerts"]] == [a["key"] for a in honest["alerts"]]  # type: ignore[index, union-attr]
    assert main(["monitor", "detect", "--store", store, "--fail-on", "low"]) == 1


def test_nan_and_infinite_numbers_are_rejected_at_ingest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "m.duckdb")
    csv = "ts,src_ip,dst_ip,dst_port,proto,bytes_out,bytes_in,duration\n" + "".join(
        f"{ts},10.0.0.7,93.1.1.1,443,tcp,100,200,{dur}\n"
        for ts, dur in (
            ("nan", "1"),
            ("inf", "1"),
            ("-inf", "1"),
            ("1e400", "1"),
            (f"{T0 + 10}", "nan"),
            (f"{T0 + 20}", "1e400"),
            (f"{T0 + 30}", "1.5"),  # the one good line
        )
    )
    write(tmp_path / "flows.csv", csv)
    zeek_json = "".join(
        json.dumps({"ts": ts, "uid": f"J{i}", "id.orig_h": "10.0.0.8", "id.orig_p": 5,
                    "id.resp_h": "93.1.1.2", "id.resp_p": 443, "proto": "tcp",
                    "conn_state": "SF"}) + "\n"
        for i, ts in enumerate([T0 + 40, "NaN", "Infinity", 1e308 * 10])
    )  # fmt: skip
    write(tmp_path / "conn.json", zeek_json)
    for path in ("flows.csv", "conn.json"):
        assert main(["monitor", "ingest", str(tmp_path / path), "--store", store]) == 0
    said = capsys.readouterr().out
    assert "flows.csv: new (csv), 1 added" in said and "6 bad line(s)" in said, said
    assert "conn.json: new (zeek-conn), 1 added" in said and "3 bad line(s)" in said, said
    result = detect(store, capsys)  # no BinderException: every value is bound, never text
    assert result["events"] == 2
    assert main(["monitor", "report", "--store", store, "--html", str(tmp_path / "r.html")]) == 0


def test_an_oversized_json_line_is_said_to_be_too_long(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.dumps({"ts": T0, "uid": "J1", "id.orig_h": "10.0.0.8", "id.orig_p": 5,
                       "id.resp_h": "93.1.1.2", "id.resp_p": 443, "proto": "tcp",
                       "conn_state": "SF"})  # fmt: skip
    huge = '{"ts": 1, "uid": "' + "x" * (2 * 1024 * 1024) + '"}'
    write(tmp_path / "conn.json", good + "\n" + huge + "\n")
    assert main(["monitor", "ingest", str(tmp_path / "conn.json"), "--store",
                 str(tmp_path / "m.duckdb")]) == 0  # fmt: skip
    said = capsys.readouterr().out
    assert "1 added" in said and "over the limit of 1 MiB" in said, said
    write(tmp_path / "first.json", huge + "\n")
    assert main(["monitor", "ingest", str(tmp_path / "first.json"), "--store",
                 str(tmp_path / "m.duckdb")]) == 2  # fmt: skip
    assert "longer than 64 KiB" in capsys.readouterr().out


def test_cold_start_with_a_day_of_history_says_what_it_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "m.duckdb")
    write(tmp_path / "conn.log", history(days=2))  # 24 h of history, then the window
    assert main(["monitor", "ingest", str(tmp_path / "conn.log"), "--store", store]) == 0
    result = detect(store, capsys)
    cov = result["coverage"]
    assert isinstance(cov, dict) and 20 <= cov["baseline_hours"] <= 24
    assert cov["asked_hours"] == 14 * 24
    assert any(t.startswith("volume-spike") for t in cov["limits"])
    assert result["alerts"], "a day of history is enough to judge the window against"
    capsys.readouterr()
    main(["monitor", "detect", "--store", store])
    assert "of the 336 h asked" in capsys.readouterr().out
    # The negative twin: with two weeks of history there is nothing to excuse.
    write(tmp_path / "long.log", history(days=16))
    long_store = str(tmp_path / "long.duckdb")
    assert main(["monitor", "ingest", str(tmp_path / "long.log"), "--store", long_store]) == 0
    assert detect(long_store, capsys)["coverage"]["limits"] == []  # type: ignore[index]


def test_microsecond_and_corrupt_inputs_do_not_abort_the_ingest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gzip

    store = str(tmp_path / "m.duckdb")
    micro = zeek_header("conn", CONN_FIELDS) + conn_line(1.7e15, "Cmicro", "10.0.0.9", "1.1.1.1")
    write(tmp_path / "micro.log", micro + conn_line(T0, "Cok", "10.0.0.9", "1.1.1.1"))
    assert main(["monitor", "ingest", str(tmp_path / "micro.log"), "--store", store]) == 0
    assert "1 added" in capsys.readouterr().out and True
    good = gzip.compress(micro.encode())
    (tmp_path / "bad.log.gz").write_bytes(good[:20] + b"\x00" * 40 + good[60:])  # broken deflate
    assert main(["monitor", "ingest", str(tmp_path / "bad.log.gz"), "--store", store]) == 2
    assert "not a readable gzip file" in capsys.readouterr().out
