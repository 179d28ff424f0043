"""Ingest on Apache Spark: Zeek logs and the tunnel's audit logs straight from a log lake into
the Parquet event layout.

``zerotls monitor ingest --engine spark PATH... --to DIR`` reads Zeek ``conn.log`` and
``ssl.log`` (TSV with its ``#fields`` header, or JSON Lines; plain or ``.gz``, which Spark's
text reader decompresses itself) with Spark's readers, normalizes them into the one event
schema (:data:`~zerotls.monitor.schema.EVENT_COLUMNS`) with the same SQL as the DuckDB path
(:mod:`zerotls.monitor.readers.zeek`), and writes Parquet partitioned by day
(``DIR/day=YYYY-MM-DD/``): the layout ``detect --engine spark --events DIR`` reads and
``zerotls monitor ingest DIR`` imports.

Theory of operation. The driver lists the files (a directory tree oldest first, like the
store) and reads only each file's first bytes, to learn its format and, for TSV, its field
names, separator and unset marker (:func:`~zerotls.monitor.readers.formats.sniff`). The
lines are read by the JVM's text reader and parsed with Spark SQL functions; a file in which
any line is bad is read a second time with every line numbered (``zipWithIndex``, through
Python workers, slower), so that a bad line is reported with its file and line number: a
line with the wrong number of fields, a time that is not a time, a missing required field,
a number that does not parse, or a time or duration the store would quarantine (not finite,
before 1990, in the future; a negative duration) is written to ``DIR/_rejects/`` (JSON:
file, line, error, text) and counted, never dropped silently and never fatal. Connections
are joined to ``ssl.log`` records by ``uid`` for the server name, version and cipher.

Idempotent: events keep the DuckDB path's stable keys (``zeek:UID``). A day partition that
already holds events is read, merged with the new ones, de-duplicated on the key and
replaced, so reading the same files again, or an overlapping set, adds nothing twice.
The tunnel's audit log (JSON Lines) is read the same way, with the DuckDB path's checks and
its mapping SQL (:func:`~zerotls.monitor.readers.audit.zerotls_select`, written in what both
dialects share); its events keep their keys (``zt:CONN_ID:TIME``). Suricata EVE too: flows
through the conn.log mapping, ``tls`` events joined by ``flow_id`` for the server name
(:func:`~zerotls.monitor.readers.suricata.eve_select`). Flow CSV with the DuckDB path's types,
null markers and quoting, and its mapping SQL
(:func:`~zerotls.monitor.readers.flow_csv.csv_select`): its keys hash the start as whole
microseconds, which both engines spell alike.
"""

# ruff: noqa: S608
# SQL text here is built only from our own column names, type names, view names and numbers
# we format; what comes from a file (its path, Zeek's separator and unset markers) is passed
# as a named parameter (:path, :sep, :unset, :empty), never spliced into the text.

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from zerotls.errors import ConfigError
from zerotls.monitor.readers.audit import _ZEROTLS_FIELDS, zerotls_select
from zerotls.monitor.readers.flow_csv import csv_columns, csv_select
from zerotls.monitor.readers.formats import (
    ZEEK_CONN_REQUIRED,
    Format,
    Header,
    sniff,
)
from zerotls.monitor.readers.suricata import (
    _EVE_FIELDS,
    _FLOW,
    _flow_field,
    eve_checks,
    eve_select,
    eve_tls,
)
from zerotls.monitor.readers.zeek import _ZEEK_CONN_FIELDS as _CONN_FIELDS
from zerotls.monitor.readers.zeek import _ZEEK_CONN_SELECT
from zerotls.monitor.schema import EVENT_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkIngestReport", "spark_ingest"]

HEAD_BYTES: Final = 64 * 1024

# The types of the conn.log fields the events use (everything else stays text).
_CONN_TYPES: Final = {
    "ts": "DOUBLE",
    "id.orig_p": "INT",
    "id.resp_p": "INT",
    "duration": "DOUBLE",
    "orig_bytes": "BIGINT",
    "resp_bytes": "BIGINT",
}
_SPARK_TYPES: Final = {"VARCHAR": "STRING", "INTEGER": "INT"}
"""Spark's names for the DuckDB types that it spells otherwise."""
_SSL_FIELDS: Final = ("uid", "server_name", "version", "cipher", "established")
SPARK_JSON: Final = "get_json_object"
"""Spark's name for DuckDB's json_extract_string (same arguments)."""
_SPARK_TS: Final = "coalesce(try_cast({v} AS DOUBLE), unix_micros(try_to_timestamp({v})) / 1e6)"
"""Epoch seconds from a number or an RFC 3339 time, in Spark SQL (DuckDB: readers/staging)."""


