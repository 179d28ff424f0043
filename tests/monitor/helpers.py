"""Crafted inputs for the monitor's tests: events, Zeek logs, a store in memory."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from zerotls.monitor.features import Settings, Window, compute
from zerotls.monitor.schema import EVENT_COLUMNS
from zerotls.monitor.store import Store

DAY = 86400.0
HOUR = 3600.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC (a Thursday)
WINDOW_START = T0 + 14 * DAY
END = T0 + 15 * DAY
WINDOW = Window(start=WINDOW_START, end=END, base=T0)

_ids = itertools.count()


def event(ts: float, identity: str, dst: str, **fields: Any) -> dict[str, Any]:
    """One normalized event with sensible defaults (a short, successful TLS 1.3 connection)."""
    row: dict[str, Any] = {
        "uid": f"t:{next(_ids)}",
        "ts": float(ts),
        "source": "csv",
        "identity": identity,
        "src_ip": identity if identity[0].isdigit() else "10.0.0.1",
        "src_port": 40000,
        "dst_host": dst,
        "dst_ip": dst,
        "dst_port": 443,
        "proto": "tcp",
        "bytes_out": 1000,
        "bytes_in": 20000,
        "duration": 1.0,
        "tls_version": "TLSv1.3",
        "cipher": "TLS_AES_128_GCM_SHA256",
        "decision": None,
        "outcome": "ok",
        "detail": None,
    }
    row.update(fields)
    return row


def insert(store: Store, rows: Iterable[dict[str, Any]]) -> int:
    import pyarrow as pa

    items = list(rows)
    table = pa.table({c.name: [r[c.name] for r in items] for c in EVENT_COLUMNS})
    store.con.register("new_rows", table)
    store.con.execute(
        "INSERT INTO events SELECT "  # noqa: S608
        + ", ".join(f"CAST({c.name} AS {c.sql_type})" for c in EVENT_COLUMNS)
        + " FROM new_rows"
    ).fetchall()
    store.con.unregister("new_rows")
    return len(items)


def store_with(rows: Iterable[dict[str, Any]]) -> Store:
    store = Store()
    insert(store, rows)
    return store


def features(
    rows: Iterable[dict[str, Any]], window: Window = WINDOW, settings: Settings | None = None
) -> dict[str, Any]:
    with store_with(rows) as store:
        return compute(store.con, window, settings or Settings())


def daily_background(
    identities: Sequence[str],
    dsts: Sequence[str],
    *,
    days: int = 15,
    per_hour: int = 2,
    start: float = T0,
) -> list[dict[str, Any]]:
    """Regular office traffic: each identity talks to its destinations every working hour,
    with sizes that vary as real ones do (seeded)."""
    import random

    rng = random.Random(0)
    rows = []
    for d in range(days):
        for h in range(8, 18):
            for i, ident in enumerate(identities):
                for k in range(per_hour):
                    dst = dsts[(i + k + h) % len(dsts)]
                    rows.append(
                        event(
                            start + d * DAY + h * HOUR + 60 * k + i,
                            ident,
                            dst,
                            bytes_out=int(rng.lognormvariate(7, 0.5)),
                            bytes_in=int(rng.lognormvariate(10, 0.5)),
                            duration=rng.uniform(0.5, 1.5),
                        )
                    )
    return rows


CONN_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
]


def zeek_header(path: str, fields: Sequence[str]) -> str:
    types = ["string"] * len(fields)
    return (
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
        f"#path\t{path}\n#open\t2026-01-01-00-00-00\n#fields\t"
        + "\t".join(fields)
        + "\n#types\t"
        + "\t".join(types)
        + "\n"
    )


def conn_line(
    ts: float,
    uid: str,
    src: str,
    dst: str,
    port: int = 443,
    *,
    orig: str = "100",
    resp: str = "2000",
    state: str = "SF",
    proto: str = "tcp",
    fields: Sequence[str] = CONN_FIELDS,
) -> str:
    values = {
        "ts": f"{ts:.6f}",
        "uid": uid,
        "id.orig_h": src,
        "id.orig_p": "50000",
        "id.resp_h": dst,
        "id.resp_p": str(port),
        "proto": proto,
        "service": "ssl",
        "duration": "1.5",
        "orig_bytes": orig,
        "resp_bytes": resp,
        "conn_state": state,
        "local_orig": "T",
        "local_resp": "F",
        "missed_bytes": "0",
        "history": "ShADadFf",
        "orig_pkts": "5",
        "orig_ip_bytes": "400",
        "resp_pkts": "5",
        "resp_ip_bytes": "2400",
        "tunnel_parents": "(empty)",
    }
    return "\t".join(values[f] for f in fields) + "\n"


SSL_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "version",
    "cipher",
    "curve",
    "server_name",
    "resumed",
    "established",
]


def ssl_line(
    ts: float,
    uid: str,
    server_name: str,
    *,
    version: str = "TLSv13",
    cipher: str = "TLS_AES_128_GCM_SHA256",
    established: str = "T",
) -> str:
    return (
        "\t".join(
            [
                f"{ts:.6f}",
                uid,
                "10.0.0.1",
                "50000",
                "93.1.1.1",
                "443",
                version,
                cipher,
                "x25519",
                server_name,
                "F",
                established,
            ]
        )
        + "\n"
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
