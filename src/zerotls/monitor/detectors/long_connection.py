"""The long-connection detector: connections far longer than the identity's usual ones."""

from __future__ import annotations

from typing import Any

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.detectors._common import (
    Scored,
    Table,
    _finish,
    _fmt_bytes,
    _fmt_seconds,
    _prevalence,
    _rows,
    is_local_broadcast,
    popularity_factor,
)
from zerotls.monitor.features import Settings

__all__ = ["long_connections"]


# ---------------------------------------------------------------------------------------------
# Long connections


def long_connections(long: Table, durations: Table, pairs: Table, settings: Settings) -> Scored:
    """Connections longer than ``long_connection_seconds`` and 3x the identity's 99th
    percentile, discounted for destinations many identities hold long connections to."""
    _, reach, _n_identities = _prevalence(pairs)
    usual = {r["identity"]: r for r in _rows(durations)}
    best: dict[tuple[str, str], dict[str, Any]] = {}
    population: list[float] = []
    for r in _rows(long):
        if is_local_broadcast(r["dst"]):
            continue
        base = usual.get(r["identity"])
        p99 = float(base["p99"]) if base else 0.0
        limit = max(settings.long_connection_seconds, 3.0 * p99)
        score = float(r["duration"]) / limit * popularity_factor(reach.get(r["dst"], 1))
        population.append(score)
        if score < 1.0:
            continue
        k = (r["identity"], r["dst"])
        if k not in best or score > best[k]["score"]:
            best[k] = {**r, "score": score, "p99": p99, "limit": limit, "base": base}
    alerts = []
    for (identity, dst), r in best.items():
        longest = float(r["base"]["longest"]) if r["base"] else 0.0
        alerts.append(
            Alert(
                detector="long-connection",
                identity=identity,
                destination=dst,
                start=float(r["ts"]),
                end=float(r["ts"] + r["duration"]),
                score=float(r["score"]),
                summary=f"{identity} held a connection to {dst} for "
                f"{_fmt_seconds(float(r['duration']))} ({_fmt_bytes(r['bytes_out'])} out, "
                f"{_fmt_bytes(r['bytes_in'])} in)",
                why=f"its connections last at most {_fmt_seconds(r['p99'])} (99th percentile; "
                f"longest {_fmt_seconds(longest)}) in the baseline; a long-lived connection "
                "to a rare destination is how tunnels and interactive C2 look",
                evidence={
                    "duration_s": float(r["duration"]),
                    "bytes_out": int(r["bytes_out"]),
                    "bytes_in": int(r["bytes_in"]),
                    "port": r["dst_port"],
                    "baseline_p99_s": r["p99"],
                    "baseline_longest_s": longest,
                    "limit_s": r["limit"],
                },
                plot=Plot(
                    kind="bars",
                    title="connection duration (seconds)",
                    x_label="",
                    y_label="seconds",
                    baseline=(("usual (p99)", r["p99"]), ("longest before", longest)),
                    observed=(("this connection", float(r["duration"])),),
                ),
            )
        )
    return _finish(alerts, population)