def _time_checks(ts: str, duration: str | None, *, when: str = "true") -> list[tuple[str, str]]:
    """The store's quarantine (``Store._quarantine``) as bad-line checks, for a line whose
    time ``ts`` (epoch seconds, SQL) parsed: not finite, before 1990, more than the clock
    skew in the future, or a ``duration`` (seconds, SQL, NULL allowed) that is not a finite,
    non-negative number. Here the line is still known, so it is reported with its number.
    Messages are plain text (:func:`_lit` makes them SQL). ``when`` limits the checks to
    the lines that are events (EVE flow records)."""
    from zerotls.monitor.store import EARLIEST_TS, FUTURE_SKEW

    latest = repr(float(time.time() + FUTURE_SKEW))  # a number we format, never file text
    # NaN compares above infinity in Spark: "not (abs < inf)" is "not finite".
    checks = [
        (f"{when} AND NOT (abs({ts}) < double('Infinity'))", "field ts is not a finite time"),
        (
            f"{when} AND {ts} > {latest}",
            "field ts is in the future (more than 10 min after the ingest time): "
            "quarantined, so it cannot move the detection window; check the sensor's clock",
        ),
        (
            f"{when} AND {ts} < {EARLIEST_TS!r}",
            "field ts is before 1990: quarantined (is it in milliseconds or a counter?)",
        ),
    ]
    if duration is not None:
        checks.append(
            (
                f"{when} AND ({duration}) IS NOT NULL "
                f"AND NOT (({duration}) >= 0 AND ({duration}) < double('Infinity'))",
                "field duration is not a finite, non-negative number of seconds",
            )
        )
    return checks


@dataclass(frozen=True, slots=True)
class SparkFile:
    """One input file as the Spark ingest saw it."""

    path: str
    fmt: str
    lines: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class SparkIngestReport:
    """What one Spark ingest wrote."""

    files: tuple[SparkFile, ...]
    added: int
    """Events new to ``DIR`` (after de-duplication against what it held)."""
    events: int
    """Events ``DIR`` holds in the days this run touched."""
    rejected: int
    rejects: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """The first bad lines (file, line, error, text); all of them are in ``DIR/_rejects``."""
    days: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)


_SPARK_FORMATS: Final = (
    Format.ZEEK_CONN,
    Format.ZEEK_SSL,
    Format.ZEROTLS,
    Format.SURICATA_EVE,
    Format.CSV,
)

Plan = list[tuple[Path, Header]]
"""The input files, each with its sniffed header."""


def plan_inputs(paths: list[str | Path]) -> Plan:
    """The files under ``paths`` and their formats, checked before any Spark job starts.

    Raises:
        ConfigError: a path that does not exist, no log file at all, or a format without a
            Spark reader (the message says how to bring it in).
    """
    files = _list(paths)
    if not files:
        raise ConfigError("no log files under " + ", ".join(str(p) for p in paths))
    plan: Plan = []
    for path in files:
        header = _sniff(path)
        if header.fmt not in _SPARK_FORMATS:
            raise ConfigError(
                f"{path}: a {header.fmt} file; the Spark ingest reads Zeek conn.log and "
                "ssl.log (TSV or JSON, plain or .gz), Suricata EVE, flow CSV and the zerotls "
                "audit log (JSON Lines). Read the others with `zerotls monitor ingest` into a "
                "store, then `zerotls monitor export DIR`, the same layout"
            )
        plan.append((path, header))
    return plan


def spark_ingest(
    paths: list[str | Path], to: str | Path, session: SparkSession, *, plan: Plan | None = None
) -> SparkIngestReport:
    """Read Zeek logs with Spark into ``to`` as day-partitioned Parquet events.

    Args:
        paths: files and directories.
        plan: what :func:`plan_inputs` already made of ``paths`` (not made again).

    Raises:
        ConfigError: a path that does not exist, a format without a Spark reader, a file
            Spark cannot read, or an output directory that is not a local path.
    """
    started = time.perf_counter()
    out = Path(to)
    if "://" in str(to) and not str(to).startswith("file://"):
        raise ConfigError(
            f"--to {to}: the Spark ingest merges day partitions in place, which it does on a "
            "local or mounted directory only; write there and copy the result to object storage"
        )
    plan = plan if plan is not None else plan_inputs(paths)
    with tempfile.TemporaryDirectory(prefix="zerotls-spark-links-") as tmp:
        return _ingest(session, plan, out, Path(tmp), started)


