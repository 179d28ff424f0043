"""The Spark engine gives the DuckDB engine's alerts on the same events (a real local[2]
Spark, over the Parquet export; the feature SQL rendered for Spark from the one definition)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.monitor.helpers import store_with
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
    standalone_cluster: str, tmp_path: Path
) -> None:
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    from zerotls.monitor.spark import SparkEvents, spark_session

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()  # the module's local[2] session: this test needs its own master
    with store_with(scenario()) as store:
        store.export_parquet(tmp_path / "pq")
        duck = detect(store, default_window(store))
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
        events = SparkEvents(tmp_path / "pq", session)
        on_cluster = detect(events, default_window(events))
    finally:
        session.stop()
    assert _summary(on_cluster) == _summary(duck)
