"""Zeek ``conn.log`` and ``ssl.log``, TSV (DuckDB's CSV reader) or JSON Lines."""

# ruff: noqa: S608
# SQL text here is built only from our own column names, type names and numbers we format;
# nothing read from a log file ever becomes SQL text (DuckDB's readers parse the files, and
# paths and values are passed as parameters).

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from zerotls.monitor.readers.formats import ZEEK_CONN_REQUIRED, Format, Header
from zerotls.monitor.readers.staging import (
    _TS_SQL,
    _check,
    _drop_rejects,
    _read_csv_sql,
    _rejects_sql,
    _typed,
)
from zerotls.monitor.schema import tls_version_sql

if TYPE_CHECKING:
    import duckdb

# JSON fields, all read as text (VARCHAR) and cast in SQL so that a wrong type is reported.
_ZEEK_CONN_FIELDS: Final = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
)
_ZEEK_SSL_FIELDS: Final = ("ts", "uid", "version", "cipher", "server_name", "established")


_REJECTED_CONN_STATES: Final = ("S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR")
"""Zeek conn_state values of a TCP attempt that never got an answer or was refused (for UDP,
S0 only means one-way traffic, which is normal)."""


# Spelled as ORs: DuckDB plans a long IN list as a join, which costs more per row here.
_REJECTED_TEST = "(" + " OR ".join(f"c.conn_state = '{s}'" for s in _REJECTED_CONN_STATES) + ")"

_ZEEK_CONN_SELECT: Final = (
    """
SELECT
  'zeek:' || c.uid AS uid,
  c.ts AS ts,
  'zeek' AS source,
  c.orig_h AS identity,
  c.orig_h AS src_ip,
  c.orig_p AS src_port,
  coalesce(nullif(s.server_name, ''), c.resp_h) AS dst_host,
  c.resp_h AS dst_ip,
  c.resp_p AS dst_port,
  c.proto AS proto,
  coalesce(c.orig_bytes, 0) AS bytes_out,
  coalesce(c.resp_bytes, 0) AS bytes_in,
  coalesce(c.duration, 0) AS duration,
  """
    + tls_version_sql("s.version")
    + """ AS tls_version,
  s.cipher AS cipher,
  NULL AS decision,
  CASE WHEN """
    + _REJECTED_TEST
    + """ AND c.proto = 'tcp' THEN 'rejected'
       WHEN s.established = false THEN 'handshake_failed'
       ELSE 'ok' END AS outcome,
  c.conn_state AS detail
FROM {raw} c LEFT JOIN zeek_ssl s ON s.uid = c.uid
"""
)

# Types DuckDB's CSV reader gives Zeek's TSV columns. Columns the monitor does not use are
# read as text, so a damaged value there does not cost the whole line.
_ZEEK_TSV_TYPES: Final = {
    "ts": "DOUBLE",
    "id.orig_p": "INTEGER",
    "id.resp_p": "INTEGER",
    "duration": "DOUBLE",
    "orig_bytes": "BIGINT",
    "resp_bytes": "BIGINT",
}


_ZEEK_CONN_JSON_CHECKS: Final = " ".join(
    [
        *(_check(f'j."{f}" IS NULL', f"field {f} is missing") for f in ZEEK_CONN_REQUIRED),
        _check(f"{_TS_SQL.format(v='j.ts')} IS NULL", "field ts is not a time"),
        _typed("id.orig_p", "INTEGER"),
        _typed("id.resp_p", "INTEGER"),
        _typed("duration", "DOUBLE"),
        _typed("orig_bytes", "BIGINT"),
        _typed("resp_bytes", "BIGINT"),
    ]
)
_ZEEK_CONN_JSON_SELECT: Final = _ZEEK_CONN_SELECT.format(
    raw="(SELECT "
    f"{_TS_SQL.format(v='j.ts')} AS ts, j.uid AS uid, "
    'j."id.orig_h" AS orig_h, try_cast(j."id.orig_p" AS INTEGER) AS orig_p, '
    'j."id.resp_h" AS resp_h, try_cast(j."id.resp_p" AS INTEGER) AS resp_p, '
    "j.proto AS proto, try_cast(j.duration AS DOUBLE) AS duration, "
    "try_cast(j.orig_bytes AS BIGINT) AS orig_bytes, "
    "try_cast(j.resp_bytes AS BIGINT) AS resp_bytes, j.conn_state AS conn_state "
    "FROM zt_ok)"
)
_ZEEK_SSL_JSON_CHECKS: Final = " ".join(
    [
        _check("j.uid IS NULL", "field uid is missing"),
        _typed("established", "BOOLEAN"),
    ]
)


def _load_zeek_tsv(
    con: duckdb.DuckDBPyConnection,
    header: Header,
    path: Path,
    lines_before: int,
    target: str = "staged",
) -> None:
    columns = {f: _ZEEK_TSV_TYPES.get(f, "VARCHAR") for f in header.fields}
    required = (
        [f for f in ZEEK_CONN_REQUIRED if f in columns]
        if header.fmt is Format.ZEEK_CONN
        else ["ts", "uid"]
    )
    source, values = _read_csv_sql(
        columns,
        delim=header.separator,
        comment="#",
        nullstr=[header.unset, header.empty],
        force_not_null=required,
    )
    _drop_rejects(con)
    if header.fmt is Format.ZEEK_SSL:
        est = "established" if "established" in columns else "NULL"
        con.execute(
            "INSERT INTO staged_ssl SELECT uid, "
            + ", ".join(
                f'"{c}"' if c in columns else "NULL" for c in ("server_name", "version", "cipher")
            )
            + f", CASE {est} WHEN 'T' THEN true WHEN 'F' THEN false END FROM {source}",
            [str(path), columns, *values],
        )
    else:

        def col(name: str) -> str:
            return f'"{name}"' if name in columns else "NULL"

        raw = (
            f'(SELECT ts, uid, "id.orig_h" AS orig_h, {col("id.orig_p")} AS orig_p, '
            f'"id.resp_h" AS resp_h, "id.resp_p" AS resp_p, {col("proto")} AS proto, '
            f"{col('duration')} AS duration, {col('orig_bytes')} AS orig_bytes, "
            f"{col('resp_bytes')} AS resp_bytes, {col('conn_state')} AS conn_state "
            f"FROM {source})"
        )
        con.execute(
            f"INSERT INTO {target} {_ZEEK_CONN_SELECT.format(raw=raw)}",
            [str(path), columns, *values],
        )
    con.execute(_rejects_sql(lines_before))
    _drop_rejects(con)
