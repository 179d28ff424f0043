"""Readers: turn a byte range of a log file into normalized events, in DuckDB.

Theory of operation. The store hands a reader one file, a byte range of it that ends on a
line boundary, and the number of lines before the range. The reader loads the range into
three temporary tables of the connection: ``staged`` (normalized events, the columns of
:data:`~zerotls.monitor.schema.EVENT_COLUMNS`), ``staged_ssl`` (Zeek ``ssl.log`` records,
joined to connections by ``uid``) and ``staged_rejects`` (line number, error, text of every
line that could not be used). Nothing is dropped silently and no bad line is fatal.

The parsing is DuckDB's, not Python's: Zeek TSV and flow CSV go through ``read_csv`` with
explicit column types and ``store_rejects``, which records each bad line with its line
number; JSON Lines are split into lines by Python (so every line keeps its number) and parsed
by DuckDB's ``json_transform`` in bulk. Every JSON field is read as text and cast in SQL, so a
field of the wrong type is reported, not silently turned into NULL.

Formats (detected from the first bytes, see :func:`sniff`):

- ``zerotls``: the tunnel's audit events (docs/audit-log.md);
- ``zeek-conn`` / ``zeek-ssl``: Zeek ``conn.log`` and ``ssl.log``, TSV (``#fields`` header)
  or JSON (one object per line, ``ts`` as epoch seconds or ISO 8601);
- ``csv``: flow exports with a header row (columns in docs/monitor.md, nfdump aliases);
- ``parquet``: the monitor's own export (``zerotls monitor export``).
"""

# ruff: noqa: S608
# SQL text here is built only from our own column names, type names and numbers we format;
# nothing read from a log file ever becomes SQL text (DuckDB's readers parse the files, and
# paths and values are passed as parameters).

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from zerotls.errors import ConfigError
from zerotls.monitor.schema import EVENT_COLUMNS, tls_version_sql

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "CSV_ALIASES",
    "CSV_COLUMNS",
    "Format",
    "Header",
    "iter_line_chunks",
    "load_range",
    "sniff",
]

CHUNK_BYTES: Final = 32 * 2**20
"""JSON Lines are parsed this many bytes at a time, so memory stays bounded on huge files."""


class Format(StrEnum):
    """The input formats the monitor reads."""

    ZEROTLS = "zerotls"
    ZEEK_CONN = "zeek-conn"
    ZEEK_SSL = "zeek-ssl"
    CSV = "csv"
    PARQUET = "parquet"


