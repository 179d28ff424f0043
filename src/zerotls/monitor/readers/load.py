"""Loading a range: the one entry point (:func:`load_range`), which hands the range to the
reader of its format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zerotls.monitor.readers.audit import _ZEROTLS_CHECKS, _ZEROTLS_FIELDS, _ZEROTLS_SELECT
from zerotls.monitor.readers.flow_csv import _load_csv
from zerotls.monitor.readers.formats import Format, Header
from zerotls.monitor.readers.parquet import _load_parquet
from zerotls.monitor.readers.staging import _load_json_lines, iter_line_chunks
from zerotls.monitor.readers.suricata import _EVE_CHECKS, _EVE_FIELDS, _EVE_SELECT, _EVE_TLS_INSERT
from zerotls.monitor.readers.zeek import (
    _ZEEK_CONN_FIELDS,
    _ZEEK_CONN_JSON_CHECKS,
    _ZEEK_CONN_JSON_SELECT,
    _ZEEK_SSL_FIELDS,
    _ZEEK_SSL_JSON_CHECKS,
    _load_zeek_tsv,
)

if TYPE_CHECKING:
    import duckdb

__all__ = ["load_range"]

# ---------------------------------------------------------------------------------------------
# Loading a range


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


def _load_json_chunk(con: duckdb.DuckDBPyConnection, fmt: Format, chunk: bytes, first: int) -> None:
    spec: dict[Format, tuple[tuple[str, ...], str, str | None, tuple[str, ...]]] = {
        Format.ZEROTLS: (_ZEROTLS_FIELDS, _ZEROTLS_CHECKS, _ZEROTLS_SELECT, ()),
        Format.ZEEK_CONN: (_ZEEK_CONN_FIELDS, _ZEEK_CONN_JSON_CHECKS, _ZEEK_CONN_JSON_SELECT, ()),
        Format.ZEEK_SSL: (_ZEEK_SSL_FIELDS, _ZEEK_SSL_JSON_CHECKS, None, ()),
        Format.SURICATA_EVE: (_EVE_FIELDS, _EVE_CHECKS, _EVE_SELECT, (_EVE_TLS_INSERT,)),
    }
    fields, checks, select, also = spec[fmt]
    _load_json_lines(con, chunk, first, fields=fields, checks=checks, select=select, also=also)
