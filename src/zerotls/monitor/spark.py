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
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zerotls._util import atomic_write
from zerotls.errors import ConfigError
from zerotls.monitor.detectors._common import HOUR
from zerotls.monitor.features import QUERIES, Settings, Window, render, sorted_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DISTRIBUTE_FROM_CONF", "SparkEvents", "spark_session"]

DISTRIBUTE_FROM_CONF = "spark.zerotls.outlier.distributeFrom"
"""The Spark setting for :attr:`SparkEvents.distribute_from`."""


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
    conf = dict(conf or {})
    if master.startswith("local"):
        # A local session is this machine's business: its driver listens on loopback, not on
        # whatever interface the host name resolves to.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Its Python workers (the outlier forests run there) are this interpreter, which has
        # zerotls, not whatever `python3` is first on the PATH; on a cluster, PYSPARK_PYTHON
        # must name a Python that has zerotls[monitor] on every node.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName("zerotls-monitor")
        .master(master)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # The JVM's own INFO/WARN chatter stays out of the terminal: errors only, on stderr.
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_quiet_log4j()}")
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in conf.items():
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
appender.stderr.layout.alwaysWriteExceptions = false
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

    distribute_from: int = 100_000
    """Hourly rows from which the outlier detector's per-group forests are fitted on the
    executors (``groupBy("group").applyInArrow``) instead of on the driver; below it, a
    Spark job costs more than it saves. The session's ``spark.zerotls.outlier.distributeFrom``
    setting (``--spark-conf``) overrides it, the ``distribute_from`` argument both."""

    def __init__(
        self, path: str | Path, session: SparkSession, *, distribute_from: int | None = None
    ) -> None:
        self.path = str(path)
        self.session = session
        if distribute_from is None:
            setting = session.conf.get(DISTRIBUTE_FROM_CONF, None)
            if setting is not None:
                try:
                    distribute_from = int(setting)
                except ValueError:
                    raise ConfigError(
                        f"{DISTRIBUTE_FROM_CONF} must be a number of hourly rows, not {setting!r}"
                    ) from None
        if distribute_from is not None:
            self.distribute_from = distribute_from
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
        """Every feature query in Spark's dialect, each result as a sorted Arrow table.

        With at least :attr:`distribute_from` hourly rows, also ``outlier_scores``: every
        peer group scored by its own forest on the executors (see :meth:`outlier_scores`).
        """
        tables = {}
        frames = {}
        for name, sql in QUERIES.items():
            query, params = render(sql, window, settings, dialect="spark")
            frames[name] = self.session.sql(query, args=params)
            tables[name] = sorted_table(_as_duck_types(frames[name].toArrow()))
        if tables["hourly"].num_rows >= self.distribute_from:
            tables["outlier_scores"] = self.outlier_scores(
                frames["hourly"], tables["hourly"], window, settings
            )
        return tables

    def outlier_scores(
        self, hourly: Any, collected: Any, window: Window, settings: Settings
    ) -> Any:
        """The outlier detector's scoring, one peer group per task on the executors.

        Two phases, because the groups depend on the whole population: the driver assigns
        each identity its group from the baseline hours per identity (one row per identity;
        small groups are pooled), then the hourly rows, joined with that map, are grouped by
        group and each group's forest is fitted and applied where its rows are
        (``applyInArrow`` with :func:`~zerotls.monitor.detectors.outlier.score_group`, the
        function the DuckDB engine calls per group). Ranks are taken on the driver, over the
        scores of every group.

        Args:
            hourly: the hourly feature table as a Spark DataFrame.
            collected: the same table on the driver (Arrow), for the baseline counts.
        """
        import math
        from collections import Counter

        import pyarrow as pa
        from pyspark.sql import functions as sf

        from zerotls.monitor.detectors.outlier import SCORE_COLUMNS, assign_groups, score_group

        start_hour = math.floor(window.start / HOUR)
        baseline: Counter[str] = Counter()
        for identity, hour in zip(
            collected.column("identity").to_pylist(),
            collected.column("hour").to_pylist(),
            strict=True,
        ):
            baseline[identity] += int(hour < start_hour)
        group_of = assign_groups(dict(baseline), settings)
        groups = self.session.createDataFrame(
            pa.table({"identity": list(group_of), "group": list(group_of.values())})
        )
        rows = hourly.select(
            "identity", "hour", "out_bytes", "in_bytes", "conns", "dsts", "failed", "mean_duration"
        ).join(sf.broadcast(groups), "identity")

        def score(key: tuple[Any, ...], table: pa.Table) -> pa.Table:
            return score_group(table, str(key[0]), start_hour, settings)

        if not group_of:
            return score_group(collected, "*", start_hour, settings)  # no rows: empty
        schema = ", ".join(f"`{name}` {kind}" for name, kind in SCORE_COLUMNS)
        try:
            return rows.groupBy("group").applyInArrow(score, schema).toArrow()
        except Exception as exc:  # the executors' Python: one line, not a stack trace
            raise ConfigError(
                f"the Spark executors could not score the outlier detector's peer groups: "
                f"{_python_error(exc)}. Their Python (PYSPARK_PYTHON) needs "
                f"zerotls[monitor]; or fit the forests on the driver with --spark-conf "
                f"{DISTRIBUTE_FROM_CONF}=1000000000"
            ) from exc

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


def _python_error(exc: BaseException) -> str:
    """The last line of a Python worker's traceback (``ModuleNotFoundError: ...``), else
    the first line of the JVM's message."""
    text = str(exc).strip()
    errors = [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and ("Error: " in line or "Exception: " in line)
        and not line.lstrip().startswith(("at ", "org.apache", "pyspark.errors"))
    ]
    if errors:
        return errors[-1][:300]
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


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
