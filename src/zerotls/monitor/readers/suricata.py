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
_START = "json_extract_string(j.flow, '$.start')"


def _flow_field(name: str, sql_type: str) -> str:
    return f"try_cast(json_extract_string(j.flow, '$.{name}') AS {sql_type})"


_EVE_CHECKS: Final = " ".join(
    [
        _check(f"{_FLOW} AND j.flow_id IS NULL", "field flow_id is missing"),
        _check(f"{_FLOW} AND j.src_ip IS NULL", "field src_ip is missing"),
        _check(f"{_FLOW} AND j.dest_ip IS NULL", "field dest_ip is missing"),
        _check(
            f"{_FLOW} AND {_TS_SQL.format(v=_START)} IS NULL "
            f"AND {_TS_SQL.format(v='j.timestamp')} IS NULL",
            "field flow.start (or timestamp) is missing or not a time",
        ),
        _check("j.event_type = 'tls' AND j.flow_id IS NULL", "a tls event without its flow_id"),
    ]
)

# A flow record as the Zeek conn.log columns the shared mapping reads. No packet from the
# server means no answer (Zeek's S0); a TCP flow Suricata saw reset by the server before any
# data counts as refused too.
_EVE_RAW: Final = (
    "(SELECT "
    f"coalesce({_TS_SQL.format(v=_START)}, {_TS_SQL.format(v='j.timestamp')}) AS ts, "
    "'eve-' || j.flow_id AS uid, j.src_ip AS orig_h, try_cast(j.src_port AS INTEGER) AS orig_p, "
    "j.dest_ip AS resp_h, try_cast(j.dest_port AS INTEGER) AS resp_p, lower(j.proto) AS proto, "
    f"coalesce({_flow_field('age', 'DOUBLE')}, 0) AS duration, "
    f"{_flow_field('bytes_toserver', 'BIGINT')} AS orig_bytes, "
    f"{_flow_field('bytes_toclient', 'BIGINT')} AS resp_bytes, "
    f"CASE WHEN coalesce({_flow_field('pkts_toclient', 'BIGINT')}, 0) = 0 THEN 'S0' "
    "ELSE 'SF' END AS conn_state "
    f"FROM zt_ok WHERE {_FLOW})"
)

_EVE_SELECT: Final = _ZEEK_CONN_SELECT.format(raw=_EVE_RAW).replace(
    "'zeek' AS source", "'suricata' AS source"
)

# TLS events: the flow's server name and version, keyed as the flow's event will be.
_EVE_TLS_INSERT: Final = (
    "INSERT INTO staged_ssl SELECT 'eve-' || j.flow_id, json_extract_string(j.tls, '$.sni'), "
    "replace(replace(json_extract_string(j.tls, '$.version'), 'TLS 1.', 'TLSv1'), '.', ''), "
    "NULL, NULL FROM zt_ok WHERE j.event_type = 'tls' AND j.tls IS NOT NULL"
)
