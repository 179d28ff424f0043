"""Features as SQL: the only part of detection that reads every event.

Theory of operation. Detection looks at a *window* (``[start, end)``, by default the last
24 hours of data) against a *baseline* (``[base, start)``, by default the 14 days before).
The queries below reduce the events of both to small tables (one row per identity and
destination, per identity and hour, per identity and ten minutes, ...); the detectors
(the detectors package) are pure functions over those tables as Arrow. Events are read only here.

The SQL is plain: aggregates with ``FILTER``, ``lag`` over a window, ``quantile_cont`` and
``median``, arithmetic on epoch seconds. It runs on DuckDB as is and on Spark SQL as :func:`render`
makes it (``quantile_cont`` is ``percentile``, ``list(DISTINCT x)`` is ``collect_set(x)``,
placeholders are ``:name``): one definition, two dialects.
Parameters (the window's bounds, thresholds) are bound, never formatted into the text:
:func:`render` returns the query with ``$name`` placeholders and the values to bind (DuckDB's
named parameters; Spark's ``:name`` is the same shape). A value that is not a finite number
is refused before any query runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from zerotls.errors import ConfigError

if TYPE_CHECKING:
    import duckdb

__all__ = ["DIALECTS", "QUERIES", "Settings", "Window", "compute", "render", "sorted_table"]


@dataclass(frozen=True, slots=True)
class Window:
    """The period judged and the baseline it is judged against (epoch seconds)."""

    start: float
    end: float
    base: float

    @property
    def hours(self) -> float:
        return max((self.end - self.start) / 3600.0, 1e-9)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Detection thresholds. The defaults are what the benchmark was tuned with."""

    beacon_min_connections: int = 12
    """A pair needs this many connections in the window to be scored as a beacon."""
    beacon_threshold: float = 0.6
    """Beacon score (0..1, after the popularity adjustment) from which a pair is reported."""
    volume_threshold: float = 4.0
    """Robust z-score (log bytes) from which an hour's volume is reported."""
    volume_min_bytes: int = 5_000_000
    """Hours that sent less than this are never reported as a spike."""
    new_destination_threshold: float = 0.3
    """Score (org-wide rarity x the identity's stability) from which a new destination is
    reported."""
    long_connection_seconds: float = 4 * 3600.0
    """Connections at least this long are candidates (and longer than 3x the identity's
    99th percentile)."""
    probe_min_failures: int = 10
    """Failed connections (denied, handshake failed, refused) in ten minutes to be reported."""
    rare_cipher_share: float = 0.001
    """A cipher used by fewer than this share of TLS connections (and by at most two
    identities) is rare."""
    outlier_threshold: float = 0.99
    """An identity-hour is an outlier from this quantile of its group's baseline anomaly
    scores on (IsolationForest saturates: an extreme hour scores barely above the baseline's
    own extremes, so the quantile cannot be much higher), and only when a feature is also
    three robust deviations from the group's median at that hour."""
    outlier_min_rows: int = 48
    """Identity groups with fewer baseline hours than this are pooled into one."""
    alert_floor: float = 0.25
    """Severity below which a finding that its own explanation discounted (a volume spike
    to where others send as much) is noted, not alerted. Noted findings are in
    ``Result.unusual``, with statistical outliers that no other detector corroborates;
    0 alerts on every discounted finding."""
    fanout_admin_hosts: int = 5
    """New hosts (reached by nobody in the baseline) on a remote-administration port (SMB,
    WinRM, RDP, SSH ...) in one hour from which the fan-out detector reports."""
    fanout_other_hosts: int = 10
    """The same on any other port (web, DNS and NTP are left out: new hosts all day)."""
    random_state: int = 0
    """Seed of the IsolationForest, so runs are reproducible."""


DIALECTS: Final = ("duckdb", "spark")

_SPARK_RENAMES: Final = (
    ("quantile_cont(", "percentile("),  # both interpolate linearly between ranks
    ("list(DISTINCT ", "collect_set("),
)


def render(
    sql: str, window: Window, settings: Settings, dialect: str = "duckdb"
) -> tuple[str, dict[str, Any]]:
    """A query in ``dialect`` and the parameters it binds (``$start`` in DuckDB, ``:start``
    in Spark SQL; ``$end``, ``$base`` and the settings likewise).

    One definition per query (:data:`QUERIES`, written for DuckDB); Spark gets it with two
    function renames and its own placeholder spelling, so the two engines cannot drift.

    Raises:
        ConfigError: a bound or setting is not a finite number, or an unknown dialect.
    """
    if dialect not in DIALECTS:
        raise ConfigError(f"unknown SQL dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    values: dict[str, Any] = {
        "start": float(window.start),
        "end": float(window.end),
        "base": float(window.base),
        "beacon_min": int(settings.beacon_min_connections),
        "long_min": float(settings.long_connection_seconds),
        "volume_min": float(settings.volume_min_bytes),
    }
    for name, value in values.items():
        if not math.isfinite(value):
            raise ConfigError(f"the detection {name} is {value!r}: it must be a finite number")
    used = {name: value for name, value in values.items() if f"${name}" in sql}
    if dialect == "spark":
        for name in used:
            sql = sql.replace(f"${name}", f":{name}")
        for old, new in _SPARK_RENAMES:
            sql = sql.replace(old, new)
    return sql, used


