"""Format detection: which of the monitor's input formats a file is (:func:`sniff`), and the
:class:`Header` that says how to read the rest of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from zerotls.errors import ConfigError

__all__ = [
    "CSV_ALIASES",
    "CSV_COLUMNS",
    "Format",
    "Header",
    "ZEEK_CONN_REQUIRED",
    "ZEEK_SSL_REQUIRED",
    "sniff",
]


class Format(StrEnum):
    """The input formats the monitor reads."""

    ZEROTLS = "zerotls"
    ZEEK_CONN = "zeek-conn"
    ZEEK_SSL = "zeek-ssl"
    CSV = "csv"
    PARQUET = "parquet"
    SURICATA_EVE = "suricata-eve"


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
        if "event_type" in obj and "timestamp" in obj:
            return Header(Format.SURICATA_EVE, "json")  # Suricata's eve.json
        if "uid" in obj and "id.resp_h" in obj:
            # Zeek's JSON writer leaves unset fields out; conn_state is always set in conn.log.
            if "conn_state" in obj:
                return Header(Format.ZEEK_CONN, "json")
            if "established" in obj or "cipher" in obj or "server_name" in obj:
                return Header(Format.ZEEK_SSL, "json")
        raise ConfigError(
            f"{name}: JSON lines, but neither zerotls audit events (conn_id, decision), a "
            "Zeek conn.log/ssl.log (uid, id.resp_h) nor Suricata EVE (event_type, timestamp); "
            "convert other logs to the flow CSV described in docs/monitor.md"
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
