"""Prometheus metrics for the tunnel, rendered in the text exposition format (0.0.4).

Counters and gauges live in plain dicts keyed by label values: incrementing one is a dict
update on the event loop thread, cheap enough for the per-connection path. Label values are
bounded (listener, route, decision, rule, alert names), never identities or addresses, so
the series count stays small.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

__all__ = ["Metrics"]

_DEFS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "zerotls_connections_total": (
        "counter",
        "Connections that reached a policy decision.",
        ("listener", "route", "decision"),
    ),
    "zerotls_denied_total": (
        "counter",
        "Connections refused by policy, by the rule that decided (default = no rule allowed).",
        ("listener", "route", "rule"),
    ),
    "zerotls_handshake_failures_total": (
        "counter",
        "TLS handshakes that failed, by the alert sent or received.",
        ("listener", "alert"),
    ),
    "zerotls_backend_errors_total": (
        "counter",
        "Connections whose target could not be reached or reset.",
        ("listener", "route", "reason"),
    ),
    "zerotls_bytes_total": (
        "counter",
        "Application bytes relayed.",
        ("listener", "route", "direction"),
    ),
    "zerotls_datagrams_total": (
        "counter",
        "Datagrams relayed by the UDP (DTLS) tunnel.",
        ("listener", "route", "direction"),
    ),
    "zerotls_closed_total": (
        "counter",
        "Connections closed, by close reason.",
        ("listener", "reason"),
    ),
    "zerotls_active_connections": (
        "gauge",
        "Connections open now.",
        ("listener",),
    ),
    "zerotls_certificate_not_after_seconds": (
        "gauge",
        "Expiry (Unix time) of the certificate each listener presents.",
        ("listener",),
    ),
    "zerotls_reloads_total": (
        "counter",
        "Configuration reloads, by result.",
        ("result",),
    ),
    "zerotls_config_last_reload_timestamp_seconds": (
        "gauge",
        "When the configuration in service was loaded.",
        (),
    ),
}


# With several workers, each keeps its own figures; the admin listener adds the others'
# latest snapshots to its own. Most series add up; a few are the same in every worker.
_TAKE_MAX = frozenset(
    {"zerotls_certificate_not_after_seconds", "zerotls_config_last_reload_timestamp_seconds"}
)


class Metrics:
    """Counters and gauges with fixed label names."""

    def __init__(self) -> None:
        self._values: dict[str, dict[tuple[str, ...], float]] = defaultdict(dict)

    def inc(self, name: str, *labels: str, value: float = 1.0) -> None:
        """Add ``value`` to a counter (or gauge) with these label values, in order."""
        series = self._values[name]
        series[labels] = series.get(labels, 0.0) + value

    def set(self, name: str, *labels: str, value: float) -> None:
        """Set a gauge."""
        self._values[name][labels] = value

    def get(self, name: str, *labels: str) -> float:
        return self._values.get(name, {}).get(labels, 0.0)

    def snapshot(self) -> dict[str, list[list[Any]]]:
        """A JSON-friendly copy of every series (for the admin worker to aggregate)."""
        return {
            name: [[list(labels), value] for labels, value in series.items()]
            for name, series in self._values.items()
        }

    def merged(
        self, others: Iterable[dict[str, list[list[Any]]]]
    ) -> dict[str, dict[tuple[str, ...], float]]:
        """This worker's series combined with other workers' snapshots."""
        total = {name: dict(series) for name, series in self._values.items()}
        for snap in others:
            for name, series in snap.items():
                if name not in _DEFS:
                    continue
                target = total.setdefault(name, {})
                for labels, value in series:
                    key = tuple(str(v) for v in labels)
                    if name in _TAKE_MAX:
                        target[key] = max(target.get(key, value), value)
                    else:
                        target[key] = target.get(key, 0.0) + float(value)
        return total

    def render(self, others: Iterable[dict[str, list[list[Any]]]] = ()) -> str:
        """The exposition text for ``/metrics`` (plus other workers' snapshots, if given)."""
        values = self.merged(others)
        out: list[str] = []
        for name, (kind, help_text, label_names) in _DEFS.items():
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            for labels, value in sorted(values.get(name, {}).items()):
                if label_names:
                    pairs = ",".join(
                        f'{key}="{_escape(val)}"'
                        for key, val in zip(label_names, labels, strict=True)
                    )
                    out.append(f"{name}{{{pairs}}} {_num(value)}")
                else:
                    out.append(f"{name} {_num(value)}")
        return "\n".join(out) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)
