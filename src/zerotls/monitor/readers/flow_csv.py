"""Flow CSV exports with a header row (columns in docs/monitor.md, nfdump aliases)."""

# ruff: noqa: S608
# SQL text here is built only from our own column names, type names and numbers we format;
# nothing read from a log file ever becomes SQL text (DuckDB's readers parse the files, and
# paths and values are passed as parameters).

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from zerotls.monitor.readers.formats import Header
from zerotls.monitor.readers.staging import _drop_rejects, _read_csv_sql, _rejects_sql
from zerotls.monitor.schema import tls_version_sql

if TYPE_CHECKING:
    import duckdb

_CSV_TYPES: Final = {
    "src_port": "INTEGER",
    "dst_port": "INTEGER",
    "bytes_out": "BIGINT",
    "bytes_in": "BIGINT",
    "duration": "DOUBLE",
}


def _load_csv(
    con: duckdb.DuckDBPyConnection,
    header: Header,
    path: Path,
    lines_before: int,
    *,
    skip_header: bool,
    target: str = "staged",
) -> None:
    columns: dict[str, str] = {}
    for i, name in enumerate(header.fields):
        key = name if name not in columns else f"{name}_{i}"
        if key == "ts":
            columns[key] = "DOUBLE" if header.ts_kind == "epoch" else "TIMESTAMPTZ"
        else:
            columns[key] = _CSV_TYPES.get(key, "VARCHAR")
    source, values = _read_csv_sql(
        columns,
        delim=header.separator,
        nullstr=["", "-"],
        force_not_null=["ts"],
        skip=1 if skip_header else 0,
    )
    # Quoted CSV fields are allowed here (exporters quote names); Zeek TSV never quotes.
    source = source.replace("quote='', escape=''", "quote='\"', escape='\"'")

    def col(name: str, default: str = "NULL") -> str:
        return f'r."{name}"' if name in columns else default

    ts = "r.ts" if header.ts_kind == "epoch" else "epoch(r.ts)"
    dst_ip = col("dst_ip", col("dst_host"))
    src_ip = col("src_ip")
    key = (
        f"coalesce({col('uid')}, md5(concat_ws('|', {ts}, {src_ip}, {col('src_port')}, "
        f"{dst_ip}, {col('dst_port')}, {col('proto')})))"
    )
    select = f"""
    SELECT 'csv:' || {key} AS uid, {ts} AS ts, 'csv' AS source,
      coalesce({col("identity")}, {src_ip}) AS identity, {src_ip} AS src_ip,
      {col("src_port")} AS src_port, coalesce({col("dst_host")}, {dst_ip}) AS dst_host,
      {dst_ip} AS dst_ip, {col("dst_port")} AS dst_port, lower({col("proto")}) AS proto,
      coalesce({col("bytes_out")}, 0) AS bytes_out, coalesce({col("bytes_in")}, 0) AS bytes_in,
      coalesce({col("duration")}, 0) AS duration, {tls_version_sql(col("tls_version"))},
      {col("cipher")}, {col("decision")},
      coalesce({col("outcome")}, CASE WHEN {col("decision")} = 'deny' THEN 'denied' ELSE 'ok' END),
      NULL AS detail
    FROM {source} r
    """
    _drop_rejects(con)
    con.execute(f"INSERT INTO {target} {select}", [str(path), columns, *values])
    con.execute(_rejects_sql(lines_before))
    _drop_rejects(con)
