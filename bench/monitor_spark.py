"""Ingest and detection on DuckDB against Spark local[2], on the same logs, on this machine.

The office scenario of bench/monitor_eval.py is generated at a few sizes (hosts) as Zeek
conn.log + ssl.log, then ingested twice: into a DuckDB store (``Store.ingest``) and with
Spark's readers into Parquet (``spark_ingest``); then judged by DuckDB on the store and by
Spark over its own Parquet. Nothing else is started here: a running standalone master can
be given with ``--master spark://HOST:PORT``. For each: wall time of ingest and detect,
events per second, and whether the alerts equal DuckDB's. Spark will be slower on one
2-core machine; the point is how each grows with the events.

    python bench/monitor_spark.py                    # 60 and 240 hosts (about 1 M and 4 M events)
    python bench/monitor_spark.py --hosts 60 120 --master local[2]

Bounded: one detect per engine and size (two on Spark: the outlier detector's forests on
the driver, then on the executors); the Spark session is stopped at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from monitor_eval import generate

from zerotls.monitor.engine import default_window, detect
from zerotls.monitor.features import Settings
from zerotls.monitor.spark import SparkEvents, spark_session
from zerotls.monitor.spark_ingest import spark_ingest
from zerotls.monitor.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--hosts", type=int, nargs="+", default=[60, 240])
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    session = spark_session(args.master, {"spark.sql.shuffle.partitions": "8"})
    rows = []
    try:
        for hosts in args.hosts:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                (root / "logs").mkdir()
                generate(root / "logs", seed=0, hosts=hosts)
                with Store(root / "m.duckdb") as store:
                    t = time.perf_counter()
                    store.ingest([root / "logs"])
                    duck_in = time.perf_counter() - t
                    events = store.count()
                    t = time.perf_counter()
                    duck = detect(store, default_window(store))
                    duck_s = time.perf_counter() - t
                t = time.perf_counter()
                report = spark_ingest([root / "logs"], root / "pq", session)
                spark_in = time.perf_counter() - t
                spark_events = SparkEvents(root / "pq", session)
                t = time.perf_counter()
                on_spark = detect(spark_events, default_window(spark_events))
                spark_s = time.perf_counter() - t
                # The outlier detector's forests fitted per peer group on the executors
                # (applyInArrow) instead of on the driver.
                spread = SparkEvents(root / "pq", session, distribute_from=0)
                t = time.perf_counter()
                on_executors = detect(spread, default_window(spread))
                spread_s = time.perf_counter() - t
                hourly = spread.features(default_window(spread), Settings())["hourly"].num_rows
                keys = [a.key for a in duck.alerts]
                same = (
                    keys == [a.key for a in on_spark.alerts] == [a.key for a in on_executors.alerts]
                )
                same = same and report.added == events
                rows.append(
                    (hosts, events, duck_in, duck_s, spark_in, spark_s, spread_s, hourly, same)
                )
                print(f"{hosts} hosts done", file=sys.stderr)
    finally:
        session.stop()
    print(f"{'':>17} {'------- ingest -------':>32} {'------------- detect -------------':>46}")
    print(f"{'hosts':>6} {'events':>10} {'duckdb s':>9} {'spark s':>8} {'ev/s spark':>11} "
          f"{'duckdb s':>9} {'spark s':>8} {'ev/s spark':>11} {'forests on executors s':>23} "
          f"{'hourly rows':>12}  same events and alerts")  # fmt: skip
    for hosts, events, duck_in, duck_s, spark_in, spark_s, spread_s, hourly, same in rows:
        print(f"{hosts:>6} {events:>10,} {duck_in:>9.2f} {spark_in:>8.2f} "
              f"{events / spark_in:>11,.0f} {duck_s:>9.2f} {spark_s:>8.2f} "
              f"{events / spark_s:>11,.0f} {spread_s:>23.2f} {hourly:>12,}  {same}")  # fmt: skip


if __name__ == "__main__":
    main()
