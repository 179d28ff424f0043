"""``zerotls monitor``: learn normal connection behaviour from logs and flag unusual egress.

A thin shell around :mod:`zerotls.monitor`: it parses arguments, opens the store, calls the
library and prints. The monitor's dependencies (DuckDB, Arrow, numpy, scikit-learn) are
imported only when a monitor command runs, so ``zerotls --help`` stays fast and a missing
install is one clear line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zerotls._util import parse_duration
from zerotls.errors import ConfigError

if TYPE_CHECKING:
    from zerotls.monitor.engine import Result
    from zerotls.monitor.store import IngestReport, Store

__all__ = ["register"]

DEFAULT_STORE = "zerotls-monitor.duckdb"
LEVELS = ("low", "medium", "high")

MONITOR_EPILOG = """\
Inputs: zerotls audit logs (JSON Lines), Zeek conn.log and ssl.log (TSV or JSON), flow CSV
(docs/monitor.md), Parquet written by `monitor export`. Events go into one DuckDB file
(--store, default ./zerotls-monitor.duckdb or $ZEROTLS_MONITOR_STORE).

examples:
  zerotls monitor ingest /var/log/zeek/current/ /var/log/zerotls/audit.jsonl
  zerotls monitor detect                        # last 24 h of data vs the 14 days before
  zerotls monitor report --html report.html --allowlist monitor-allow.toml
  zerotls monitor follow /var/log/zerotls/audit.jsonl

Detectors, scores, allowlist format and how to run the same SQL on Spark: docs/monitor.md"""

INGEST_EPILOG = """\
Files are read incrementally: a second ingest reads only lines appended since the first,
starts again from the top when a file was rotated or truncated, and never adds an event
twice (events have stable keys). Bad lines are counted, kept with their line numbers
(`zerotls monitor rejects`), and never stop the ingest. Directories are read recursively;
files in formats the monitor does not read (dns.log, ...) are listed and skipped (exit 2).

With --engine spark, Spark reads Zeek conn.log and ssl.log (TSV or JSON, plain or .gz)
straight into --to DIR: Parquet events partitioned by day (the layout `detect --engine spark
--events DIR` reads); bad lines go to DIR/_rejects/ with file and line. Re-reading a file
adds nothing twice (each touched day is merged and de-duplicated on the event key).

examples:
  zerotls monitor ingest conn.log ssl.log
  zerotls monitor ingest /var/log/zeek/2026-11-28/ --store /srv/monitor.duckdb
  zerotls monitor ingest flows.csv --json
  zerotls monitor ingest --engine spark /var/log/zeek/ --to ./events --spark-master local[2]
  zerotls monitor ingest --engine spark /var/log/zeek/ --to ./events \
      --spark-conf spark.sql.shuffle.partitions=8"""

DETECT_EPILOG = """\
Judges a window (default: the last 24 hours of data, not of the clock) against a baseline
(default: the 14 days before it). Each alert has a one-line summary, why it is unusual,
its evidence, and a severity combined from the ranks of every detector that flagged the
identity (high >= 0.85, medium >= 0.6).

examples:
  zerotls monitor detect
  zerotls monitor detect --since 6h --baseline 28d
  zerotls monitor detect --since 2026-11-28T00:00Z --until 2026-11-29T00:00Z --json
  zerotls monitor detect --allowlist allow.toml --fail-on high   # exit 1 if any high alert
  zerotls monitor export ./events && zerotls monitor detect --engine spark --events ./events \
      --spark-master local[2]                     # the same alerts, on Spark"""

REPORT_EPILOG = """\
The HTML file is self-contained (inline SVG charts, no script, nothing fetched): each alert
shows its baseline against the anomaly. Options are those of `detect`.

examples:
  zerotls monitor report --html report.html
  zerotls monitor report --html week.html --since 7d --baseline 28d --limit 50"""

FOLLOW_EPILOG = """\
Tails a JSON Lines log (the tunnel's audit log, or a Zeek JSON conn.log), ingests new lines
as they are written, survives rotation (rename or copytruncate), and prints each new alert
once. Runs until Ctrl-C or --max-seconds.

examples:
  zerotls tunnel run tunnel.toml &          # writes /var/log/zerotls/audit.jsonl
  zerotls monitor follow /var/log/zerotls/audit.jsonl --allowlist allow.toml
  zerotls monitor follow audit.jsonl --max-seconds 60 --json"""

