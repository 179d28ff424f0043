"""Detection on Apache Spark: the same feature SQL and detectors over the Parquet export.

A fleet's logs do not fit one DuckDB file. ``zerotls monitor export`` (or any pipeline that
writes the same schema) leaves events as Parquet partitioned by day, which is the contract
between the engines: :class:`SparkEvents` reads that directory as the ``events`` view, runs
every feature query of ``zerotls.monitor.features`` in Spark's dialect (rendered from the one
definition, see :func:`~zerotls.monitor.features.render`), and hands the detectors the small
result tables as Arrow; the evidence queries of an alert run on Spark too. The detectors are
the same pure functions, so on the same events the two engines give the same alerts.

The session is whatever ``SparkSession.builder.master(...)`` takes: ``local[*]`` by
default, ``spark://host:7077``, or an existing session (a notebook, ``spark-submit``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zerotls._util import atomic_write
from zerotls.errors import ConfigError
from zerotls.monitor.features import QUERIES, Settings, Window, render, sorted_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SparkEvents", "spark_session"]


def spark_session(master: str = "local[*]", conf: dict[str, str] | None = None) -> SparkSession:
    """A Spark session for the monitor (UTC, quiet logs, no UI).

    Raises:
        ConfigError: pyspark is not installed, or Spark cannot start (no Java runtime, a
            master that cannot be reached); the message says what to do.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the Spark engine needs pyspark: pip install 'zerotls[spark]' (and a Java 17+ "
            "runtime, e.g. apt-get install default-jre-headless)"
        ) from None
    if master.startswith("local"):
        # A local session is this machine's business: its driver listens on loopback, not on
        # whatever interface the host name resolves to.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.appName("zerotls-monitor")
        .master(master)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # The JVM's own INFO/WARN chatter stays out of the terminal: errors only, on stderr.
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_quiet_log4j()}")
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM's own errors: one line, not a stack trace
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot start Spark with master {master!r}: {first[:300]}; check that a Java "
            "runtime is installed (java -version) and that the master is reachable"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = spark: %m%n
"""


def _quiet_log4j() -> str:
    path = Path(tempfile.gettempdir()) / "zerotls-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J:
        atomic_write(path, _LOG4J.encode())
    return str(path)


class SparkEvents:
    """Events in a Parquet directory (``day=YYYY-MM-DD/`` partitions), read by Spark.

    Args:
        path: the export directory (``zerotls monitor export DIR`` writes one).
        session: the Spark session to use (see :func:`spark_session`).
    """

    def __init__(self, path: str | Path, session: SparkSession) -> None:
        self.path = str(path)
        self.session = session
        try:
            frame = session.read.parquet(self.path)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"Spark cannot read events from {self.path}: {first[:300]}; give the "
                "directory `zerotls monitor export` wrote (day=YYYY-MM-DD/*.parquet)"
            ) from None
        frame.createOrReplaceTempView("events")

    def rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """One query with ``?`` parameters, its rows as tuples."""
        return [tuple(r) for r in self.session.sql(sql, args=list(params)).collect()]

    def features(self, window: Window, settings: Settings) -> dict[str, Any]:
        """Every feature query in Spark's dialect, each result as a sorted Arrow table."""
        tables = {}
        for name, sql in QUERIES.items():
            query, params = render(sql, window, settings, dialect="spark")
            tables[name] = sorted_table(
                _as_duck_types(self.session.sql(query, args=params).toArrow())
            )
        return tables

    def time_range(self) -> tuple[float, float] | None:
        import time

        from zerotls.monitor.store import EARLIEST_TS, FUTURE_SKEW

        # The same plausible range as the DuckDB store: a stray future line never moves the
        # default window.
        row = self.rows(
            "SELECT min(ts), max(ts) FROM events WHERE NOT isnan(ts) AND ts >= ? AND ts <= ?",
            [EARLIEST_TS, time.time() + FUTURE_SKEW],
        )
        if not row or row[0][0] is None:
            return None
        return float(row[0][0]), float(row[0][1])

    def count(self) -> int:
        return int(self.rows("SELECT count(*) FROM events", [])[0][0])


def _as_duck_types(table: Any) -> Any:
    """Spark's ``floor`` is a BIGINT where DuckDB's is a DOUBLE, and its integers are 64-bit;
    the detectors read Python numbers, so make the columns DuckDB's shape (doubles and ints
    compare equal either way, but sorting and hashing must agree)."""
    import pyarrow as pa

    columns = [
        column.cast(pa.float64())
        if pa.types.is_integer(field.type) and field.name in ("hour", "slot")
        else column
        for field, column in zip(table.schema, table.columns, strict=True)
    ]
    return pa.table(columns, names=table.schema.names)
