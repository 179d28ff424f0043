"""What the readers share: the staging tables, whole-line chunks of a range, the JSON Lines
load (parse, check and reject in DuckDB) and DuckDB's CSV reader with its rejects."""

# ruff: noqa: S608
# SQL text here is built only from our own column names, type names and numbers we format;
# nothing read from a log file ever becomes SQL text (DuckDB's readers parse the files, and
# paths and values are passed as parameters).

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import duckdb

__all__ = ["CHUNK_BYTES", "MAX_JSON_LINE", "STAGING_DDL", "iter_line_chunks"]

CHUNK_BYTES: Final = 32 * 2**20
"""JSON Lines are parsed this many bytes at a time, so memory stays bounded on huge files."""


STAGING_DDL: Final = (
    "CREATE OR REPLACE TEMP TABLE staged AS SELECT * FROM events LIMIT 0",
    "CREATE OR REPLACE TEMP TABLE staged_ssl (uid VARCHAR, server_name VARCHAR, "
    "version VARCHAR, cipher VARCHAR, established BOOLEAN)",
    "CREATE OR REPLACE TEMP TABLE staged_rejects (line BIGINT, error VARCHAR, text VARCHAR)",
)


def iter_line_chunks(
    path: Path, start: int, end: int, lines_before: int, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(number of the chunk's first line, chunk)`` for whole-line chunks of a range."""
    line_no = lines_before + 1
    with path.open("rb") as f:
        f.seek(start)
        pos = start
        carry = b""
        while pos < end:
            data = carry + f.read(min(chunk_bytes, end - pos))
            pos = f.tell()
            if not data:
                break
            cut = data.rfind(b"\n") + 1 if pos < end else len(data)
            if cut == 0:
                carry = data
                continue
            chunk, carry = data[:cut], data[cut:]
            yield line_no, chunk
            line_no += chunk.count(b"\n")
        if carry:
            yield line_no, carry


def _lines_table(chunk: bytes, first_line: int) -> tuple[Any, list[tuple[int, str, str]]]:
    """An Arrow table (line_no, text) of the chunk's lines, and the lines that are not UTF-8
    (as rejects, their text left empty in the table).

    The chunk is not split into Python strings: the Arrow string array is built over the
    chunk's own bytes, with the newline positions as offsets (each value keeps its trailing
    newline, which JSON allows as whitespace), and Arrow checks the UTF-8 in one pass.
    """
    import numpy as np
    import pyarrow as pa

    if not chunk.endswith(b"\n"):
        chunk += b"\n"
    ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + 1
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    n = len(ends)
    text = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chunk))
    bad: list[tuple[int, str, str]] = []
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        texts = []
        for i in range(n):
            raw = chunk[offsets[i] : offsets[i + 1]]
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                bad.append((first_line + i, "not UTF-8 text", raw[:200].decode("latin-1")))
                texts.append("")
        text = pa.array(texts, pa.large_string())
    numbers = pa.array(np.arange(first_line, first_line + n, dtype=np.int64))
    return pa.table({"line_no": numbers, "text": text}), bad


# Zeek ts: epoch seconds, or ISO 8601 with LogAscii::json_timestamps = JSON::TS_ISO8601.
_TS_SQL = "coalesce(try_cast({v} AS DOUBLE), epoch_us(try_cast({v} AS TIMESTAMPTZ)) / 1e6)"
"""Epoch seconds from a number or an RFC 3339 time (whole microseconds over 1e6: the same
double Spark computes, so both engines give an event the same time)."""


MAX_JSON_LINE: Final = 1024 * 1024
"""Characters one JSON Lines event may have; a longer line is rejected with its length."""


def _json_struct(fields: tuple[str, ...]) -> str:
    return json.dumps(dict.fromkeys(fields, "VARCHAR"))


def _check(cond: str, message: str) -> str:
    return f"WHEN {cond} THEN '{message}'"


