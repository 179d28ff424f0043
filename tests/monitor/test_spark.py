"""The Spark engine gives the DuckDB engine's alerts on the same events (a real local[2]
Spark, over the Parquet export; the feature SQL rendered for Spark from the one definition)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.monitor.helpers import daily_background, store_with
from tests.monitor.test_engine_report import scenario
from zerotls.monitor.engine import default_window, detect

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None, reason="no Java runtime (make test installs default-jre-headless)"
)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'zerotls[spark]')")
    from zerotls.monitor.spark import spark_session

    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


def _summary(result: Any) -> list[tuple[str, str, float, float]]:
    return [(a.key, a.level, round(a.rank, 6), round(a.score, 6)) for a in result.alerts]


def test_spark_alerts_equal_duckdb_alerts(spark: Any, tmp_path: Path) -> None:
    from zerotls.monitor.spark import SparkEvents

    with store_with(scenario()) as store:
        store.export_parquet(tmp_path / "pq")
        window = default_window(store)
        duck = detect(store, window)
    events = SparkEvents(tmp_path / "pq", spark)
    assert events.time_range() is not None
    on_spark = detect(events, default_window(events))
    assert duck.alerts, "the scenario must raise alerts, or the comparison proves nothing"
    assert _summary(on_spark) == _summary(duck)
    assert on_spark.coverage == duck.coverage and on_spark.events == duck.events


def test_outlier_forests_fitted_on_the_executors_equal_the_driver_s(
    spark: Any, tmp_path: Path
) -> None:
    """Each peer group's IsolationForest fitted in its own task (applyInArrow) scores every
    window hour as the driver does, so the ranks and alerts are the DuckDB engine's."""
    import pyarrow as pa

    from zerotls.monitor.detectors.outlier import group_scores
    from zerotls.monitor.features import Settings
    from zerotls.monitor.spark import SparkEvents

    # Two peer groups (two /24s), so the groups are scored in separate tasks.
    second = daily_background([f"10.0.1.{i}" for i in range(2, 8)], ["files.internal"])
    with store_with(scenario() + second) as store:
        store.export_parquet(tmp_path / "pq")
        window = default_window(store)
        duck = detect(store, window)
        on_driver = group_scores(store.features(window, Settings())["hourly"], window, Settings())
    events = SparkEvents(tmp_path / "pq", spark, distribute_from=0)
    feats = events.features(window, Settings())
    distributed = feats["outlier_scores"]
    assert on_driver.num_rows > 0 and len(set(on_driver.column("group").to_pylist())) >= 2

    def ordered(table: pa.Table) -> list[dict[str, Any]]:
        # Spark sums in another order than DuckDB: the features agree to rounding.
        def near(v: Any) -> Any:
            if isinstance(v, float):
                return round(v, 9)
            return [round(x, 9) for x in v] if isinstance(v, list) else v

        rows = [{k: near(v) for k, v in r.items()} for r in table.to_pylist()]
        return sorted(rows, key=lambda r: (r["group"], r["identity"], r["hour"]))

    assert ordered(distributed) == ordered(on_driver)
    assert _summary(detect(events, window)) == _summary(duck)
    # Below the threshold the driver scores them (a Spark job would cost more than it saves).
    assert "outlier_scores" not in SparkEvents(tmp_path / "pq", spark).features(window, Settings())


def test_a_path_spark_cannot_read_is_one_clear_error(spark: Any, tmp_path: Path) -> None:
    from zerotls.errors import ConfigError
    from zerotls.monitor.spark import SparkEvents

    with pytest.raises(ConfigError, match="Spark cannot read events from"):
        SparkEvents(tmp_path / "nothing-here", spark)


