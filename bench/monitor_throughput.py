"""Throughput of `zerotls monitor`: ingest of Zeek conn.log TSV (events per second) and
detection time over 10 million events.

Goals on this machine (2 cores): at least 1 million events per second of ingest; detection
over 10 million events in under a minute. Each figure is the median of --repeat runs, as
wall-clock rate and as rate per CPU-second of this process (DuckDB's threads included),
which is steadier when other work shares the machine.

Run:  .venv/bin/python bench/monitor_throughput.py [--ingest-events 2000000] [--repeat 3]
      [--detect-events 10000000] [--workdir /tmp/zerotls-bench]

      .venv/bin/python bench/monitor_throughput.py --ingest-events 10000000 --skip-detect

The Zeek log is synthetic but well-formed (every field of conn.log, Zeek's random uids, 250
sources, 5,000 destinations, 15 days of time); it is written once and reused by later runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from zerotls.monitor.engine import default_window, detect
from zerotls.monitor.store import Store

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#open\t2026-01-01-00-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\t"
    "proto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\t"
    "missed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\t"
    "bool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"
)


_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype="S1"
)


def _zeek_uids(rng: np.random.Generator, m: int) -> np.ndarray:
    """Connection uids as Zeek writes them: "C" and 17 random base62 characters (a counter
    would compress far better than the real thing and flatter the store)."""
    chars = _BASE62[rng.integers(0, 62, (m, 17))]
    return np.char.add("C", chars.view("S17").ravel().astype(str))


def write_conn_log(path: Path, n: int, *, days: float = 15.0, seed: int = 0) -> None:
    """n lines of Zeek conn.log TSV, sorted by time, written in vectorized blocks."""
    marker = path.with_suffix(".n")
    if path.exists() and marker.exists() and marker.read_text() == f"{n} zeek-uids":
        return
    rng = np.random.default_rng(seed)
    t0 = 1_767_225_600.0
    block = 500_000
    with path.open("w") as f:
        f.write(HEADER)
        for b in range(0, n, block):
            m = min(block, n - b)
            ts = t0 + (b + np.sort(rng.uniform(0, m, m))) * (days * 86400 / n)
            src = rng.integers(1, 251, m)
            dst = rng.integers(0, 5000, m)
            port = rng.choice(np.array([443, 80, 53, 22, 8443]), m)
            ob = rng.lognormal(7, 2, m).astype(np.int64)
            ib = rng.lognormal(8, 2, m).astype(np.int64)
            du = rng.exponential(2.0, m)
            cols = [
                np.char.mod("%.6f", ts),
                _zeek_uids(rng, m),
                np.char.add("10.0.0.", src.astype(str)),
                (40000 + np.arange(m) % 20000).astype(str),
                np.char.add(
                    np.char.add("93.", (dst // 250).astype(str)),
                    np.char.add(".", (dst % 250).astype(str)),
                ),
                port.astype(str),
                np.full(m, "tcp"),
                np.full(m, "ssl"),
                np.char.mod("%.6f", du),
                ob.astype(str),
                ib.astype(str),
                np.full(m, "SF\tT\tF\t0\tShADadFf\t10\t1000\t12\t20000\t(empty)"),
            ]
            lines = cols[0]
            for c in cols[1:]:
                lines = np.char.add(np.char.add(lines, "\t"), c)
            f.write("\n".join(lines.tolist()))
            f.write("\n")
        f.write("#close\t2026-01-16-00-00-00\n")
    path.with_suffix(".n").write_text(f"{n} zeek-uids")


def bench_ingest(log: Path, workdir: Path, n: int, repeat: int) -> None:
    walls, cpus = [], []
    for i in range(repeat):
        store_path = workdir / f"ingest-{i}.duckdb"
        store_path.unlink(missing_ok=True)
        with Store(store_path) as store:
            w0, c0 = time.perf_counter(), time.process_time()
            report = store.ingest([log])
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            assert report.added == n, report
            again = store.ingest([log])
            assert again.added == 0
        store_path.unlink(missing_ok=True)
        walls.append(n / wall)
        cpus.append(n / cpu)
        print(f"  run {i + 1}: {n:,} events in {wall:.2f} s wall, {cpu:.2f} s CPU")
    size = log.stat().st_size / 1e6
    print(
        f"ingest of Zeek conn.log TSV ({size:.0f} MB, {n:,} events) into a new DuckDB store: "
        f"median {statistics.median(walls):,.0f} events/s wall, "
        f"{statistics.median(cpus):,.0f} events per CPU-second (goal: 1,000,000 events/s)"
    )


def bench_parse_only(log: Path, n: int, repeat: int) -> None:
    """DuckDB's CSV reader alone over the same file (every column the monitor uses), to
    show how the ingest time splits between parsing and writing the store."""
    import duckdb

    from zerotls.monitor import readers

    header = readers.sniff(log.read_bytes()[:65536], str(log))
    columns = {f: readers._ZEEK_TSV_TYPES.get(f, "VARCHAR") for f in header.fields}
    used = list(readers._ZEEK_CONN_FIELDS)  # the columns the store reads from conn.log
    aggregates = ", ".join(f'count("{c}")' for c in used)
    rates = []
    con = duckdb.connect()
    for _ in range(repeat):
        w0 = time.perf_counter()
        con.execute(
            f"SELECT {aggregates} FROM read_csv(?, columns=?, header=false, auto_detect=false, "  # noqa: S608
            "delim='\t', quote='', escape='', comment='#', nullstr=['-', '(empty)'])",
            [str(log), columns],
        ).fetchall()
        rates.append(n / (time.perf_counter() - w0))
    con.close()
    print(
        f"  parse only (DuckDB read_csv, no store): median {statistics.median(rates):,.0f} events/s"
    )


def bench_detect(log: Path, workdir: Path, n: int, repeat: int) -> None:
    store_path = workdir / "detect.duckdb"
    if not store_path.exists():
        with Store(store_path) as store:
            t = time.perf_counter()
            store.ingest([log])
            print(f"  (ingested {n:,} events for detection in {time.perf_counter() - t:.1f} s)")
    walls = []
    with Store(store_path) as store:
        assert store.count() == n
        window = default_window(store)
        for i in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            result = detect(store, window)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            walls.append(wall)
            slow = sorted(result.timings.items(), key=lambda kv: -kv[1])[:4]
            print(
                f"  run {i + 1}: {result.events:,} events judged in {wall:.1f} s wall "
                f"({cpu:.1f} s CPU), {len(result.alerts)} alerts; slowest: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in slow)
            )
    print(
        f"detection over {n:,} events (24 h window + 14 d baseline, all detectors): median "
        f"{statistics.median(walls):.1f} s (goal: under 60 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ingest-events", type=int, default=2_000_000)
    parser.add_argument("--detect-events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "zerotls-bench"
    )
    parser.add_argument("--skip-detect", action="store_true")
    parser.add_argument("--clean", action="store_true", help="delete the work directory at the end")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    log = args.workdir / f"conn-{args.ingest_events}.log"
    t = time.perf_counter()
    write_conn_log(log, args.ingest_events)
    print(f"  (log ready in {time.perf_counter() - t:.1f} s)")
    bench_ingest(log, args.workdir, args.ingest_events, args.repeat)
    bench_parse_only(log, args.ingest_events, args.repeat)
    if not args.skip_detect:
        big = args.workdir / f"conn-{args.detect_events}.log"
        t = time.perf_counter()
        write_conn_log(big, args.detect_events)
        print(f"  (log ready in {time.perf_counter() - t:.1f} s)")
        bench_detect(big, args.workdir, args.detect_events, args.repeat)
    print(f"machine load average at the end: {os.getloadavg()[0]:.1f}")
    if args.clean:
        shutil.rmtree(args.workdir)


if __name__ == "__main__":
    main()