def _ingest(
    session: SparkSession, plan: Plan, out: Path, links: Path, started: float
) -> SparkIngestReport:
    conns: list[DataFrame] = []
    ssls: list[DataFrame] = []
    audits: list[DataFrame] = []
    eves: list[DataFrame] = []
    rejects: list[DataFrame] = []
    counted: list[DataFrame] = []
    for path, header in plan:
        parse = {
            Format.ZEROTLS: _parse_audit,
            Format.SURICATA_EVE: _parse_eve,
            Format.CSV: _parse_csv,
        }.get(header.fmt, _parse)
        parsed, bad, lines = parse(session, path, header, links, numbered=False)
        if bad.limit(1).count():  # bad lines: read the file again, numbered, for them
            bad = parse(session, path, header, links, numbered=True)[1]
        kinds = {Format.ZEEK_CONN: conns, Format.ZEEK_SSL: ssls, Format.SURICATA_EVE: eves}
        kinds.get(header.fmt, audits).append(parsed)
        rejects.append(bad)
        counted.append(lines)
    zeek = _normalize(session, conns, ssls, _union(eves)) if conns or ssls or eves else None
    events = _union([f for f in (zeek, _union(audits)) if f is not None])
    assert events is not None  # noqa: S101 - a plan holds at least one file
    bad_lines = _union(rejects)
    rejected = bad_lines.count() if bad_lines is not None else 0
    if bad_lines is not None and rejected:
        _keep_rejects(session, bad_lines, out)
    added, total, days = _merge(session, events, out)
    every = _union(counted)
    counts = {r["file"]: int(r["lines"]) for r in every.collect()} if every is not None else {}
    bad_by_file: dict[str, int] = {}
    first_rejects: list[dict[str, Any]] = []
    if bad_lines is not None and rejected:
        for r in bad_lines.groupBy("file").count().collect():
            bad_by_file[r["file"]] = int(r["count"])
        first_rejects = [r.asDict() for r in bad_lines.orderBy("file", "line").limit(20).collect()]
    return SparkIngestReport(
        files=tuple(
            SparkFile(str(p), str(h.fmt), counts.get(str(p), 0), bad_by_file.get(str(p), 0))
            for p, h in plan
        ),
        added=added,
        events=total,
        rejected=rejected,
        rejects=tuple(first_rejects),
        days=tuple(days),
        seconds=time.perf_counter() - started,
    )


def _list(paths: list[str | Path]) -> list[Path]:
    from zerotls.monitor.store import _expand

    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise ConfigError(f"no such file or directory: {', '.join(missing)}")
    files: dict[Path, Path] = {}
    for p in _expand(paths):
        if not p.name.startswith("_"):
            files.setdefault(p.resolve(), p)  # a file named twice is read once
    return list(files.values())


