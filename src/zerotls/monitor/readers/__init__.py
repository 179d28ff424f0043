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

# One module per format (audit, zeek, flow_csv, parquet) over the shared format detection
# (formats) and staging helpers (staging), and load_range (load) on top; this file only
# re-exports, so that `from zerotls.monitor import readers` and `readers.X` work as before.

from __future__ import annotations

from zerotls.monitor.readers.formats import CSV_ALIASES, CSV_COLUMNS, Format, Header, sniff
from zerotls.monitor.readers.formats import ZEEK_CONN_REQUIRED as ZEEK_CONN_REQUIRED
from zerotls.monitor.readers.formats import ZEEK_SSL_REQUIRED as ZEEK_SSL_REQUIRED
from zerotls.monitor.readers.load import load_range
from zerotls.monitor.readers.staging import CHUNK_BYTES as CHUNK_BYTES
from zerotls.monitor.readers.staging import MAX_JSON_LINE as MAX_JSON_LINE
from zerotls.monitor.readers.staging import STAGING_DDL as STAGING_DDL
from zerotls.monitor.readers.staging import iter_line_chunks

# Read by bench/monitor_throughput.py.
from zerotls.monitor.readers.zeek import _ZEEK_CONN_FIELDS as _ZEEK_CONN_FIELDS
from zerotls.monitor.readers.zeek import _ZEEK_TSV_TYPES as _ZEEK_TSV_TYPES

__all__ = [
    "CSV_ALIASES",
    "CSV_COLUMNS",
    "Format",
    "Header",
    "iter_line_chunks",
    "load_range",
    "sniff",
]