EXPORT_EPILOG = """\
Writes the events as Parquet, partitioned by day (DIR/day=YYYY-MM-DD/events_0.parquet):
the exchange format. `zerotls monitor ingest DIR` reads it back (duplicates are skipped);
Spark reads it as is (spark.read.parquet(DIR)).

examples:
  zerotls monitor export ./events-parquet
  zerotls monitor export s3-staging/ --since 7d"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``monitor`` command group to the ``zerotls`` parser."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = sub.add_parser(
        "monitor",
        help="learn normal connection behaviour from logs and flag unusual egress",
        description="Read zerotls audit events, Zeek conn/ssl logs and flow CSV into an "
        "embedded DuckDB store; flag new destinations, volume spikes, beacons, long "
        "connections, probing, legacy TLS and outliers, each with its evidence.",
        epilog=MONITOR_EPILOG,
        formatter_class=formatter,
    )
    cmds = parser.add_subparsers(dest="monitor_command", metavar="SUBCOMMAND")
    cmds.required = True

    p = cmds.add_parser(
        "ingest",
        help="read log files into the store (incremental, idempotent)",
        description="Read new lines of log files and directories into the store.",
        epilog=INGEST_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="log file or directory")
    _add_store(p)
    p.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="duckdb: into the store (default); spark: Zeek logs into Parquet in --to DIR",
    )
    p.add_argument(
        "--to", type=Path, metavar="DIR", help="--engine spark: the Parquet events directory"
    )
    p.add_argument(
        "--spark-master",
        default="local[*]",
        metavar="URL",
        help="--engine spark: local[*] (default), local[2], spark://HOST:7077 ...",
    )
    p.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="--engine spark: a Spark setting, as spark-submit --conf takes it (repeat it), "
        "e.g. spark.executor.memory=4g",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_ingest)

    for name, helptext, epilog, func in (
        ("detect", "judge a window of events and print the alerts", DETECT_EPILOG, _detect),
        (
            "report",
            "write a self-contained HTML report with a chart per alert",
            REPORT_EPILOG,
            _report,
        ),
    ):
        p = cmds.add_parser(
            name,
            help=helptext,
            description=helptext[0].upper() + helptext[1:] + ".",
            epilog=epilog,
            formatter_class=formatter,
        )
        _add_store(p)
        _add_detect_options(p)
        if name == "report":
            p.add_argument(
                "--html", required=True, type=Path, metavar="FILE", help="HTML file to write"
            )
            p.add_argument("--title", default="zerotls monitor report", help="page title")
        else:
            p.add_argument("--json", action="store_true", help="print the result as JSON")
            p.add_argument(
                "--fail-on",
                choices=LEVELS,
                metavar="LEVEL",
                help="exit 1 if an alert of this level or above is found (low, medium, high)",
            )
        p.set_defaults(func=func)

    p = cmds.add_parser(
        "follow",
        help="tail a JSON Lines log and print alerts as they appear",
        description="Tail a log, ingest new lines, print each new alert once.",
        epilog=FOLLOW_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("path", type=Path, metavar="PATH", help="the JSON Lines log to tail")
    _add_store(p)
    p.add_argument(
        "--allowlist", type=Path, metavar="FILE", help="allowlist and suppressions (TOML)"
    )
    p.add_argument(
        "--interval", default="1s", metavar="DURATION", help="poll interval (default 1s)"
    )
    p.add_argument(
        "--window", default="24h", metavar="DURATION", help="judge the last DURATION of data (24h)"
    )
    p.add_argument(
        "--baseline", default="14d", metavar="DURATION", help="against the DURATION before (14d)"
    )
    p.add_argument(
        "--max-seconds", type=float, metavar="N", help="stop after N seconds (default: Ctrl-C)"
    )
    p.add_argument("--from-end", action="store_true", help="skip what the file already holds")
    p.add_argument("--json", action="store_true", help="one JSON object per alert")
    p.set_defaults(func=_follow)

    p = cmds.add_parser(
        "export",
        help="write the events as Parquet, partitioned by day",
        description="Write the stored events as Parquet files partitioned by day.",
        epilog=EXPORT_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("directory", type=Path, metavar="DIR", help="output directory")
    _add_store(p)
    p.add_argument(
        "--since",
        metavar="WHEN",
        help="only events from WHEN (a duration back from the last event, or a time)",
    )
    p.set_defaults(func=_export)

    p = cmds.add_parser(
        "rejects",
        help="list the lines that could not be read, with file and line number",
        description="List rejected lines (newest ingest first).",
        formatter_class=formatter,
    )
    _add_store(p)
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.set_defaults(func=_rejects)


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        default=os.environ.get("ZEROTLS_MONITOR_STORE", DEFAULT_STORE),
        metavar="FILE",
        help=f"the DuckDB store (default ${{ZEROTLS_MONITOR_STORE}} or ./{DEFAULT_STORE})",
    )


def _add_detect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="duckdb: the store (default); spark: the Parquet export in --events, on Spark",
    )
    p.add_argument(
        "--events",
        type=Path,
        metavar="DIR",
        help="--engine spark: the directory `zerotls monitor export DIR` wrote",
    )
    p.add_argument(
        "--spark-master",
        default="local[*]",
        metavar="URL",
        help="--engine spark: local[*] (default), local[2], spark://HOST:7077 ...",
    )
    p.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="--engine spark: a Spark setting, as spark-submit --conf takes it (repeat it), "
        "e.g. spark.executor.memory=4g",
    )
    p.add_argument(
        "--since",
        metavar="WHEN",
        help="window start: a duration back from the last event (24h, 7d) or a UTC time "
        "(2026-11-28T00:00Z); default 24h",
    )
    p.add_argument(
        "--until", metavar="TIME", help="window end, a UTC time (default: the last event)"
    )
    p.add_argument(
        "--baseline",
        default="14d",
        metavar="DURATION",
        help="baseline length before the window (14d)",
    )
    p.add_argument(
        "--allowlist", type=Path, metavar="FILE", help="allowlist and suppressions (TOML)"
    )
    p.add_argument(
        "--only",
        metavar="DETECTORS",
        help="comma-separated detectors to run (new-destination, volume-spike, beacon, "
        "long-connection, probing, fan-out, legacy-tls, outlier)",
    )
    p.add_argument(
        "--alert-floor",
        type=_severity,
        default=0.25,
        metavar="SEVERITY",
        help="a finding its own explanation discounts (a volume spike to where others "
        "send as much) is noted, not alerted, below this severity (0..1; default 0.25), as "
        "are outliers no other detector corroborates",
    )
    p.add_argument("--limit", type=int, metavar="N", help="show at most N alerts")


def _severity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number: {text!r} (a severity from 0 to 1)"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside 0..1 (a severity, 0.25 by default)")
    return value


def _open_store(args: argparse.Namespace, *, must_exist: bool) -> Store:
    from zerotls.monitor._deps import require

    require()
    from zerotls.monitor.store import Store

    path = Path(args.store)
    if must_exist and not path.exists():
        raise ConfigError(
            f"no monitor store at {path}: read logs into it first with "
            f"`zerotls monitor ingest PATH --store {path}`"
        )
    return Store(path)


def _time(text: str, what: str) -> float:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{what} {text!r} is neither a duration (24h, 7d) nor a time (2026-11-28T00:00Z)"
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _run_detect(args: argparse.Namespace) -> Result:
    from zerotls.monitor.allowlist import DETECTORS, Allowlist

    allowlist = Allowlist.load(args.allowlist) if args.allowlist else Allowlist()
    only: tuple[str, ...] = ()
    if args.only:
        only = tuple(x.strip() for x in args.only.split(",") if x.strip())
        bad = [x for x in only if x not in DETECTORS]
        if bad:
            raise ConfigError(
                f"unknown detector(s) {', '.join(bad)}; known: {', '.join(DETECTORS)}"
            )
    baseline = parse_duration(args.baseline).total_seconds()
    if args.engine == "spark":
        from zerotls.monitor.spark import SparkEvents, spark_session

        if args.events is None:
            raise ConfigError(
                "--engine spark reads the Parquet export: give --events DIR (write one with "
                "`zerotls monitor export DIR`)"
            )
        owned = not _spark_active()
        session = spark_session(args.spark_master, _spark_conf(args.spark_conf))
        try:
            return _judge(args, SparkEvents(args.events, session), baseline, allowlist, only)
        finally:
            if owned:  # a session the caller (a notebook, a test) had stays theirs
                session.stop()
    with _open_store(args, must_exist=True) as store:
        return _judge(args, store, baseline, allowlist, only)


def _spark_conf(pairs: list[str]) -> dict[str, str]:
    conf = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(
                f"--spark-conf {pair!r}: give KEY=VALUE, e.g. --spark-conf spark.executor.memory=4g"
            )
        conf[key.strip()] = value
    return conf


def _spark_active() -> bool:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return False
    return SparkSession.getActiveSession() is not None


def _judge(
    args: argparse.Namespace,
    store: Any,
    baseline: float,
    allowlist: Any,
    only: tuple[str, ...],
) -> Result:
    from zerotls.monitor.engine import default_window, detect

    until = _time(args.until, "--until") if args.until else None
    since_abs: float | None = None
    since_rel = 24 * 3600.0
    if args.since:
        try:
            since_rel = parse_duration(args.since).total_seconds()
        except ConfigError:
            since_abs = _time(args.since, "--since")
    window = default_window(
        store, since=since_abs, until=until, since_seconds=since_rel, baseline_seconds=baseline
    )
    from zerotls.monitor.features import Settings

    settings = Settings(alert_floor=args.alert_floor)
    return detect(store, window, settings=settings, allowlist=allowlist, only=only)


def _detect(args: argparse.Namespace) -> int:
    from zerotls.monitor.report import render_json, render_text

    result = _run_detect(args)
    if args.json:
        print(render_json(result))
    else:
        print(render_text(result, limit=args.limit))
    if args.fail_on:
        floor = LEVELS.index(args.fail_on)
        if any(LEVELS.index(a.level) >= floor for a in result.alerts):
            return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    from zerotls._util import atomic_write
    from zerotls.monitor.report import render_html

    result = _run_detect(args)
    page = render_html(result, title=args.title, limit=args.limit)
    try:
        atomic_write(args.html, page.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write {args.html}: {exc.strerror or exc}") from None
    print(
        f"wrote {args.html}: {len(result.alerts)} alert(s), {len(result.unusual)} noted, "
        f"{len(result.suppressed)} suppressed"
    )
    return 0


def _ingest(args: argparse.Namespace) -> int:
    if args.engine == "spark":
        return _ingest_spark(args)
    with _open_store(args, must_exist=False) as store:
        report = store.ingest(args.paths)
    if args.json:
        print(json.dumps(_ingest_dict(report), indent=2))
    else:
        for f in report.files:
            print(_file_line(f))
        print(
            f"{report.added:,} new event(s), {report.rejected:,} bad line(s), "
            f"{report.events_read:,} lines in {report.seconds:.2f} s "
            f"({report.events_per_second:,.0f} lines/s); store {args.store}"
        )
    if report.failed:
        raise ConfigError(
            f"{len(report.failed)} of {len(report.files)} file(s) could not be read (listed "
            "above); the others were ingested"
        )
    return 0


def _ingest_spark(args: argparse.Namespace) -> int:
    from zerotls.monitor.spark import spark_session
    from zerotls.monitor.spark_ingest import plan_inputs, spark_ingest

    if args.to is None:
        raise ConfigError(
            "--engine spark writes Parquet events: give --to DIR (then `zerotls monitor detect "
            "--engine spark --events DIR`)"
        )
    plan = plan_inputs(args.paths)  # a missing path or a wrong format fails before Spark starts
    owned = not _spark_active()
    session = spark_session(args.spark_master, _spark_conf(args.spark_conf))
    try:
        report = spark_ingest(args.paths, args.to, session, plan=plan)
    finally:
        if owned:
            session.stop()
    if args.json:
        doc = {
            "seconds": round(report.seconds, 3),
            "added": report.added,
            "events": report.events,
            "rejected": report.rejected,
            "lines_read": report.lines,
            "days": list(report.days),
            "files": [
                {"path": f.path, "format": f.fmt, "lines": f.lines, "rejected": f.rejected}
                for f in report.files
            ],
            "rejects": list(report.rejects),
        }
        print(json.dumps(doc, indent=2))
        return 0
    for f in report.files:
        bad = f", {f.rejected:,} bad line(s)" if f.rejected else ""
        print(f"{f.path}: {f.fmt}, {f.lines:,} line(s){bad}")
    for r in report.rejects[:3]:
        print(f"  {r['file']} line {r['line']}: {r['error']}")
    if report.rejected:
        print(f"  all bad lines: {args.to / '_rejects'}")
    print(
        f"{report.added:,} new event(s), {report.rejected:,} bad line(s), {report.lines:,} "
        f"lines in {report.seconds:.1f} s; {args.to} holds {report.events:,} event(s) in "
        f"{len(report.days)} day(s) touched"
    )
    return 0


def _file_line(f: Any) -> str:
    if f.status == "error":
        return f"{f.path}: skipped: {f.message}"
    text = f"{f.path}: {f.status} ({f.fmt}), {f.added:,} added, {f.duplicates:,} already stored"
    if f.rejected:
        shown = "; ".join(
            f"{f'line {r.line}' if r.line else (r.text or 'an event')}: {r.error}"
            for r in f.rejects[:3]
        )
        more = f" (+{f.rejected - 3} more: `zerotls monitor rejects`)" if f.rejected > 3 else ""
        text += f", {f.rejected:,} bad line(s): {shown}{more}"
    return text


def _ingest_dict(report: IngestReport) -> dict[str, Any]:
    return {
        "seconds": round(report.seconds, 3),
        "added": report.added,
        "rejected": report.rejected,
        "lines_read": report.events_read,
        "files": [
            {
                "path": f.path,
                "status": f.status,
                "format": f.fmt,
                "added": f.added,
                "duplicates": f.duplicates,
                "rejected": f.rejected,
                "rejects": [{"line": r.line, "error": r.error, "text": r.text} for r in f.rejects],
                "message": f.message,
            }
            for f in report.files
        ],
    }


def _follow(args: argparse.Namespace) -> int:
    from zerotls.monitor.allowlist import Allowlist
    from zerotls.monitor.follow import follow

    allowlist = Allowlist.load(args.allowlist) if args.allowlist else Allowlist()
    interval = parse_duration(args.interval).total_seconds()
    window = parse_duration(args.window).total_seconds()
    baseline = parse_duration(args.baseline).total_seconds()
    if args.max_seconds is not None and args.max_seconds < 0:
        raise ConfigError("--max-seconds must not be negative")

    def show(alert: Any) -> None:
        if args.json:
            print(json.dumps(alert.to_dict()), flush=True)
        else:
            where = (
                f"{alert.identity} -> {alert.destination}" if alert.destination else alert.identity
            )
            print(
                f"[{alert.level.upper()} {alert.severity:.2f}] {alert.detector}: {where}: "
                f"{alert.summary}. Why: {alert.why}",
                flush=True,
            )

    def bad(msg: str) -> None:
        print(f"zerotls: bad line {msg}", file=sys.stderr, flush=True)

    with _open_store(args, must_exist=False) as store:
        stats = follow(
            store,
            args.path,
            on_alert=show,
            on_reject=bad,
            interval=interval,
            max_seconds=args.max_seconds,
            window_seconds=window,
            baseline_seconds=baseline,
            allowlist=allowlist,
            from_start=not args.from_end,
        )
    print(
        f"followed {args.path}: {stats.events} event(s), {stats.rejected} bad line(s), "
        f"{stats.alerts} alert(s), {stats.rotations} rotation(s)",
        file=sys.stderr,
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    with _open_store(args, must_exist=True) as store:
        since: float | None = None
        if args.since:
            span = store.time_range()
            try:
                back = parse_duration(args.since).total_seconds()
                since = (span[1] if span else 0.0) - back
            except ConfigError:
                since = _time(args.since, "--since")
        n = store.export_parquet(args.directory, since=since)
    print(f"wrote {n:,} event(s) to {args.directory} (Parquet, partitioned by day)")
    return 0


def _rejects(args: argparse.Namespace) -> int:
    with _open_store(args, must_exist=True) as store:
        rows = store.rejects(args.limit)
    for r in rows:
        print(f"{r.file}:{r.line}: {r.error}" + (f"\n    {r.text}" if r.text else ""))
    if not rows:
        print("no rejected lines")
    return 0