def _sniff(path: Path) -> Header:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                head = f.read(HEAD_BYTES)
        else:
            with path.open("rb") as f:
                head = f.read(HEAD_BYTES)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return sniff(head, str(path))


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _lines(session: SparkSession, path: Path, links: Path, *, numbered: bool) -> DataFrame:
    """Every line of a file (gzip decompressed by Spark), with its 1-based number when
    ``numbered`` (a pass through Python workers: only for files that have bad lines)."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    try:
        if not numbered:  # the JVM's own reader: no Python on the executors
            return session.read.text(_hadoop_name(path, links)).selectExpr(
                "value AS text", "CAST(NULL AS BIGINT) AS line"
            )
        rdd = session.sparkContext.textFile(_hadoop_name(path, links)).zipWithIndex()
        frame = session.createDataFrame(
            rdd.map(lambda pair: (pair[0], pair[1] + 1)),
            StructType([StructField("text", StringType()), StructField("line", LongType())]),
        )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"Spark cannot read {path}: {first[:300]}") from None
    return frame


def _hadoop_name(path: Path, links: Path) -> str:
    """A name Hadoop can open for ``path``.

    Hadoop's paths cannot hold ':' (Zeek's archives are named conn.00:00:00-01:00:00.log.gz),
    so such a file is read through a symbolic link with a plain name in ``links`` (the run's
    private directory; the suffix is kept, so that the gzip codec is still chosen).
    """
    real = path.resolve()
    if ":" not in str(real):
        return str(real)
    suffix = ".gz" if real.name.endswith(".gz") else ".log"
    link = links / f"{len(list(links.iterdir()))}{suffix}"
    link.symlink_to(real)
    return str(link)


def _parse(
    session: SparkSession, path: Path, header: Header, links: Path, *, numbered: bool
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(the parsed records, the rejected lines, the count of records) of one Zeek file."""
    view = f"zt_lines_{uuid.uuid4().hex}"
    _lines(session, path, links, numbered=numbered).createOrReplaceTempView(view)
    wanted = _CONN_FIELDS if header.fmt is Format.ZEEK_CONN else ("ts", *_SSL_FIELDS)
    required = list(ZEEK_CONN_REQUIRED) if header.fmt is Format.ZEEK_CONN else ["ts", "uid"]
    if header.text == "tsv":
        position = {name: i for i, name in enumerate(header.fields)}
        nulls = ":unset, :empty"
        raw = {
            name: (
                f"CASE WHEN element_at(f, {position[name] + 1}) IN ({nulls}) THEN NULL "
                f"ELSE element_at(f, {position[name] + 1}) END"
                if name in position
                else "CAST(NULL AS STRING)"
            )
            for name in wanted
        }
        split = "split(text, :sep, -1)"
        source = (
            f"(SELECT line, text, {split} AS f FROM {view} "
            "WHERE NOT startswith(text, '#') AND length(trim(text)) > 0)"
        )
        shape = f"size(f) <> {len(header.fields)}"
        shape_error = f"concat('expected {len(header.fields)} fields, found ', size(f))"
    else:
        # Every field read as text (numbers keep their spelling) and cast below, so that a
        # field of the wrong type is reported, as in the DuckDB path.
        ddl = ", ".join(f"{_q(name)} STRING" for name in wanted)
        raw = {name: f"j.{_q(name)}" for name in wanted}
        source = (
            f"(SELECT line, text, from_json(text, {_lit(ddl)}) AS j FROM {view} "
            "WHERE length(trim(text)) > 0)"
        )
        shape = "get_json_object(text, '$') IS NULL"
        shape_error = "'not a JSON object'"
    # Time: epoch seconds, or ISO 8601 in Zeek's JSON (use_json_iso8601).
    ts = _SPARK_TS.format(v=raw["ts"])
    checks = [(shape, shape_error)]
    checks += [(f"({raw[r]}) IS NULL", f"'field {r} is missing'") for r in required if r in raw]
    checks.append((f"{ts} IS NULL", "'field ts is not a time'"))
    if header.fmt is Format.ZEEK_CONN:
        duration = f"try_cast({raw['duration']} AS DOUBLE)"
        checks += [(c, _lit(m)) for c, m in _time_checks(ts, duration)]
        checks += [
            (
                f"({raw[name]}) IS NOT NULL AND try_cast({raw[name]} AS {kind}) IS NULL",
                f"'field {name} is not {'a number' if kind != 'DOUBLE' else 'a decimal number'}'",
            )
            for name, kind in _CONN_TYPES.items()
            if name != "ts"
        ]
    error = "CASE " + " ".join(f"WHEN {c} THEN {e}" for c, e in checks) + " END"
    args: dict[str, Any] = {"path": str(path)}
    if header.text == "tsv":
        args |= {
            "sep": re.escape(header.separator),
            "unset": header.unset,
            "empty": header.empty,
        }
    judged = session.sql(f"SELECT line, text, {error} AS error, * FROM {source}", args=args)
    judged_view = f"zt_judged_{uuid.uuid4().hex}"
    judged.createOrReplaceTempView(judged_view)
    bad = session.sql(
        f"SELECT :path AS file, line, error, substring(text, 1, 500) AS text "
        f"FROM {judged_view} WHERE error IS NOT NULL",
        args=args,
    )
    if header.fmt is Format.ZEEK_CONN:
        cols = ", ".join(
            [
                f"{ts} AS ts",
                f"{raw['uid']} AS uid",
                f"{raw['id.orig_h']} AS orig_h",
                f"try_cast({raw['id.orig_p']} AS INT) AS orig_p",
                f"{raw['id.resp_h']} AS resp_h",
                f"try_cast({raw['id.resp_p']} AS INT) AS resp_p",
                f"{raw['proto']} AS proto",
                f"try_cast({raw['duration']} AS DOUBLE) AS duration",
                f"try_cast({raw['orig_bytes']} AS BIGINT) AS orig_bytes",
                f"try_cast({raw['resp_bytes']} AS BIGINT) AS resp_bytes",
                f"{raw['conn_state']} AS conn_state",
            ]
        )
    else:
        est = raw["established"]
        cols = ", ".join(
            [
                f"{raw['uid']} AS uid",
                f"{raw['server_name']} AS server_name",
                f"{raw['version']} AS version",
                f"{raw['cipher']} AS cipher",
                f"CASE lower({est}) WHEN 't' THEN true WHEN 'true' THEN true "
                f"WHEN 'f' THEN false WHEN 'false' THEN false END AS established",
            ]
        )
    good = session.sql(f"SELECT {cols} FROM {judged_view} WHERE error IS NULL", args=args)
    lines = session.sql(f"SELECT :path AS file, count(*) AS lines FROM {source}", args=args)
    return good, bad, lines