def _typed(field: str, sql_type: str) -> str:
    """The WHEN clause of a field present but not of its type."""
    col = f'j."{field}"'
    return _check(
        f"{col} IS NOT NULL AND try_cast({col} AS {sql_type}) IS NULL",
        f"field {field} is not a {'number' if sql_type != 'BOOLEAN' else 'boolean'}",
    )


def _load_json_lines(
    con: duckdb.DuckDBPyConnection,
    chunk: bytes,
    first: int,
    *,
    fields: tuple[str, ...],
    checks: str,
    select: str | None,
    also: tuple[str, ...] = (),
) -> None:
    """Load one chunk of JSON Lines: every line parsed by DuckDB into the text columns
    ``fields`` and checked by the WHEN clauses ``checks`` (a line that fails goes to
    ``staged_rejects`` with the message), the good ones inserted into ``staged`` by ``select``
    (over the view ``zt_ok``), or into ``staged_ssl`` when ``select`` is None."""
    table, bad = _lines_table(chunk, first)
    if bad:
        con.executemany("INSERT INTO staged_rejects VALUES (?, ?, ?)", bad)
    # One parse per line: try() turns invalid JSON into NULL instead of an error, and the
    # first character tells an object from any other JSON value. Batches of 8,192 lines let
    # DuckDB parse on every core.
    import pyarrow as pa

    con.register(
        "zt_lines", pa.Table.from_batches(table.combine_chunks().to_batches(max_chunksize=8192))
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE zt_checked AS SELECT line_no, text, j, "
            "CASE WHEN too_long THEN 'the line is ' || length(text) || ' characters long, "
            "over the limit of 1 MiB for one event: not read' "
            f"WHEN j IS NULL THEN 'not a JSON object' {checks} ELSE NULL END AS error "
            "FROM (SELECT line_no, text, length(text) > ? AS too_long, "
            "CASE WHEN length(text) <= ? AND left(ltrim(text), 1) = '{' "
            "THEN try(json_transform(text, ?)) END AS j FROM zt_lines "
            "WHERE trim(text, ' ' || chr(9) || chr(10) || chr(13)) <> '')",
            [MAX_JSON_LINE, MAX_JSON_LINE, _json_struct(fields)],
        )
    finally:
        con.unregister("zt_lines")
    con.execute(
        "INSERT INTO staged_rejects SELECT line_no, error, left(text, 200) "
        "FROM zt_checked WHERE error IS NOT NULL"
    )
    con.execute("CREATE OR REPLACE TEMP VIEW zt_ok AS SELECT j FROM zt_checked WHERE error IS NULL")
    if select is None:
        con.execute(
            "INSERT INTO staged_ssl SELECT j.uid, j.server_name, j.version, j.cipher, "
            "try_cast(j.established AS BOOLEAN) FROM zt_ok"
        )
    else:
        con.execute(f"INSERT INTO staged {select}")
    for statement in also:  # more from the same lines (Suricata's tls events, say)
        con.execute(statement)
    con.execute("DROP VIEW zt_ok; DROP TABLE zt_checked")


def _rejects_sql(offset: int) -> str:
    """Move DuckDB's CSV rejects (one row per bad column) into ``staged_rejects``, one per
    line, with the file's line numbers."""
    return (
        "INSERT INTO staged_rejects SELECT line + "
        f"{int(offset)}, arg_min(error_message, coalesce(column_idx, 0)), "
        "left(any_value(csv_line), 200) FROM zt_reject_errors GROUP BY line ORDER BY line"
    )


def _read_csv_sql(columns: dict[str, str], **options: Any) -> tuple[str, list[Any]]:
    opts = ", ".join(f"{k}=?" for k in options)
    sql = (
        "read_csv(?, columns=?, header=false, auto_detect=false, quote='', escape='', "
        "store_rejects=true, rejects_table='zt_reject_errors', rejects_scan='zt_reject_scans'"
        + (", " + opts if opts else "")
        + ")"
    )
    return sql, list(options.values())


def _drop_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP TABLE IF EXISTS zt_reject_errors; DROP TABLE IF EXISTS zt_reject_scans")