def test_the_command_detects_on_spark(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from zerotls.cli import main

    with store_with(scenario()) as store:
        store.export_parquet(tmp_path / "pq")
        duck = detect(store, default_window(store))
    assert main(["monitor", "detect", "--engine", "spark", "--events", str(tmp_path / "pq"),
                 "--spark-master", "local[2]", "--json"]) == 0  # fmt: skip
    keys = [a["key"] for a in json.loads(capsys.readouterr().out)["alerts"]]
    assert keys == [a.key for a in duck.alerts]
    assert main(["monitor", "detect", "--engine", "spark"]) == 2
    assert "give --events DIR" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Ingest on Spark: Zeek logs straight into the Parquet layout


def _zeek_logs(directory: Path) -> list[Path]:
    """conn.log with three bad lines, its ssl.log, a gzip archive and a Zeek JSON conn.log."""
    import gzip
    import json

    from tests.monitor.helpers import (
        CONN_FIELDS,
        SSL_FIELDS,
        T0,
        conn_line,
        ssl_line,
        write,
        zeek_header,
    )

    directory.mkdir()
    good = [conn_line(T0 + i, f"C{i}", "10.0.0.1", "93.1.1.1") for i in range(5)]
    lines = [*good[:2], conn_line(T0, "Cbad", "10.0.0.1", "93.1.1.1", orig="lots"), *good[2:3]]
    lines += ["garbage\tline\n", *good[3:]]
    lines.append(conn_line(T0, "Cx", "10.0.0.1", "93.1.1.1").rstrip("\n") + "\textra\n")
    conn = write(directory / "conn.log", zeek_header("conn", CONN_FIELDS) + "".join(lines))
    ssl = write(
        directory / "ssl.log",
        zeek_header("ssl", SSL_FIELDS) + ssl_line(T0, "C0", "api.example", version="TLSv10"),
    )
    archive = directory / "conn.00:00:00-01:00:00.log.gz"
    with gzip.open(archive, "wt") as f:
        f.write(zeek_header("conn", CONN_FIELDS))
        for i in range(3):
            f.write(conn_line(T0 + 86400 + i, f"D{i}", "10.0.0.2", "93.1.1.9", 22, state="REJ"))
    record = {"uid": "Ciso", "id.orig_h": "10.0.0.3", "id.orig_p": 5, "id.resp_h": "93.1.1.3",
              "id.resp_p": 443, "proto": "tcp", "duration": 1.5, "orig_bytes": 100,
              "resp_bytes": 2000, "conn_state": "SF", "ts": "2026-01-01T00:00:05.250000Z"}  # fmt: skip
    js = write(directory / "conn.json", json.dumps(record) + "\n")
    return [conn, ssl, archive, js]


def _events(directory: Path) -> list[tuple[Any, ...]]:
    import duckdb

    files = sorted(str(p) for p in directory.glob("day=*/*.parquet"))
    return duckdb.execute(
        "SELECT * FROM read_parquet(?, hive_partitioning = false) ORDER BY uid", [files]
    ).fetchall()


def test_spark_ingest_reads_what_the_duckdb_ingest_reads(spark: Any, tmp_path: Path) -> None:
    from zerotls.monitor.spark_ingest import spark_ingest
    from zerotls.monitor.store import Store

    logs = _zeek_logs(tmp_path / "logs")
    report = spark_ingest([tmp_path / "logs"], tmp_path / "events", spark)
    with Store() as store:
        duck = store.ingest(logs)
        store.export_parquet(tmp_path / "duck")
        assert store.count() == 9
    assert report.added == 9
    assert _events(tmp_path / "events") == _events(tmp_path / "duck")
    # The bad lines, with the same numbers the DuckDB path gives (8 header lines before).
    assert [(r["line"], r["error"]) for r in report.rejects] == [
        (11, "field orig_bytes is not a number"),
        (13, "expected 21 fields, found 2"),
        (16, "expected 21 fields, found 22"),
    ]
    assert sorted(r.line for f in duck.files for r in f.rejects) == [11, 13, 16]
    assert report.days == ("2026-01-01", "2026-01-02")
    # Idempotent: the same files again (and one of them on its own) add nothing twice.
    again = spark_ingest([tmp_path / "logs", logs[0]], tmp_path / "events", spark)
    assert (again.added, again.events, again.rejected) == (0, 9, 3)
    assert _events(tmp_path / "events") == _events(tmp_path / "duck")
    kept = spark.read.json(str(tmp_path / "events" / "_rejects")).count()
    assert kept == 3


def _scenario_as_zeek(directory: Path) -> Path:
    """The engine test's scenario as a Zeek conn.log (its successful connections)."""
    from tests.monitor.helpers import CONN_FIELDS, conn_line, write, zeek_header

    lines = [
        conn_line(
            r["ts"],
            f"S{i}",
            r["identity"],
            r["dst_host"],
            r["dst_port"],
            orig=str(r["bytes_out"]),
            resp=str(r["bytes_in"]),
        )
        for i, r in enumerate(scenario())
        if r["outcome"] == "ok"
    ]
    directory.mkdir()
    return write(directory / "conn.log", zeek_header("conn", CONN_FIELDS) + "".join(lines))


def test_spark_ingest_then_spark_detect_gives_the_duckdb_alerts(spark: Any, tmp_path: Path) -> None:
    from zerotls.monitor.spark import SparkEvents
    from zerotls.monitor.spark_ingest import spark_ingest
    from zerotls.monitor.store import Store

    _scenario_as_zeek(tmp_path / "zeek")
    spark_ingest([tmp_path / "zeek"], tmp_path / "events", spark)
    with Store() as store:
        store.ingest([tmp_path / "zeek" / "conn.log"])
        duck = detect(store, default_window(store))
    events = SparkEvents(tmp_path / "events", spark)
    on_spark = detect(events, default_window(events))
    assert duck.alerts, "the scenario must raise alerts, or the comparison proves nothing"
    assert _summary(on_spark) == _summary(duck)


def _audit_log(path: Path) -> Path:
    """The demo's tunnel history plus the shapes a real audit log has: client mode, IPv6
    sources, a denial, a failed handshake, and four bad lines among them."""
    import datetime as dt
    import json

    from zerotls.cli.demo_more import history

    now = dt.datetime(2026, 1, 2, 18, tzinfo=dt.UTC).timestamp()
    events = history(now)
    events[5] = {**events[5], "mode": "client", "target": "db.internal:5432", "sni": None}
    events[6] = {**events[6], "source": "[2001:db8::7]:51000"}
    events[7] = {**events[7], "close_reason": "handshake_failed", "decision": None,
                 "alert": "unknown_ca", "tls_version": None}  # fmt: skip
    lines = [json.dumps(e) for e in events]
    lines[10] = "not json at all"
    lines[20] = json.dumps({**events[20], "bytes_in": "many"})
    lines[30] = json.dumps({k: v for k, v in events[30].items() if k != "conn_id"})
    lines[40] = json.dumps({**events[40], "time": "yesterday"})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_spark_reads_the_audit_log_as_the_duckdb_path_does(spark: Any, tmp_path: Path) -> None:
    from zerotls.monitor.spark import SparkEvents
    from zerotls.monitor.spark_ingest import spark_ingest
    from zerotls.monitor.store import Store

    log = _audit_log(tmp_path / "audit.jsonl")
    report = spark_ingest([log], tmp_path / "events", spark)
    with Store() as store:
        duck = store.ingest([log])
        store.export_parquet(tmp_path / "duck")
        duck_alerts = detect(store, default_window(store, since_seconds=12 * 3600))
    assert _events(tmp_path / "events") == _events(tmp_path / "duck")
    assert report.added == duck.added and report.rejected == 4
    spark_lines = sorted((r["line"], r["error"]) for r in report.rejects)
    duck_lines = sorted((r.line, r.error) for f in duck.files for r in f.rejects)
    assert [n for n, _ in spark_lines] == [n for n, _ in duck_lines] == [11, 21, 31, 41]
    assert "conn_id is missing" in dict(spark_lines)[31]
    assert "not an RFC 3339 time" in dict(spark_lines)[41]
    events = SparkEvents(tmp_path / "events", spark)
    on_spark = detect(events, default_window(events, since_seconds=12 * 3600))
    assert duck_alerts.alerts, "the history must raise alerts, or the comparison proves nothing"
    assert _summary(on_spark) == _summary(duck_alerts)
    again = spark_ingest([log], tmp_path / "events", spark)
    assert again.added == 0  # the same keys: nothing twice


def test_spark_reads_suricata_eve_as_the_duckdb_path_does(spark: Any, tmp_path: Path) -> None:
    import json

    from zerotls.monitor.spark_ingest import spark_ingest
    from zerotls.monitor.store import Store

    stamp = "2026-01-01T00:00:%02d.000000+0000"
    records = [
        {"timestamp": stamp % 1, "flow_id": 1001, "event_type": "tls", "src_ip": "10.0.0.7",
         "dest_ip": "93.184.216.34", "proto": "TCP",
         "tls": {"sni": "example.com", "version": "TLS 1.3"}},
        {"timestamp": stamp % 2, "flow_id": 1002, "event_type": "dns", "src_ip": "10.0.0.7",
         "dest_ip": "10.0.0.53", "proto": "UDP", "dns": {"rrname": "example.com"}},
        {"timestamp": stamp % 9, "flow_id": 1001, "event_type": "flow", "src_ip": "10.0.0.7",
         "src_port": 50000, "dest_ip": "93.184.216.34", "dest_port": 443, "proto": "TCP",
         "flow": {"pkts_toserver": 12, "pkts_toclient": 14, "bytes_toserver": 2345,
                  "bytes_toclient": 67890, "start": stamp % 1, "age": 7}},
        {"timestamp": stamp % 9, "flow_id": 1004, "event_type": "flow", "src_ip": "10.0.0.7",
         "src_port": 50001, "dest_ip": "203.0.113.5", "dest_port": 22, "proto": "TCP",
         "flow": {"pkts_toserver": 1, "pkts_toclient": 0, "bytes_toserver": 74,
                  "bytes_toclient": 0, "start": stamp % 4, "age": 0}},
        {"timestamp": stamp % 9, "event_type": "flow", "src_ip": "10.0.0.7",
         "dest_ip": "1.2.3.4", "proto": "TCP", "flow": {"start": stamp % 5}},  # no flow_id
    ]  # fmt: skip
    eve = tmp_path / "logs" / "eve.json"
    eve.parent.mkdir()
    eve.write_text("".join(json.dumps(r) + "\n" for r in records) + "not json\n")
    report = spark_ingest([eve], tmp_path / "events", spark)
    with Store() as store:
        duck = store.ingest([eve])
        store.export_parquet(tmp_path / "duck")
    events = _events(tmp_path / "events")
    assert events == _events(tmp_path / "duck")
    assert len(events) == 2 and events[0][6] == "example.com"  # the tls event named it
    assert (
        sorted((r["line"], r["error"]) for r in report.rejects)
        == sorted((r.line, r.error) for f in duck.files for r in f.rejects)
        == [(5, "field flow_id is missing"), (6, "not a JSON object")]
    )


def test_spark_reads_flow_csv_as_the_duckdb_path_does(spark: Any, tmp_path: Path) -> None:
    from tests.monitor.helpers import write
    from zerotls.monitor.spark_ingest import spark_ingest
    from zerotls.monitor.store import Store

    logs = tmp_path / "logs"
    logs.mkdir()
    epoch = write(
        logs / "flows.csv",
        "ts,src_ip,dst_ip,dst_port,proto,bytes_out,bytes_in,duration,tls_version,sni\n"
        "1767225600.123456,10.0.0.1,93.1.1.1,443,TCP,1200,30000,2.5,TLS 1.2,api.example\n"
        '1767225601,10.0.0.2,93.1.1.2,443,tcp,10,20,0.5,-,"name, with a comma"\n'
        "1767225602,10.0.0.3,93.1.1.3,notaport,tcp,1,1,1,,\n"
        "nan,10.0.0.4,93.1.1.4,443,tcp,1,1,1,,\n"
        "1767225603,10.0.0.5,93.1.1.5,443,tcp,1,1,-1,,\n"
        "1767225604,10.0.0.6,93.1.1.6,443\n"
        "1767225605,10.0.0.7,93.1.1.7,53,udp,60,120,0.1,,\n",
    )
    iso = write(
        logs / "nfdump.csv",
        "ts,sa,da,sp,dp,pr,ibyt,obyt,td\n"
        "2026-01-01 00:00:00,10.0.0.1,93.1.1.1,5000,443,TCP,1200,30000,2.5\n"
        '2026-01-01T00:00:02.5Z,10.0.0.3,"93.1.1.3",5002,53,UDP,60,120,0.1\n',
    )
    report = spark_ingest([logs], tmp_path / "events", spark)
    with Store() as store:
        duck = store.ingest([epoch, iso])
        store.export_parquet(tmp_path / "duck")
    events = _events(tmp_path / "events")
    assert events == _events(tmp_path / "duck")  # the same keys, times and fields
    assert len(events) == 5 and report.added == 5
    # The same bad lines (each engine words its own errors). The DuckDB path finds a time
    # or duration that is not finite after parsing, where the line is no longer known (0).
    spark_lines = sorted((Path(r["file"]).name, r["line"]) for r in report.rejects)
    assert spark_lines == [("flows.csv", 4), ("flows.csv", 5), ("flows.csv", 6), ("flows.csv", 7)]
    duck_lines = sorted(r.line for f in duck.files for r in f.rejects)
    assert duck_lines == [0, 0, 4, 7]
    assert {r["error"] for r in report.rejects} >= {
        "field ts is not a finite time",
        "field duration is not a finite, non-negative number of seconds",
        "expected 10 fields, found 4",
        "field dst_port is not a number",
    }
    again = spark_ingest([logs], tmp_path / "events", spark)
    assert (again.added, again.events) == (0, 5)


def test_spark_quarantines_the_times_the_store_quarantines(spark: Any, tmp_path: Path) -> None:
    """A time that is not finite, before 1990 or far in the future, and a duration that is
    negative or not finite, are refused by every format on Spark as the store refuses them
    (so no NaN reaches a query and no line dated 2100 moves the window), with the line."""
    import json

    from tests.monitor.helpers import CONN_FIELDS, conn_line, write, zeek_header
    from zerotls.monitor.spark_ingest import spark_ingest
    from zerotls.monitor.store import Store

    t = 1767225600.0
    logs = tmp_path / "logs"
    logs.mkdir()
    conn = [
        conn_line(t, "C1", "10.0.0.1", "93.1.1.1"),
        conn_line(float("nan"), "C2", "10.0.0.1", "93.1.1.2"),
        conn_line(float("inf"), "C3", "10.0.0.1", "93.1.1.3"),
        conn_line(4102444800.0, "C4", "10.0.0.1", "93.1.1.4"),  # 2100
        conn_line(1000.0, "C5", "10.0.0.1", "93.1.1.5"),  # 1970: a counter
        conn_line(t + 5, "C6", "10.0.0.1", "93.1.1.6").replace("\t1.5\t", "\t-3\t"),
        conn_line(t + 6, "C7", "10.0.0.1", "93.1.1.7").replace("\t1.5\t", "\tinf\t"),
        conn_line(t + 7, "C8", "10.0.0.1", "93.1.1.8"),
    ]
    write(logs / "conn.log", zeek_header("conn", CONN_FIELDS) + "".join(conn))
    stamp = "2026-01-01T00:00:%02d.000000+0000"
    flows = [
        {"timestamp": stamp % 9, "flow_id": 1, "event_type": "flow", "src_ip": "10.0.0.7",
         "dest_ip": "93.1.2.1", "proto": "TCP", "flow": {"start": stamp % 1, "age": 7}},
        {"timestamp": stamp % 9, "flow_id": 2, "event_type": "flow", "src_ip": "10.0.0.7",
         "dest_ip": "93.1.2.2", "proto": "TCP", "flow": {"start": stamp % 2, "age": -7}},
        {"timestamp": "2100-01-01T00:00:00.000000+0000", "flow_id": 3, "event_type": "flow",
         "src_ip": "10.0.0.7", "dest_ip": "93.1.2.3", "proto": "TCP",
         "flow": {"start": "2100-01-01T00:00:00.000000+0000", "age": 1}},
        {"timestamp": "1970-01-01T00:00:00.000000+0000", "event_type": "alert"},  # not a flow
    ]  # fmt: skip
    write(logs / "eve.json", "".join(json.dumps(r) + "\n" for r in flows))
    report = spark_ingest([logs], tmp_path / "events", spark)
    with Store() as store:
        duck = store.ingest([logs / "conn.log", logs / "eve.json"])
        store.export_parquet(tmp_path / "duck")
    events = _events(tmp_path / "events")
    assert events == _events(tmp_path / "duck")  # what is kept, both engines keep
    assert sorted(e[0] for e in events) == ["zeek:C1", "zeek:C8", "zeek:eve-1"]
    assert duck.rejected == report.rejected == 8
    found = sorted((Path(r["file"]).name, r["line"], r["error"]) for r in report.rejects)
    header = 8  # the conn.log's header lines
    assert [(name, line) for name, line, _ in found] == [
        ("conn.log", header + n) for n in (2, 3, 4, 5, 6, 7)
    ] + [("eve.json", 2), ("eve.json", 3)]
    errors = {(name, line): error for name, line, error in found}
    assert errors["conn.log", header + 2] == "field ts is not a finite time"
    assert "in the future" in errors["conn.log", header + 4]
    assert "before 1990" in errors["conn.log", header + 5]
    assert "duration is not a finite" in errors["conn.log", header + 6]
    assert "duration is not a finite" in errors["eve.json", 2]
    assert "in the future" in errors["eve.json", 3]


def test_spark_ingest_says_what_it_cannot_read(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.monitor.helpers import write
    from zerotls.cli import main
    from zerotls.errors import ConfigError
    from zerotls.monitor.spark_ingest import spark_ingest

    audit = write(tmp_path / "audit.jsonl", '{"v":1,"conn_id":"ab","decision":"allow"}\n')
    parquet = write(tmp_path / "events.parquet", "PAR1 not really")
    with pytest.raises(ConfigError, match="reads Zeek conn.log and ssl.log .* audit log"):
        spark_ingest([parquet], tmp_path / "events", spark)
    with pytest.raises(ConfigError, match="no such file or directory"):
        spark_ingest([tmp_path / "missing"], tmp_path / "events", spark)
    assert main(["monitor", "ingest", "--engine", "spark", str(audit)]) == 2
    assert "give --to DIR" in capsys.readouterr().err


@pytest.fixture
def standalone_cluster(tmp_path: Path) -> Iterator[str]:
    """A standalone Spark master and two workers on 127.0.0.1, from the pyspark installation,
    stopped by PID afterwards."""
    import os
    import subprocess
    import sys
    import time

    import pyspark

    from tests.peers.openssl import free_port, stop, wait_for_port

    home = Path(pyspark.__file__).parent
    spark_class = str(home / "bin" / "spark-class")
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(tmp_path / "work")}  # fmt: skip
    port = free_port()
    procs = []
    log = (tmp_path / "cluster.log").open("wb")
    try:
        master = subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(free_port())],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(master)
        wait_for_port(port, master, timeout=60)
        url = f"spark://127.0.0.1:{port}"
        for _ in range(2):
            procs.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                 "--cores", "1", "--memory", "1g", "--webui-port", str(free_port())],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            ))  # fmt: skip
        time.sleep(3)  # the workers register with the master
        yield url
    finally:
        for proc in reversed(procs):
            stop(proc)
        log.close()