def _parse_json(
    session: SparkSession,
    path: Path,
    links: Path,
    fields: tuple[str, ...],
    checks: list[tuple[str, str]],
    *,
    numbered: bool,
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(the good records as a struct ``j`` per row, the rejected lines, the count of
    records) of a JSON Lines file: every field read as text, then the format's checks."""
    view = f"zt_lines_{uuid.uuid4().hex}"
    _lines(session, path, links, numbered=numbered).createOrReplaceTempView(view)
    ddl = ", ".join(f"{_q(name)} STRING" for name in fields)
    source = (
        f"(SELECT line, text, from_json(text, {_lit(ddl)}) AS j FROM {view} "
        "WHERE length(trim(text)) > 0)"
    )
    every = [("get_json_object(text, '$') IS NULL", "not a JSON object"), *checks]
    error = "CASE " + " ".join(f"WHEN {c} THEN {_lit(m)}" for c, m in every) + " END"
    args = {"path": str(path)}
    judged = f"zt_judged_{uuid.uuid4().hex}"
    session.sql(f"SELECT line, text, {error} AS error, j FROM {source}").createOrReplaceTempView(
        judged
    )
    bad = session.sql(
        f"SELECT :path AS file, line, error, substring(text, 1, 500) AS text "
        f"FROM {judged} WHERE error IS NOT NULL",
        args=args,
    )
    good = session.sql(f"SELECT j FROM {judged} WHERE error IS NULL")
    lines = session.sql(f"SELECT :path AS file, count(*) AS lines FROM {source}", args=args)
    return good, bad, lines


def _parse_audit(
    session: SparkSession, path: Path, _header: Header, links: Path, *, numbered: bool
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(the events, the rejected lines, the count of records) of one zerotls audit log: the
    same checks and the same mapping SQL as the DuckDB path (readers/audit.py)."""
    ts = _SPARK_TS.format(v="j.time")
    checks = [
        ("j.conn_id IS NULL", "field conn_id is missing"),
        (f"{ts} IS NULL", "field time is missing or not an RFC 3339 time"),
        *(
            (f"j.{name} IS NOT NULL AND try_cast(j.{name} AS {kind}) IS NULL",
             f"field {name} is not a number")
            for name, kind in (("bytes_in", "BIGINT"), ("bytes_out", "BIGINT"),
                               ("duration_ms", "DOUBLE"))
        ),
        *_time_checks(ts, "try_cast(j.duration_ms AS DOUBLE) / 1000.0"),
    ]  # fmt: skip
    good, bad, lines = _parse_json(session, path, links, _ZEROTLS_FIELDS, checks, numbered=numbered)
    ok = f"zt_ok_{uuid.uuid4().hex}"
    good.createOrReplaceTempView(ok)
    return _typed(session.sql(zerotls_select(_SPARK_TS, ok))), bad, lines


def _parse_eve(
    session: SparkSession, path: Path, _header: Header, links: Path, *, numbered: bool
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(the records, as a struct ``j`` each, the rejected lines, the count) of one Suricata
    EVE file; flows and TLS events are mapped once all files are read (see _normalize)."""
    start = _SPARK_TS.format(v=f"{SPARK_JSON}(j.flow, '$.start')")
    ts = f"coalesce({start}, {_SPARK_TS.format(v='j.timestamp')})"
    age = _flow_field("age", "DOUBLE", SPARK_JSON)
    checks = eve_checks(_SPARK_TS, SPARK_JSON) + _time_checks(ts, age, when=_FLOW)
    return _parse_json(session, path, links, _EVE_FIELDS, checks, numbered=numbered)


def _first_line(path: Path) -> str:
    """A file's first line (a CSV header row), as Spark's text reader gives it."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        line = f.readline()
    return line.rstrip(b"\r\n").decode("utf-8", "replace")


def _parse_csv(
    session: SparkSession, path: Path, header: Header, links: Path, *, numbered: bool
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(the events, the rejected lines, the count of records) of one flow CSV file: the
    DuckDB path's column types, null markers (empty and ``-``) and quoting, and its mapping
    SQL (:func:`~zerotls.monitor.readers.flow_csv.csv_select`)."""
    view = f"zt_lines_{uuid.uuid4().hex}"
    _lines(session, path, links, numbered=numbered).createOrReplaceTempView(view)
    columns = csv_columns(header)
    names = list(columns)
    # The DuckDB path's types for the numbers (ts is converted below, the rest stays text).
    numbers = {
        n: _SPARK_TYPES.get(t, t) for n, t in columns.items() if n != "ts" and t != "VARCHAR"
    }
    ddl = ", ".join(f"{_q(n)} STRING" for n in names)
    raw = {n: f"CASE WHEN c.{_q(n)} IN ('', '-') THEN NULL ELSE c.{_q(n)} END" for n in names}
    # Fields are counted outside quotes (a quoted name may hold the separator).
    count = "size(split(regexp_replace(text, :quoted, 'q'), :sep, -1))"
    source = (
        f"(SELECT line, text, {count} AS nf, "
        f"from_csv(text, {_lit(ddl)}, map('sep', :delim, 'quote', '\"', 'escape', '\"')) AS c "
        f"FROM {view} WHERE text <> :head AND length(trim(text)) > 0)"
    )
    ts_value = f"c.{_q('ts')}"  # ts is required by the header check (sniff)
    if header.ts_kind == "epoch":
        ts = f"try_cast({ts_value} AS DOUBLE)"
    else:
        ts = f"unix_micros(try_to_timestamp({ts_value})) / 1e6"
    checks = [
        (f"nf <> {len(names)}", f"concat('expected {len(names)} fields, found ', nf)"),
        (f"{ts} IS NULL", "'field ts is missing or not a time'"),
    ]
    duration = f"try_cast({raw['duration']} AS DOUBLE)" if "duration" in names else None
    checks += [(c, _lit(m)) for c, m in _time_checks(ts, duration)]
    for n, kind in numbers.items():
        what = "a decimal number" if kind == "DOUBLE" else "a number"
        checks.append(
            (
                f"({raw[n]}) IS NOT NULL AND try_cast({raw[n]} AS {kind}) IS NULL",
                f"'field {n} is not {what}'",
            )
        )
    error = "CASE " + " ".join(f"WHEN {c} THEN {e}" for c, e in checks) + " END"
    args: dict[str, Any] = {
        "path": str(path),
        "quoted": '"(?:[^"]|"")*"',
        "sep": re.escape(header.separator),
        "delim": header.separator,
        "head": _first_line(path),
    }
    judged = f"zt_judged_{uuid.uuid4().hex}"
    session.sql(
        f"SELECT line, text, {error} AS error, c FROM {source}", args=args
    ).createOrReplaceTempView(judged)
    bad = session.sql(
        f"SELECT :path AS file, line, error, substring(text, 1, 500) AS text "
        f"FROM {judged} WHERE error IS NOT NULL",
        args={"path": str(path)},
    )
    typed_cols = [f"{ts} AS ts"] + [
        f"CAST({raw[n]} AS {numbers.get(n, 'STRING')}) AS {_q(n)}" for n in names if n != "ts"
    ]
    typed = f"zt_csv_{uuid.uuid4().hex}"
    session.sql(
        f"SELECT {', '.join(typed_cols)} FROM {judged} WHERE error IS NULL"
    ).createOrReplaceTempView(typed)
    select = csv_select(names, ts="r.ts", ref=lambda n: f"r.{_q(n)}", source=typed)
    lines = session.sql(f"SELECT :path AS file, count(*) AS lines FROM {source}", args=args)
    return _typed(session.sql(select)), bad, lines


def _union(frames: list[DataFrame]) -> DataFrame | None:
    if not frames:
        return None
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


def _normalize(
    session: SparkSession,
    conns: list[DataFrame],
    ssls: list[DataFrame],
    eve: DataFrame | None = None,
) -> DataFrame:
    """Zeek connections and Suricata flows as events, each joined to the server names of
    its TLS records (Zeek ssl.log by uid, EVE tls events by flow_id)."""
    from pyspark.sql.types import BooleanType, StringType, StructField, StructType

    conn = _union(conns)
    eve_view = f"zt_eve_{uuid.uuid4().hex}"
    if eve is not None:
        eve.createOrReplaceTempView(eve_view)
        ssls = [*ssls, session.sql(eve_tls(SPARK_JSON, eve_view))]
    if conn is None and eve is None:
        raise ConfigError(
            "no Zeek conn.log among the inputs: ssl.log records only add server names to "
            "connections, so give the conn.log files too"
        )
    ssl = _union(ssls)
    if ssl is None:
        ssl = session.createDataFrame(
            [],
            StructType(
                [
                    StructField("uid", StringType()),
                    StructField("server_name", StringType()),
                    StructField("version", StringType()),
                    StructField("cipher", StringType()),
                    StructField("established", BooleanType()),
                ]
            ),
        )
    ssl.dropDuplicates(["uid"]).createOrReplaceTempView("zeek_ssl")
    frames = []
    if conn is not None:
        raw_view = f"zt_conn_{uuid.uuid4().hex}"
        conn.dropDuplicates(["uid"]).createOrReplaceTempView(raw_view)
        frames.append(_typed(session.sql(_ZEEK_CONN_SELECT.format(raw=raw_view))))
    if eve is not None:
        frames.append(_typed(session.sql(eve_select(_SPARK_TS, SPARK_JSON, eve_view))))
    out = _union(frames)
    assert out is not None  # noqa: S101 - conn or eve is there (checked above)
    return out


def _typed(frame: DataFrame) -> DataFrame:
    """The event columns in their order and types, with the day partition."""
    exprs = [
        f"CAST({_q(c.name)} AS {_SPARK_TYPES.get(c.sql_type, c.sql_type)}) AS {_q(c.name)}"
        for c in EVENT_COLUMNS
    ]
    exprs.append("date_format(from_unixtime(CAST(floor(ts) AS BIGINT)), 'yyyy-MM-dd') AS day")
    return frame.selectExpr(*exprs)


def _merge(session: SparkSession, events: DataFrame, out: Path) -> tuple[int, int, list[str]]:
    """Write ``events`` into ``out``: each touched day merged with what it held, de-duplicated.

    Returns (events added, events in the touched days, the touched days).
    """
    events = events.dropDuplicates(["uid"]).cache()
    days = sorted(r["day"] for r in events.select("day").distinct().collect())
    existing = [d for d in days if (out / f"day={d}").is_dir()]
    merged = events
    before = 0
    if existing:
        old = session.read.parquet(*(str(out / f"day={d}") for d in existing))
        old = old.selectExpr(
            *(_q(c.name) for c in EVENT_COLUMNS),
            "CAST(NULL AS STRING) AS day",
        )
        # The partition value is the directory name; recompute it from ts, as for new rows.
        old = _typed(old)
        before = old.count()
        merged = old.unionByName(events).dropDuplicates(["uid"])
    staging = out / f"_staging-{uuid.uuid4().hex}"
    merged.repartition("day").sortWithinPartitions("ts").write.partitionBy("day").option(
        "compression", "zstd"
    ).parquet(str(staging))
    total = session.read.parquet(str(staging)).count()
    out.mkdir(parents=True, exist_ok=True)
    for d in days:
        target = out / f"day={d}"
        if target.exists():
            shutil.rmtree(target)
        (staging / f"day={d}").rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    events.unpersist()
    return total - before, total, days


def _keep_rejects(session: SparkSession, bad: DataFrame, out: Path) -> None:
    """Add this run's bad lines to ``out/_rejects`` (JSON), once per file and line."""
    target = out / "_rejects"
    merged = bad
    if target.is_dir() and any(target.glob("*.json")):
        merged = session.read.schema(bad.schema).json(str(target)).unionByName(bad)
    staging = out / f"_rejects-staging-{uuid.uuid4().hex}"
    merged.dropDuplicates(["file", "line"]).coalesce(1).write.json(str(staging))
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