def sorted_table(table: Any) -> Any:
    """A feature table in one order whatever the engine (by every non-list column), so the
    detectors see the same rows in the same order from DuckDB and from Spark."""
    import pyarrow as pa

    keys = [
        (f.name, "ascending")
        for f in table.schema
        if not pa.types.is_list(f.type) and not pa.types.is_large_list(f.type)
    ]
    return table.sort_by(keys) if keys and table.num_rows else table


_FAILED: Final = "(outcome <> 'ok' OR decision IN ('deny', 'shadow-deny'))"

QUERIES: Final[dict[str, str]] = {
    # One row per (identity, destination) seen in baseline or window: novelty and reach.
    "pairs": """
SELECT identity, dst_host AS dst,
       min(ts) AS first_seen, max(ts) AS last_seen,
       count(*) FILTER (WHERE ts < $start) AS n_base,
       count(*) FILTER (WHERE ts >= $start) AS n_window,
       CAST(coalesce(sum(bytes_out) FILTER (WHERE ts >= $start), 0) AS DOUBLE) AS out_window,
       CAST(coalesce(sum(bytes_in) FILTER (WHERE ts >= $start), 0) AS DOUBLE) AS in_window,
       min(dst_port) AS port
FROM events
WHERE ts >= $base AND ts < $end AND outcome = 'ok' AND identity IS NOT NULL
GROUP BY identity, dst_host
""",
    # One row per (identity, hour): volume, ratio and the outlier features.
    "hourly": """
SELECT identity, floor(ts / 3600) AS hour,
       CAST(sum(bytes_out) AS DOUBLE) AS out_bytes, CAST(sum(bytes_in) AS DOUBLE) AS in_bytes,
       count(*) AS conns,
       count(DISTINCT dst_host) AS dsts,
       count(*) FILTER (WHERE """
    + _FAILED
    + """) AS failed,
       avg(duration) AS mean_duration
FROM events
WHERE ts >= $base AND ts < $end AND identity IS NOT NULL
GROUP BY identity, floor(ts / 3600)
""",
    # Per (identity, destination, hour) in the window that sent at least volume_min there,
    # with the identity's own baseline there: its hours there and its most in one of them.
    # Only pairs with such an hour are looked up in the baseline, so the table stays small.
    "pair_hours": """
WITH big AS (
  SELECT identity, dst_host AS dst, floor(ts / 3600) AS hour,
         CAST(sum(bytes_out) AS DOUBLE) AS out_bytes, CAST(sum(bytes_in) AS DOUBLE) AS in_bytes,
         count(*) AS conns
  FROM events
  WHERE ts >= $start AND ts < $end AND outcome = 'ok' AND identity IS NOT NULL
    AND dst_host IS NOT NULL
  GROUP BY identity, dst_host, floor(ts / 3600)
  HAVING sum(bytes_out) >= $volume_min
), own AS (
  SELECT identity, dst, count(*) AS base_hours, CAST(max(b) AS DOUBLE) AS base_max
  FROM (
    SELECT e.identity, e.dst_host AS dst, floor(e.ts / 3600) AS hour, sum(e.bytes_out) AS b
    FROM events e
    JOIN (SELECT DISTINCT identity, dst FROM big) p
      ON e.identity = p.identity AND e.dst_host = p.dst
    WHERE e.ts >= $base AND e.ts < $start AND e.outcome = 'ok'
    GROUP BY e.identity, e.dst_host, floor(e.ts / 3600)
  ) b
  GROUP BY identity, dst
)
SELECT big.identity, big.dst, big.hour, big.out_bytes, big.in_bytes, big.conns,
       coalesce(own.base_hours, 0) AS base_hours, coalesce(own.base_max, 0) AS base_max
FROM big LEFT JOIN own ON own.identity = big.identity AND own.dst = big.dst
""",
    # Beaconing: gaps between a pair's connections and the sizes sent, in the window.
    "beacon": """
WITH w AS (
  SELECT identity, dst_host AS dst, ts, bytes_out, duration, dst_port, proto,
         ts - lag(ts) OVER (PARTITION BY identity, dst_host ORDER BY ts) AS gap
  FROM events
  WHERE ts >= $start AND ts < $end AND outcome = 'ok' AND identity IS NOT NULL
),
s AS (
  SELECT identity, dst, count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts,
         quantile_cont(gap, 0.25) AS gap_q1, quantile_cont(gap, 0.5) AS gap_q2,
         quantile_cont(gap, 0.75) AS gap_q3,
         quantile_cont(bytes_out, 0.25) AS size_q1, quantile_cont(bytes_out, 0.5) AS size_q2,
         quantile_cont(bytes_out, 0.75) AS size_q3,
         count(DISTINCT floor(ts / 3600)) AS hours_seen,
         avg(duration) AS mean_duration,
         mode(dst_port) AS port, mode(proto) AS proto
  FROM w GROUP BY identity, dst HAVING count(*) >= $beacon_min
)
SELECT s.*, m.gap_madm, m.size_madm
FROM s JOIN (
  SELECT w.identity, w.dst,
         median(abs(w.gap - s.gap_q2)) AS gap_madm,
         median(abs(w.bytes_out - s.size_q2)) AS size_madm
  FROM w JOIN s ON w.identity = s.identity AND w.dst = s.dst
  GROUP BY w.identity, w.dst
) m ON m.identity = s.identity AND m.dst = s.dst
""",
    # Long connections in the window, and each identity's usual durations.
    "long": """
SELECT identity, dst_host AS dst, ts, duration, bytes_out, bytes_in, dst_port
FROM events
WHERE ts >= $start AND ts < $end AND duration >= $long_min AND identity IS NOT NULL
""",
    "durations": """
SELECT identity, quantile_cont(duration, 0.99) AS p99, max(duration) AS longest, count(*) AS n
FROM events
WHERE ts >= $base AND ts < $start AND identity IS NOT NULL
GROUP BY identity
""",
    # Failed attempts per identity and ten minutes (probing), baseline and window.
    "failures": """
SELECT identity, floor(ts / 600) AS slot,
       count(*) AS failed,
       count(DISTINCT dst_host) AS hosts,
       count(DISTINCT dst_port) AS ports,
       count(*) FILTER (WHERE outcome = 'denied' OR decision IN ('deny', 'shadow-deny'))
         AS denied,
       count(*) FILTER (WHERE outcome = 'handshake_failed') AS handshake_failed,
       count(*) FILTER (WHERE outcome = 'rejected') AS refused
FROM events
WHERE ts >= $base AND ts < $end AND identity IS NOT NULL AND """
    + _FAILED
    + """
GROUP BY identity, floor(ts / 600)
""",
    # TLS versions and ciphers used in the window, and how common each cipher is overall.
    "tls": """
SELECT identity, dst_host AS dst, tls_version, cipher, count(*) AS n,
       min(ts) AS first_ts, max(ts) AS last_ts
FROM events
WHERE ts >= $start AND ts < $end AND identity IS NOT NULL
  AND (tls_version IS NOT NULL OR cipher IS NOT NULL)
GROUP BY identity, dst_host, tls_version, cipher
""",
    # Per identity, hour and port: destination hosts nobody reached on that port in the
    # baseline (a monitoring server polling every host's agent does not make SMB to it known).
    "reach": """
WITH known AS (
  SELECT DISTINCT dst_host, dst_port FROM events
  WHERE ts >= $base AND ts < $start AND dst_host IS NOT NULL
), w AS (
  SELECT identity, dst_host, dst_port, outcome, floor(ts / 3600) AS hour
  FROM events
  WHERE ts >= $start AND ts < $end AND identity IS NOT NULL AND dst_host IS NOT NULL
    AND dst_port IS NOT NULL AND dst_port NOT IN (53, 80, 123, 443, 853, 5353)
)
SELECT w.identity, w.hour, w.dst_port AS port,
       count(DISTINCT w.dst_host) AS new_hosts,
       count(DISTINCT w.dst_host) FILTER (WHERE w.outcome = 'ok') AS answered,
       list(DISTINCT w.dst_host) AS hosts
FROM w LEFT JOIN known k ON k.dst_host = w.dst_host AND k.dst_port = w.dst_port
WHERE k.dst_host IS NULL
GROUP BY w.identity, w.hour, w.dst_port
HAVING count(DISTINCT w.dst_host) >= 3
""",
    "ciphers": """
SELECT cipher, count(*) AS n, count(DISTINCT identity) AS identities
FROM events
WHERE ts >= $base AND ts < $end AND cipher IS NOT NULL
GROUP BY cipher
""",
}


def compute(con: duckdb.DuckDBPyConnection, window: Window, settings: Settings) -> dict[str, Any]:
    """Run every query for the window; returns name -> ``pyarrow.Table``."""
    cursor = con.cursor()  # its own result state: the caller's last statement may be unread
    try:
        tables = {}
        for name, sql in QUERIES.items():
            query, params = render(sql, window, settings)
            tables[name] = sorted_table(cursor.sql(query, params=params).to_arrow_table())
        return tables
    finally:
        cursor.close()
