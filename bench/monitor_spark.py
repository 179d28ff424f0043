"""Detection on DuckDB against Spark local[2], on the same events, on this machine.

The office scenario of bench/monitor_eval.py is generated at a few sizes (hosts), ingested
into DuckDB, exported as Parquet, and judged three ways: DuckDB on the store, Spark
``local[2]`` over the export, and (``--cluster``) nothing more is started here: a running
standalone master can be given with ``--master spark://HOST:PORT``. For each: wall time of
detect, events per second, and whether the alerts equal DuckDB's. Spark will be slower on
one 2-core machine; the point is how each grows with the events.

    python bench/monitor_spark.py                    # 60 and 240 hosts (about 1 M and 4 M events)
    python bench/monitor_spark.py --hosts 60 120 --master local[2]

Bounded: one detect per engine and size; the Spark session is stopped at the end.
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
from zerotls.monitor.spark import SparkEvents, spark_session
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
                    store.ingest([root / "logs"])
                    events = store.count()
                    store.export_parquet(root / "pq")
                    t = time.perf_counter()
                    duck = detect(store, default_window(store))
                    duck_s = time.perf_counter() - t
                spark_events = SparkEvents(root / "pq", session)
                t = time.perf_counter()
                on_spark = detect(spark_events, default_window(spark_events))
                spark_s = time.perf_counter() - t
                same = [a.key for a in duck.alerts] == [a.key for a in on_spark.alerts]
                rows.append((hosts, events, duck_s, spark_s, same))
                print(f"{hosts} hosts done", file=sys.stderr)
    finally:
        session.stop()
    print(f"{'hosts':>6} {'events':>10} {'duckdb s':>9} {'ev/s':>11} {'spark s':>8} "
          f"{'ev/s':>11} {'spark/duckdb':>12} same alerts")  # fmt: skip
    for hosts, events, duck_s, spark_s, same in rows:
        print(f"{hosts:>6} {events:>10,} {duck_s:>9.2f} {events / duck_s:>11,.0f} {spark_s:>8.2f} "
              f"{events / spark_s:>11,.0f} {spark_s / duck_s:>11.1f}x {same}")  # fmt: skip


if __name__ == "__main__":
    main()
