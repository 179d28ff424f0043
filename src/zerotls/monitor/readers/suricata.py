"""Suricata EVE JSON (``eve.json``) as normalized events.

EVE is one JSON object per line with an ``event_type``. Two kinds matter here:

* ``flow`` records (one per finished flow: addresses, ports, protocol, and under ``flow`` the
  start time, age, packets and bytes each way, the TCP state) become events, through the same
  mapping as Zeek's conn.log: the flow's ``flow_id`` is its stable key, bytes to the server are
  bytes out, and a TCP flow whose server never sent a packet is a refused attempt;
* ``tls`` records give the flow its server name (SNI) and TLS version, joined by ``flow_id``
  exactly as a Zeek ssl.log is joined by uid (whichever comes first).

Every other event type (``alert``, ``dns``, ``http``, ``stats`` ...) is not a connection
record and is passed over without being counted as a bad line.
"""

# ruff: noqa: S608
# SQL text here is built only from our own column names and constants; nothing read from a
# log file ever becomes SQL text (DuckDB parses the JSON; values stay values).

from __future__ import annotations

from typing import Final

from zerotls.monitor.readers.staging import _TS_SQL, _check
from zerotls.monitor.readers.zeek import _ZEEK_CONN_SELECT

__all__: list[str] = []

_EVE_FIELDS: Final = (
    "timestamp",
    "event_type",
    "flow_id",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "app_proto",
    "flow",
    "tls",
)

_FLOW = "j.event_type = 'flow'"

# The SQL below is rendered for DuckDB (``json_extract_string``) or Spark
# (``get_json_object``, same arguments): the Spark ingest runs the same mapping.
DUCKDB_JSON: Final = "json_extract_string"


def _flow_field(name: str, sql_type: str, jx: str = DUCKDB_JSON) -> str:
    return f"try_cast({jx}(j.flow, '$.{name}') AS {sql_type})"


def eve_checks(ts_sql: str, jx: str = DUCKDB_JSON) -> list[tuple[str, str]]:
    """(condition, message) of each bad-line check, first match wins."""
    start = f"{jx}(j.flow, '$.start')"
    return [
        (f"{_FLOW} AND j.flow_id IS NULL", "field flow_id is missing"),
        (f"{_FLOW} AND j.src_ip IS NULL", "field src_ip is missing"),
        (f"{_FLOW} AND j.dest_ip IS NULL", "field dest_ip is missing"),
        (
            f"{_FLOW} AND {ts_sql.format(v=start)} IS NULL "
            f"AND {ts_sql.format(v='j.timestamp')} IS NULL",
            "field flow.start (or timestamp) is missing or not a time",
        ),
        ("j.event_type = 'tls' AND j.flow_id IS NULL", "a tls event without its flow_id"),
    ]


def eve_select(ts_sql: str, jx: str = DUCKDB_JSON, source: str = "zt_ok") -> str:
    """The flow records of ``source`` (a struct ``j`` per row) as events, through the Zeek
    conn.log mapping. No packet from the server means no answer (Zeek's S0)."""
    start = f"{jx}(j.flow, '$.start')"
    raw = (
        "(SELECT "
        f"coalesce({ts_sql.format(v=start)}, {ts_sql.format(v='j.timestamp')}) AS ts, "
        "'eve-' || j.flow_id AS uid, j.src_ip AS orig_h, "
        "try_cast(j.src_port AS INTEGER) AS orig_p, "
        "j.dest_ip AS resp_h, try_cast(j.dest_port AS INTEGER) AS resp_p, "
        "lower(j.proto) AS proto, "
        f"coalesce({_flow_field('age', 'DOUBLE', jx)}, 0) AS duration, "
        f"{_flow_field('bytes_toserver', 'BIGINT', jx)} AS orig_bytes, "
        f"{_flow_field('bytes_toclient', 'BIGINT', jx)} AS resp_bytes, "
        f"CASE WHEN coalesce({_flow_field('pkts_toclient', 'BIGINT', jx)}, 0) = 0 THEN 'S0' "
        "ELSE 'SF' END AS conn_state "
        f"FROM {source} WHERE {_FLOW})"
    )
    return _ZEEK_CONN_SELECT.format(raw=raw).replace("'zeek' AS source", "'suricata' AS source")


def eve_tls(jx: str = DUCKDB_JSON, source: str = "zt_ok") -> str:
    """TLS events: the flow's server name and version, keyed as the flow's event will be
    (the columns of a Zeek ssl.log record: uid, server_name, version, cipher, established)."""
    return (
        f"SELECT 'eve-' || j.flow_id AS uid, {jx}(j.tls, '$.sni') AS server_name, "
        f"replace(replace({jx}(j.tls, '$.version'), 'TLS 1.', 'TLSv1'), '.', '') AS version, "
        "CAST(NULL AS STRING) AS cipher, CAST(NULL AS BOOLEAN) AS established "
        f"FROM {source} WHERE j.event_type = 'tls' AND j.tls IS NOT NULL"
    )


_EVE_CHECKS: Final = " ".join(_check(c, m) for c, m in eve_checks(_TS_SQL))
_EVE_SELECT: Final = eve_select(_TS_SQL)
_EVE_TLS_INSERT: Final = "INSERT INTO staged_ssl " + eve_tls()
