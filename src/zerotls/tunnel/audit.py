"""One audit event per connection, as JSON Lines (schema: docs/audit-log.md).

Assume breach: every connection, allowed or refused, leaves one record that says who (the
verified identity, never just an address), what (route, target, TLS parameters), the decision
(rule and reason) and how it ended (bytes, duration, close reason). The same records feed the
metrics and, later, the monitor; field names are stable.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from zerotls.tls.identity import Identity

__all__ = ["SCHEMA_VERSION", "AuditEvent", "AuditLog", "CloseReason"]

_log = logging.getLogger("zerotls.tunnel")

SCHEMA_VERSION = 1

CloseReason = Literal[
    "client_close",  # the TLS peer (server mode) or the plaintext client (client mode) closed
    "backend_close",  # the other side closed cleanly
    "backend_reset",  # the other side reset or truncated: passed on as an abort
    "client_reset",
    "backend_unreachable",
    "denied",
    "handshake_failed",
    "timeout",
    "lifetime",
    "limit",
    "shutdown",
    "error",
]


@dataclass(slots=True)
class AuditEvent:
    """What one connection did. Filled in as it progresses; written once, at its end."""

    conn_id: str
    listener: str
    mode: str
    source: str
    start: float
    """Wall-clock start (epoch seconds)."""
    route: str | None = None
    target: str | None = None
    sni: str | None = None
    identity: Identity | None = None
    tls_version: str | None = None
    cipher: str | None = None
    group: str | None = None
    alpn: str | None = None
    resumed: bool | None = None
    revocation: str | None = None
    decision: str | None = None
    """``allow``, ``deny``, ``shadow-deny`` (allowed only because the policy is in shadow
    mode), or None when no decision was reached (handshake failure)."""
    rule: str | None = None
    reason: str | None = None
    bytes_in: int = 0
    """Bytes from the client side into the tunnel (decrypted bytes in server mode)."""
    bytes_out: int = 0
    """Bytes from the tunnel back to the client side."""
    close_reason: CloseReason | None = None
    error: str | None = None
    alert: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self, end: float) -> str:
        ident = self.identity
        record: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "time": _iso(self.start),
            "end": _iso(end),
            "duration_ms": round((end - self.start) * 1000, 3),
            "conn_id": self.conn_id,
            "listener": self.listener,
            "mode": self.mode,
            "route": self.route,
            "target": self.target,
            "source": self.source,
            "sni": self.sni,
            "spiffe_id": ident.spiffe_id if ident else None,
            "dns_names": list(ident.dns_names) if ident else [],
            "identity": ident.name if ident else None,
            "spki_pin": ident.spki_pin if ident else None,
            "cert_serial": f"{ident.serial_number:x}" if ident else None,
            "issuer": ident.issuer if ident else None,
            "cert_not_after": ident.not_after.isoformat() if ident else None,
            "tls_version": self.tls_version,
            "cipher": self.cipher,
            "group": self.group,
            "alpn": self.alpn,
            "resumed": self.resumed,
            "revocation": self.revocation,
            "decision": self.decision,
            "rule": self.rule,
            "reason": self.reason,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "close_reason": self.close_reason,
            "error": self.error,
            "alert": self.alert,
        }
        record.update(self.extra)
        return json.dumps(record, separators=(",", ":"))


def _iso(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


class AuditLog:
    """Appends events to a file (``-`` for stdout) as JSON Lines, one line per event.

    Each line is written with a single ``write`` on a line-buffered file opened for append,
    so concurrent workers appending to the same file do not interleave lines.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = None if path in (None, "-") else Path(str(path))
        self._lock = threading.Lock()
        self._file: IO[str] | None
        if path is None:
            self._file = None
        elif self.path is None:
            self._file = sys.stdout
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self._file = os.fdopen(fd, "a", buffering=1, encoding="utf-8")
        self.listeners: list[Any] = []
        self.write_errors = 0
        """Events that could not be written (logged at the first and every 1000th)."""

    def write(self, event: AuditEvent, end: float) -> None:
        line = event.to_json(end)
        for listener in self.listeners:
            listener(event, line)
        if self._file is not None:
            with self._lock:
                try:
                    self._file.write(line + "\n")
                except OSError as exc:  # disk full, file gone: never take the tunnel down
                    self.write_errors += 1
                    if self.write_errors == 1 or self.write_errors % 1000 == 0:
                        _log.error(
                            "cannot write the audit log %s (%d events lost so far): %s",
                            self.path or "stdout",
                            self.write_errors,
                            exc,
                        )

    def close(self) -> None:
        if self._file is not None and self._file is not sys.stdout:
            self._file.close()
