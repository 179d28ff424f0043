"""The probing detector: bursts of denied, failed-handshake and refused attempts."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from typing import Any

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.detectors._common import (
    OUTSIDE_WEIGHT,
    Scored,
    Table,
    _finish,
    _rows,
    _runs,
    is_outside,
)
from zerotls.monitor.features import Settings, Window

__all__ = ["probing"]


# ---------------------------------------------------------------------------------------------
# Probing


def probing(failures: Table, window: Window, settings: Settings) -> Scored:
    """Bursts of failed attempts: denied by policy, failed handshakes, refused connections.

    A ten-minute slot is flagged when its failures reach ``probe_min_failures`` and three
    times the identity's 99th percentile of failures per slot in the baseline (slots without
    failures count as zero). Consecutive flagged slots make one alert. A burst from outside
    (an identity that is a public address) weighs half: the internet scans every exposed
    host, while the same burst from one of ours means that host is in someone's hands.
    """
    import numpy as np

    rows = _rows(failures)
    slot_s = 600.0
    start_slot = math.floor(window.start / slot_s)
    base_slots = max(1, int((window.start - window.base) / slot_s))
    by_identity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_identity[r["identity"]].append(r)
    alerts: list[Alert] = []
    population: list[float] = []
    for identity, items in by_identity.items():
        weight = OUTSIDE_WEIGHT if is_outside(identity) else 1.0  # for the why
        base_counts = np.zeros(base_slots)
        base_items = [r for r in items if r["slot"] < start_slot]
        for j, r in enumerate(base_items[:base_slots]):
            base_counts[j] = r["failed"]
        p99 = float(np.quantile(base_counts, 0.99))
        limit = max(float(settings.probe_min_failures), 3.0 * p99 + 1.0)
        flagged = []
        for r in items:
            if r["slot"] < start_slot:
                continue
            score = float(r["failed"]) / limit
            population.append(score)
            if score >= 1.0:
                flagged.append((int(r["slot"]), r))
        for run in _runs(flagged):
            total = sum(x[1]["failed"] for x in run)
            peak = max(run, key=lambda x: x[1]["failed"])[1]
            s0, s1 = run[0][0], run[-1][0]
            denied = sum(x[1]["denied"] for x in run)
            hs = sum(x[1]["handshake_failed"] for x in run)
            refused = sum(x[1]["refused"] for x in run)
            hosts = max(x[1]["hosts"] for x in run)
            ports = max(x[1]["ports"] for x in run)
            kinds = ", ".join(
                f"{n} {what}"
                for n, what in ((denied, "denied"), (hs, "failed handshakes"), (refused, "refused"))
                if n
            )
            series = tuple(
                (float(r["slot"] * slot_s), float(r["failed"]))
                for r in items
                if s0 - 6 * 24 <= r["slot"] <= s1 + 6
            )
            alerts.append(
                Alert(
                    detector="probing",
                    identity=identity,
                    destination=None,
                    start=s0 * slot_s,
                    end=(s1 + 1) * slot_s,
                    score=float(peak["failed"]) / limit,
                    summary=f"{identity} made {total} failed connection attempts in "
                    f"{len(run) * 10} min ({kinds}) to {hosts} host(s) on {ports} port(s)",
                    why=f"in the baseline it fails at most {p99:.0f} time(s) per ten minutes "
                    "(99th percentile); a burst of refusals across hosts or ports is how "
                    "scanning and credential or identity probing look"
                    + (
                        "; it comes from outside (a public address), where scanning of "
                        "every exposed host is constant, so it weighs less than the same "
                        "burst from inside"
                        if weight < 1.0
                        else ""
                    ),
                    evidence={
                        "failed": int(total),
                        "denied": int(denied),
                        "handshake_failed": int(hs),
                        "refused": int(refused),
                        "hosts": int(hosts),
                        "ports": int(ports),
                        "peak_per_10min": int(peak["failed"]),
                        "baseline_p99_per_10min": p99,
                    },
                    plot=Plot(
                        kind="series",
                        title=f"failed attempts per 10 minutes of {identity}",
                        x_label="time",
                        y_label="failures per 10 min",
                        baseline=series,
                        observed=tuple((float(x[0] * slot_s), float(x[1]["failed"])) for x in run),
                        band=(0.0, p99),
                    ),
                )
            )
    scored = _finish(alerts, population)
    # Ranked among all bursts, then weighed: from outside, the same burst counts for less.
    return Scored(
        [replace(a, rank=a.rank * OUTSIDE_WEIGHT) if is_outside(a.identity) else a
         for a in scored.alerts],
        scored.candidates,
    )  # fmt: skip