def test_alerts_on_a_standalone_cluster_equal_duckdb_alerts(
    standalone_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    from zerotls.monitor.spark import SparkEvents, spark_session

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()  # the module's local[2] session: this test needs its own master
    from zerotls.monitor.spark_ingest import spark_ingest
    from zerotls.monitor.store import Store

    conn = _scenario_as_zeek(tmp_path / "zeek")
    with Store() as store:
        store.ingest([conn])
        duck = detect(store, default_window(store))
    # As on any cluster: the executors' Python is one that has zerotls[monitor].
    import sys

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    session = spark_session(
        standalone_cluster,
        {"spark.sql.shuffle.partitions": "4", "spark.executor.memory": "512m",
         "spark.cores.max": "2", "spark.driver.host": "127.0.0.1"},
    )  # fmt: skip
    try:
        import time

        deadline = time.monotonic() + 60
        # One core on each of the two workers: both executors are up once there are two.
        while session.sparkContext.defaultParallelism < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert session.sparkContext.defaultParallelism >= 2
        assert session.sparkContext.master == standalone_cluster
        # Ingest and detect on the cluster: the lines are numbered, parsed and shuffled on
        # the two workers' executors.
        report = spark_ingest([conn], tmp_path / "events", session)
        assert report.added > 0 and report.rejected == 0
        # distribute_from=0: the outlier forests are fitted on the workers too.
        events = SparkEvents(tmp_path / "events", session, distribute_from=0)
        on_cluster = detect(events, default_window(events))
    finally:
        session.stop()
    assert _summary(on_cluster) == _summary(duck)


def test_executors_without_zerotls_are_one_clear_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Executors whose Python lacks zerotls (a cluster set up for other jobs) fail the
    distributed outlier scoring with one line that says what to do; no JVM or worker stack
    trace reaches the terminal. Also: --spark-conf reaches the session."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    from zerotls.cli import main

    system_python = shutil.which("python3", path="/usr/bin")
    if system_python is None:
        pytest.skip("no /usr/bin/python3 to stand for an executor without zerotls")
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()  # PYSPARK_PYTHON is read when a Spark context starts
    with store_with(scenario()) as store:
        store.export_parquet(tmp_path / "pq")
    monkeypatch.setenv("PYSPARK_PYTHON", system_python)
    args = ["monitor", "detect", "--engine", "spark", "--events", str(tmp_path / "pq"),
            "--spark-master", "local[1]"]  # fmt: skip
    assert main([*args, "--spark-conf", "spark.zerotls.outlier.distributeFrom=0"]) == 2
    err = capfd.readouterr().err
    assert "could not score the outlier detector's peer groups" in err
    assert "No module named" in err and "PYSPARK_PYTHON" in err
    assert "Traceback" not in err and "\tat org.apache" not in err
    assert main([*args, "--spark-conf", "spark.executor.memory"]) == 2
    assert "give KEY=VALUE" in capfd.readouterr().err
