"""The zerotls tunnel's audit events (JSON Lines, docs/audit-log.md) as normalized events."""

# ruff: noqa: S608
# SQL text here is built only from our own column names, type names and numbers we format;
# nothing read from a log file ever becomes SQL text (DuckDB's readers parse the files, and
# paths and values are passed as parameters).

from __future__ import annotations

from typing import Final

from zerotls.monitor.readers.staging import _TS_SQL, _check, _typed
from zerotls.monitor.schema import tls_version_sql

# JSON fields, all read as text (VARCHAR) and cast in SQL so that a wrong type is reported.
_ZEROTLS_FIELDS: Final = (
    "time",
    "conn_id",
    "mode",
    "listener",
    "route",
    "target",
    "source",
    "sni",
    "spiffe_id",
    "identity",
    "tls_version",
    "cipher",
    "decision",
    "reason",
    "bytes_in",
    "bytes_out",
    "duration_ms",
    "close_reason",
    "error",
    "alert",
)


# The SQL below is written in what DuckDB and Spark SQL share (instr, left, split_part,
# try_cast, concat_ws), so the Spark ingest runs the same mapping (monitor/spark_ingest.py).


def _one_colon(addr: str) -> str:
    return f"(instr({addr}, ':') > 0 AND instr(substr({addr}, instr({addr}, ':') + 1), ':') = 0)"


def _host_of(addr: str) -> str:
    """SQL: the host part of ``ip:port`` / ``[v6]:port`` (the value itself without a port).
    String functions, not regular expressions: this runs for every audit event."""
    return (
        f"CASE WHEN left({addr}, 1) = '[' THEN substr({addr}, 2, instr({addr}, ']') - 2) "
        f"WHEN {_one_colon(addr)} THEN split_part({addr}, ':', 1) ELSE {addr} END"
    )


def _port_of(addr: str) -> str:
    """SQL: the port of ``ip:port`` / ``[v6]:port`` (NULL when there is none)."""
    return (
        f"CASE WHEN left({addr}, 1) = '[' "
        f"THEN try_cast(split_part({addr}, ']:', 2) AS INTEGER) "
        f"WHEN {_one_colon(addr)} THEN try_cast(split_part({addr}, ':', 2) AS INTEGER) END"
    )


_ZEROTLS_CHECKS: Final = " ".join(
    [
        _check("j.conn_id IS NULL", "field conn_id is missing"),
        _check(
            f"{_TS_SQL.format(v='j.time')} IS NULL",
            "field time is missing or not an RFC 3339 time",
        ),
        _typed("bytes_in", "BIGINT"),
        _typed("bytes_out", "BIGINT"),
        _typed("duration_ms", "DOUBLE"),
    ]
)

_SRC_HOST = _host_of("j.source")
_TARGET_HOST = _host_of("j.target")


def zerotls_select(ts_sql: str, source: str = "zt_ok") -> str:
    """The mapping of audit events (a struct ``j`` per row of ``source``) to events;
    ``ts_sql`` turns ``{v}`` (an RFC 3339 time) into epoch seconds in the engine's dialect."""
    return f"""
SELECT
  'zt:' || j.conn_id || ':' || j.time AS uid,
  {ts_sql.format(v="j.time")} AS ts,
  'zerotls' AS source,
  CASE WHEN j.mode = 'client' THEN {_SRC_HOST}
       ELSE coalesce(nullif(j.identity, ''), nullif(j.spiffe_id, ''), {_SRC_HOST}) END
    AS identity,
  {_SRC_HOST} AS src_ip,
  {_port_of("j.source")} AS src_port,
  CASE WHEN j.mode = 'client'
       THEN coalesce(nullif(j.sni, ''), {_TARGET_HOST}, j.route, j.listener)
       ELSE coalesce(nullif(j.sni, ''), j.route, {_TARGET_HOST}, j.listener) END AS dst_host,
  {_TARGET_HOST} AS dst_ip,
  {_port_of("j.target")} AS dst_port,
  'tcp' AS proto,
  coalesce(try_cast(j.bytes_in AS BIGINT), 0) AS bytes_out,
  coalesce(try_cast(j.bytes_out AS BIGINT), 0) AS bytes_in,
  coalesce(try_cast(j.duration_ms AS DOUBLE), 0) / 1000.0 AS duration,
  {tls_version_sql("j.tls_version")} AS tls_version,
  j.cipher AS cipher,
  j.decision AS decision,
  CASE WHEN j.decision = 'deny' THEN 'denied'
       WHEN j.close_reason = 'handshake_failed' THEN 'handshake_failed'
       WHEN j.close_reason IN ('backend_unreachable', 'error', 'limit') THEN 'failed'
       ELSE 'ok' END AS outcome,
  concat_ws(': ', j.close_reason, coalesce(CASE WHEN j.decision <> 'allow' THEN j.reason END,
            j.error, j.alert)) AS detail
FROM {source}
"""


_ZEROTLS_SELECT: Final = zerotls_select(_TS_SQL)
