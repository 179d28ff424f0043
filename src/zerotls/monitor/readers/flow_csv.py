"""Flow CSV exports with a header row (columns in docs/monitor.md, nfdump aliases)."""

# ruff: noqa: S608
# SQL text here is built only from our own column names, type names and numbers we format;
# nothing read from a log file ever becomes SQL text (DuckDB's readers parse the files, and
# paths and values are passed as parameters).

from __future__ import annotations

from collections.abc import Callable, Collection
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


def csv_columns(header: Header) -> dict[str, str]:
    """The file's columns in order (a repeated name gets its position as a suffix) and the
    DuckDB type each is read as: ``ts`` a DOUBLE (epoch) or TIMESTAMPTZ, ports and byte
    counts integers, ``duration`` a DOUBLE, the rest text."""
    columns: dict[str, str] = {}
    for i, name in enumerate(header.fields):
        key = name if name not in columns else f"{name}_{i}"
        if key == "ts":
            columns[key] = "DOUBLE" if header.ts_kind == "epoch" else "TIMESTAMPTZ"
        else:
            columns[key] = _CSV_TYPES.get(key, "VARCHAR")
    return columns


def csv_select(present: Collection[str], *, ts: str, ref: Callable[[str], str], source: str) -> str:
    """The mapping from flow CSV columns to events, in what DuckDB and Spark SQL share.

    ``present`` are the file's columns, ``ref`` spells a reference to one (the dialects quote
    names differently), ``ts`` is the start as epoch seconds (a DOUBLE) and ``source`` the
    relation read as ``r``. Each output column is named, so that the result can be inserted
    by position (DuckDB) or selected by name (Spark).

    The key of a row without its own ``uid`` hashes its start as whole microseconds, an
    integer both engines spell alike (a double is formatted differently by each), with the
    5-tuple.
    """

    def col(name: str, default: str = "NULL") -> str:
        return ref(name) if name in present else default

    dst_ip = col("dst_ip", col("dst_host"))
    src_ip = col("src_ip")
    micros = f"try_cast(round({ts} * 1000000) AS BIGINT)"  # NULL for a time not finite
    key = (
        f"coalesce({col('uid')}, md5(concat_ws('|', {micros}, {src_ip}, {col('src_port')}, "
        f"{dst_ip}, {col('dst_port')}, {col('proto')})))"
    )
    return f"""
    SELECT 'csv:' || {key} AS uid, {ts} AS ts, 'csv' AS source,
      coalesce({col("identity")}, {src_ip}) AS identity, {src_ip} AS src_ip,
      {col("src_port")} AS src_port, coalesce({col("dst_host")}, {dst_ip}) AS dst_host,
      {dst_ip} AS dst_ip, {col("dst_port")} AS dst_port, lower({col("proto")}) AS proto,
      coalesce({col("bytes_out")}, 0) AS bytes_out, coalesce({col("bytes_in")}, 0) AS bytes_in,
      coalesce({col("duration")}, 0) AS duration,
      {tls_version_sql(col("tls_version"))} AS tls_version,
      {col("cipher")} AS cipher, {col("decision")} AS decision,
      coalesce({col("outcome")}, CASE WHEN {col("decision")} = 'deny' THEN 'denied' ELSE 'ok' END)
        AS outcome,
      NULL AS detail
    FROM {source} r
    """


def _load_csv(
    con: duckdb.DuckDBPyConnection,
    header: Header,
    path: Path,
    lines_before: int,
    *,
    skip_header: bool,
    target: str = "staged",
) -> None:
    columns = csv_columns(header)
    source, values = _read_csv_sql(
        columns,
        delim=header.separator,
        nullstr=["", "-"],
        force_not_null=["ts"],
        skip=1 if skip_header else 0,
    )
    # Quoted CSV fields are allowed here (exporters quote names); Zeek TSV never quotes.
    source = source.replace("quote='', escape=''", "quote='\"', escape='\"'")

    ts = "r.ts" if header.ts_kind == "epoch" else "epoch(r.ts)"
    select = csv_select(columns, ts=ts, ref=lambda name: f'r."{name}"', source=source)
    _drop_rejects(con)
    con.execute(f"INSERT INTO {target} {select}", [str(path), columns, *values])
    con.execute(_rejects_sql(lines_before))
    _drop_rejects(con)