@dataclass(frozen=True, slots=True)
class Header:
    """What the first lines of a file said about the rest of it (kept for appended ranges).

    Attributes:
        fmt: the format.
        text: ``tsv``, ``json`` or ``csv`` (``parquet`` for Parquet).
        fields: column names in file order (TSV and CSV); empty for JSON.
        separator: field separator (TSV and CSV).
        unset: Zeek's ``#unset_field`` (TSV), or ``""`` for CSV.
        empty: Zeek's ``#empty_field`` (TSV).
        header_bytes: bytes of header at the start of the file (a CSV header row), which a
            range starting at 0 skips.
        ts_kind: for CSV, ``epoch`` or ``iso``, chosen from the first data row.
    """

    fmt: Format
    text: str
    fields: tuple[str, ...] = ()
    separator: str = "\t"
    unset: str = "-"
    empty: str = "(empty)"
    header_bytes: int = 0
    ts_kind: str = "epoch"

    def to_json(self) -> str:
        return json.dumps(
            {
                "fmt": self.fmt.value,
                "text": self.text,
                "fields": list(self.fields),
                "separator": self.separator,
                "unset": self.unset,
                "empty": self.empty,
                "header_bytes": self.header_bytes,
                "ts_kind": self.ts_kind,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Header:
        data = json.loads(text)
        return cls(
            fmt=Format(data["fmt"]),
            text=data["text"],
            fields=tuple(data["fields"]),
            separator=data["separator"],
            unset=data["unset"],
            empty=data["empty"],
            header_bytes=data["header_bytes"],
            ts_kind=data["ts_kind"],
        )


# ---------------------------------------------------------------------------------------------
# Format detection

ZEEK_CONN_REQUIRED: Final = ("ts", "uid", "id.orig_h", "id.resp_h", "id.resp_p")
ZEEK_SSL_REQUIRED: Final = ("ts", "uid")

CSV_COLUMNS: Final = (
    "ts",
    "uid",
    "identity",
    "src_ip",
    "src_port",
    "dst_host",
    "dst_ip",
    "dst_port",
    "proto",
    "bytes_out",
    "bytes_in",
    "duration",
    "tls_version",
    "cipher",
    "decision",
    "outcome",
)
"""Flow CSV columns: the normalized schema's names. ``ts``, ``src_ip`` and one of
``dst_ip``/``dst_host`` are required; every other column is optional."""

CSV_ALIASES: Final = {
    # nfdump -o csv, and common NetFlow/IPFIX export names
    "sa": "src_ip",
    "da": "dst_ip",
    "sp": "src_port",
    "dp": "dst_port",
    "pr": "proto",
    "ibyt": "bytes_out",
    "obyt": "bytes_in",
    "td": "duration",
    "start": "ts",
    "time": "ts",
    "timestamp": "ts",
    "src": "src_ip",
    "dst": "dst_ip",
    "srcaddr": "src_ip",
    "dstaddr": "dst_ip",
    "srcport": "src_port",
    "dstport": "dst_port",
    "protocol": "proto",
    "bytes": "bytes_out",
    "in_bytes": "bytes_out",
    "out_bytes": "bytes_in",
    "server_name": "dst_host",
}
"""Other spellings accepted in a CSV header, mapped to :data:`CSV_COLUMNS`."""

_CSV_TYPES: Final = {
    "src_port": "INTEGER",
    "dst_port": "INTEGER",
    "bytes_out": "BIGINT",
    "bytes_in": "BIGINT",
    "duration": "DOUBLE",
}


def sniff(head: bytes, name: str) -> Header:
    """Recognize a file's format from its first bytes (at least its first two lines).

    Raises:
        ConfigError: the format is not one the monitor reads, or a header is incomplete.
    """
    if head.startswith(b"PAR1"):
        return Header(Format.PARQUET, "parquet")
    if head.startswith(b"#separator"):
        return _sniff_zeek_tsv(head, name)
    first = head.split(b"\n", 1)[0].strip()
    if b"\n" not in head and len(head) >= 64 * 1024:
        raise ConfigError(
            f"{name}: the first line is longer than 64 KiB, so it is not a log line the monitor "
            "reads (zerotls audit events and Zeek records are a few hundred bytes; one event "
            "may be at most 1 MiB)"
        )
    if first.startswith(b"{"):
        try:
            obj = json.loads(first)
        except ValueError:
            raise ConfigError(
                f"{name}: the first line looks like JSON but does not parse; zerotls audit "
                "logs and Zeek JSON logs have one JSON object per line"
            ) from None
        if not isinstance(obj, dict):
            raise ConfigError(f"{name}: the first line is not a JSON object")
        if "conn_id" in obj and "decision" in obj:
            return Header(Format.ZEROTLS, "json")
        if "uid" in obj and "id.resp_h" in obj:
            # Zeek's JSON writer leaves unset fields out; conn_state is always set in conn.log.
            if "conn_state" in obj:
                return Header(Format.ZEEK_CONN, "json")
            if "established" in obj or "cipher" in obj or "server_name" in obj:
                return Header(Format.ZEEK_SSL, "json")
        raise ConfigError(
            f"{name}: JSON lines, but neither zerotls audit events (conn_id, decision) nor a "
            "Zeek conn.log/ssl.log (uid, id.resp_h); convert other logs to the flow CSV "
            "described in docs/monitor.md"
        )
    return _sniff_csv(head, name)


def _sniff_zeek_tsv(head: bytes, name: str) -> Header:
    lines = head.decode("utf-8", "replace").split("\n")
    sep_spec = lines[0][len("#separator") :].strip()
    try:
        separator = sep_spec.encode("latin-1").decode("unicode_escape")
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: unreadable #separator line {lines[0]!r}") from None
    if len(separator) != 1:
        raise ConfigError(f"{name}: #separator must be one character, got {sep_spec!r}")
    meta: dict[str, list[str]] = {}
    for line in lines[1:]:
        if not line.startswith("#"):
            break
        key, _, rest = line[1:].partition(separator)
        meta[key] = rest.rstrip("\r").split(separator)
    fields = tuple(meta.get("fields", ()))
    path = (meta.get("path") or [""])[0]
    if not fields:
        raise ConfigError(
            f"{name}: a Zeek log without a #fields header line; was it cut from the middle of "
            "a file? Keep the header lines, or convert it to JSON"
        )
    required: tuple[str, ...]
    if path == "ssl" or ("server_name" in fields and "conn_state" not in fields):
        fmt, required = Format.ZEEK_SSL, ZEEK_SSL_REQUIRED
    elif path == "conn" or "conn_state" in fields:
        fmt, required = Format.ZEEK_CONN, ZEEK_CONN_REQUIRED
    else:
        raise ConfigError(
            f"{name}: a Zeek {path or 'unknown'}.log; the monitor reads conn.log and ssl.log"
        )
    missing = [f for f in required if f not in fields]
    if missing:
        raise ConfigError(f"{name}: Zeek {fmt.value} log without the field(s) {', '.join(missing)}")
    return Header(
        fmt,
        "tsv",
        fields=fields,
        separator=separator,
        unset=(meta.get("unset_field") or ["-"])[0],
        empty=(meta.get("empty_field") or ["(empty)"])[0],
    )


def _sniff_csv(head: bytes, name: str) -> Header:
    text = head.decode("utf-8", "replace")
    lines = text.split("\n")
    first = lines[0].rstrip("\r")
    separator = max((",", ";", "\t", "|"), key=first.count)
    names = [_csv_name(c) for c in first.split(separator)]
    if "ts" not in names or "src_ip" not in names or not {"dst_ip", "dst_host"} & set(names):
        raise ConfigError(
            f"{name}: not a format the monitor reads. Flow CSV needs a header row with at "
            "least ts, src_ip and dst_ip (or dst_host); see docs/monitor.md for the columns"
        )
    ts_kind = "epoch"
    if len(lines) > 1 and lines[1].strip():
        values = lines[1].rstrip("\r").split(separator)
        ts_value = values[names.index("ts")] if names.index("ts") < len(values) else ""
        try:
            float(ts_value)
        except ValueError:
            ts_kind = "iso"
    return Header(
        Format.CSV,
        "csv",
        fields=tuple(names),
        separator=separator,
        unset="",
        header_bytes=len(lines[0].encode("utf-8")) + 1,
        ts_kind=ts_kind,
    )


def _csv_name(raw: str) -> str:
    key = raw.strip().strip('"').strip().lower()
    return CSV_ALIASES.get(key, key)


# ---------------------------------------------------------------------------------------------
# Loading a range

STAGING_DDL: Final = (
    "CREATE OR REPLACE TEMP TABLE staged AS SELECT * FROM events LIMIT 0",
    "CREATE OR REPLACE TEMP TABLE staged_ssl (uid VARCHAR, server_name VARCHAR, "
    "version VARCHAR, cipher VARCHAR, established BOOLEAN)",
    "CREATE OR REPLACE TEMP TABLE staged_rejects (line BIGINT, error VARCHAR, text VARCHAR)",
)


def load_range(
    con: duckdb.DuckDBPyConnection,
    header: Header,
    path: Path,
    *,
    start: int,
    end: int,
    lines_before: int,
    range_file: Path | None,
    target: str = "staged",
) -> None:
    """Load bytes ``[start, end)`` of ``path`` into the staging tables.

    Args:
        con: a connection whose staging tables exist (see :data:`STAGING_DDL`).
        header: the file's header (from :func:`sniff`, or stored from the first read).
        path: the file.
        start: first byte to read; the store only ever passes a line start.
        end: one past the last byte; always just after a newline.
        lines_before: lines in the file before ``start`` (line numbers in rejects are the
            file's, counted from 1).
        range_file: for TSV and CSV, a file holding exactly bytes ``[start, end)`` when the
            range is not the whole file (DuckDB's reader reads whole files); None otherwise.
        target: the table normalized TSV/CSV events go to: ``staged``, or ``events`` itself
            when the store knows that no stored event can be a duplicate (the fast path).
    """
    if header.fmt is Format.PARQUET:
        _load_parquet(con, path)
    elif header.text == "json":
        for first_line, chunk in iter_line_chunks(path, start, end, lines_before):
            _load_json_chunk(con, header.fmt, chunk, first_line)
    elif header.text == "tsv":
        _load_zeek_tsv(con, header, range_file or path, lines_before, target)
    else:
        _load_csv(
            con,
            header,
            range_file or path,
            lines_before,
            skip_header=range_file is None,
            target=target,
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

# Zeek ts: epoch seconds, or ISO 8601 with LogAscii::json_timestamps = JSON::TS_ISO8601.
_TS_SQL = "coalesce(try_cast({v} AS DOUBLE), epoch(try_cast({v} AS TIMESTAMPTZ)))"


def _one_colon(addr: str) -> str:
    return f"(strpos({addr}, ':') > 0 AND strpos(substr({addr}, strpos({addr}, ':') + 1), ':') = 0)"


def _host_of(addr: str) -> str:
    """SQL: the host part of ``ip:port`` / ``[v6]:port`` (the value itself without a port).
    String functions, not regular expressions: this runs for every audit event."""
    return (
        f"CASE WHEN starts_with({addr}, '[') THEN substr({addr}, 2, strpos({addr}, ']') - 2) "
        f"WHEN {_one_colon(addr)} THEN split_part({addr}, ':', 1) ELSE {addr} END"
    )


def _port_of(addr: str) -> str:
    """SQL: the port of ``ip:port`` / ``[v6]:port`` (NULL when there is none)."""
    return (
        f"CASE WHEN starts_with({addr}, '[') "
        f"THEN try_cast(split_part({addr}, ']:', 2) AS INTEGER) "
        f"WHEN {_one_colon(addr)} THEN try_cast(split_part({addr}, ':', 2) AS INTEGER) END"
    )


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


def _load_json_chunk(con: duckdb.DuckDBPyConnection, fmt: Format, chunk: bytes, first: int) -> None:
    table, bad = _lines_table(chunk, first)
    if bad:
        con.executemany("INSERT INTO staged_rejects VALUES (?, ?, ?)", bad)
    fields = {
        Format.ZEROTLS: _ZEROTLS_FIELDS,
        Format.ZEEK_CONN: _ZEEK_CONN_FIELDS,
        Format.ZEEK_SSL: _ZEEK_SSL_FIELDS,
    }[fmt]
    if fmt is Format.ZEROTLS:
        checks = " ".join(
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
        select = _ZEROTLS_SELECT
    elif fmt is Format.ZEEK_CONN:
        checks = " ".join(
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
        select = _ZEEK_CONN_SELECT.format(
            raw="(SELECT "
            f"{_TS_SQL.format(v='j.ts')} AS ts, j.uid AS uid, "
            'j."id.orig_h" AS orig_h, try_cast(j."id.orig_p" AS INTEGER) AS orig_p, '
            'j."id.resp_h" AS resp_h, try_cast(j."id.resp_p" AS INTEGER) AS resp_p, '
            "j.proto AS proto, try_cast(j.duration AS DOUBLE) AS duration, "
            "try_cast(j.orig_bytes AS BIGINT) AS orig_bytes, "
            "try_cast(j.resp_bytes AS BIGINT) AS resp_bytes, j.conn_state AS conn_state "
            "FROM zt_ok)"
        )
    else:
        checks = " ".join(
            [
                _check("j.uid IS NULL", "field uid is missing"),
                _typed("established", "BOOLEAN"),
            ]
        )
        select = None
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
    con.execute("DROP VIEW zt_ok; DROP TABLE zt_checked")


_SRC_HOST = _host_of("j.source")
_TARGET_HOST = _host_of("j.target")

_ZEROTLS_SELECT: Final = f"""
SELECT
  'zt:' || j.conn_id || ':' || j.time AS uid,
  {_TS_SQL.format(v="j.time")} AS ts,
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
FROM zt_ok
"""

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


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    names = {
        row[0]
        for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    }
    missing = [c.name for c in EVENT_COLUMNS if c.name not in names]
    if missing:
        raise ConfigError(
            f"{path}: a Parquet file without the event column(s) {', '.join(missing)}; the "
            "monitor imports only what `zerotls monitor export` writes"
        )
    casts = ", ".join(f"TRY_CAST({c.name} AS {c.sql_type}) AS {c.name}" for c in EVENT_COLUMNS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE zt_parquet AS SELECT file_row_number + 1 AS line_no, "
        f"{casts} FROM read_parquet(?, file_row_number=true)",
        [str(path)],
    )
    con.execute(
        "INSERT INTO staged_rejects SELECT line_no, 'row without uid or ts (row number given "
        "as the line)', NULL FROM zt_parquet WHERE uid IS NULL OR ts IS NULL"
    )
    cols = ", ".join(c.name for c in EVENT_COLUMNS)
    con.execute(
        f"INSERT INTO staged SELECT {cols} FROM zt_parquet WHERE uid IS NOT NULL AND ts IS NOT NULL"
    )
    con.execute("DROP TABLE zt_parquet")
