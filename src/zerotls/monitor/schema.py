"""The one event schema every input is normalized into.

Every reader (zerotls audit events, Zeek ``conn.log`` joined with ``ssl.log``, flow CSV,
Parquet exports) produces rows of exactly these columns, so the features and detectors are
written once. Time is epoch seconds (a DOUBLE), not a timestamp type: the feature SQL then
needs only arithmetic (hour bucket ``floor(ts / 3600)``, hour of week, intervals by
subtraction), which runs unchanged on DuckDB and on Spark SQL.

Direction is the identity's: ``bytes_out`` left the identity towards the destination (what
exfiltration moves), ``bytes_in`` came back. For the tunnel in server mode that is the audit
event's ``bytes_in`` (client into the tunnel); for Zeek it is ``orig_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "EVENT_COLUMNS",
    "FAILED_OUTCOMES",
    "LEGACY_TLS_VERSIONS",
    "OUTCOMES",
    "Column",
    "events_ddl",
    "tls_version_sql",
]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the normalized event table."""

    name: str
    sql_type: str
    """DuckDB type (Spark: VARCHAR is STRING, INTEGER is INT, the rest are the same)."""
    meaning: str
    compression: str | None = None
    """DuckDB's storage for the column when not its own choice (physical only: a store
    written with another choice reads the same)."""


EVENT_COLUMNS: Final[tuple[Column, ...]] = (
    # Keys are random text (a Zeek uid is 17 random base62 characters): DuckDB's dictionary
    # and FSST compression saves about a third of their bytes and costs more ingest CPU than
    # any other column (0.45 of 4.7 CPU-seconds per 2 M events; bench/monitor_throughput.py).
    Column(
        "uid",
        "VARCHAR",
        "stable key: zeek:UID, zt:CONN_ID:START, csv:ID (re-reads dedupe on it)",
        compression="uncompressed",
    ),
    Column("ts", "DOUBLE", "connection start, epoch seconds UTC"),
    Column("source", "VARCHAR", "input kind: zerotls, zeek or csv"),
    Column("identity", "VARCHAR", "verified identity (SPIFFE ID or certificate name), else src_ip"),
    Column("src_ip", "VARCHAR", "originator address"),
    Column("src_port", "INTEGER", "originator port"),
    Column(
        "dst_host", "VARCHAR", "server name (SNI, ssl.log server_name, route target), else dst_ip"
    ),
    Column("dst_ip", "VARCHAR", "destination address (may be a host name for tunnel targets)"),
    Column("dst_port", "INTEGER", "destination port"),
    Column("proto", "VARCHAR", "tcp, udp, icmp"),
    Column("bytes_out", "BIGINT", "bytes from the identity towards the destination"),
    Column("bytes_in", "BIGINT", "bytes from the destination back to the identity"),
    Column("duration", "DOUBLE", "seconds"),
    Column("tls_version", "VARCHAR", "TLSv1.3, TLSv1.2, TLSv1.1, TLSv1.0, SSLv3, SSLv2 or NULL"),
    Column("cipher", "VARCHAR", "negotiated cipher suite (IANA or OpenSSL name) or NULL"),
    Column("decision", "VARCHAR", "zerotls policy decision: allow, deny, shadow-deny, or NULL"),
    Column(
        "outcome", "VARCHAR", "ok, denied, handshake_failed, rejected (no answer/refused), failed"
    ),
    Column("detail", "VARCHAR", "close reason, Zeek conn_state, or the policy's reason"),
)

OUTCOMES: Final = ("ok", "denied", "handshake_failed", "rejected", "failed")
FAILED_OUTCOMES: Final = ("denied", "handshake_failed", "rejected", "failed")
"""Outcomes that count towards probing: the peer tried and did not get through."""

LEGACY_TLS_VERSIONS: Final = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1")
"""Deprecated by RFC 8996 (TLS 1.0/1.1) and RFC 7568 (SSLv3); SSLv2 by RFC 6176."""


def events_ddl(table: str = "events") -> str:
    """``CREATE TABLE`` for the normalized events in DuckDB."""
    cols = ",\n  ".join(
        f"{c.name} {c.sql_type}" + (f" USING COMPRESSION {c.compression}" if c.compression else "")
        for c in EVENT_COLUMNS
    )
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"


def tls_version_sql(expr: str) -> str:
    """SQL mapping the spellings of Zeek (``TLSv12``), OpenSSL (``TLSv1``) and others to one.

    Zeek writes ``TLSv10``..``TLSv13``; OpenSSL says ``TLSv1`` for 1.0; some exporters write
    ``TLS 1.2``. Unknown spellings are kept as they are, so nothing is hidden.
    """
    v = f"upper(replace(replace({expr}, ' ', ''), '_', ''))"
    return (
        f"CASE WHEN {expr} IS NULL OR {expr} = '' THEN NULL "
        f"WHEN {v} IN ('TLSV13', 'TLSV1.3') THEN 'TLSv1.3' "
        f"WHEN {v} IN ('TLSV12', 'TLSV1.2') THEN 'TLSv1.2' "
        f"WHEN {v} IN ('TLSV11', 'TLSV1.1') THEN 'TLSv1.1' "
        f"WHEN {v} IN ('TLSV10', 'TLSV1', 'TLSV1.0') THEN 'TLSv1.0' "
        f"WHEN {v} IN ('SSLV3', 'SSLV3.0') THEN 'SSLv3' "
        f"WHEN {v} IN ('SSLV2', 'SSLV2.0') THEN 'SSLv2' "
        f"ELSE {expr} END"
    )
