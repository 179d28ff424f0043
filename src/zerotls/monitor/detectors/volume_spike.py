"""The volume-spike detector: hours in which an identity sent far more than usual."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Final

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.detectors._common import HOUR, Scored, Table, _finish, _fmt_bytes, _rows, _runs
from zerotls.monitor.features import Settings, Window

__all__ = ["volume_spikes"]

WEEK_HOURS: Final = 168
EPOCH_WEEKDAY_OFFSET: Final = 72
"""1970-01-01 was a Thursday: adding 72 hours makes ``hour % 168`` count from Monday 00:00."""


# ---------------------------------------------------------------------------------------------
# Volume spike


def _robust(values: Any) -> tuple[float, float]:
    import numpy as np

    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return med, mad


def volume_spikes(hourly: Table, window: Window, settings: Settings) -> Scored:
    """Hours in which an identity sent far more than at the same hour in the baseline.

    Works in log bytes (``log1p``) so heavy tails do not drown the scale. The baseline of an
    hour is the same hour of the week (when the identity has at least 3 such hours), else
    the same hour of the day (at least 5), else every baseline hour; hours without traffic
    count as zero. z = (x - median) / (1.4826 MAD), with the scale floored at 0.5 (a factor
    of about 1.6) so that a perfectly flat baseline does not make every wobble infinite.
    The out/in ratio is scored the same way: an upload-heavy hour from a download-heavy
    identity is what exfiltration looks like.
    """
    import numpy as np

    rows = _rows(hourly)
    by_identity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_identity[r["identity"]].append(r)
    start_hour = math.floor(window.start / HOUR)
    end_hour = math.ceil(window.end / HOUR)
    alerts: list[Alert] = []
    population: list[float] = []
    for identity, items in by_identity.items():
        first_hour = int(min(r["hour"] for r in items))
        if first_hour > start_hour - 12:
            continue  # less than half a day of baseline: nothing to compare with
        n = end_hour - first_hour
        out = np.zeros(n)
        inn = np.zeros(n)
        for r in items:
            i = int(r["hour"]) - first_hour
            if 0 <= i < n:
                out[i] = r["out_bytes"] or 0
                inn[i] = r["in_bytes"] or 0
        hours = np.arange(first_hour, end_hour)
        log_out = np.log1p(out)
        log_ratio = np.log((out + 1.0) / (inn + 1.0))
        base_mask = hours < start_hour
        how = (hours + EPOCH_WEEKDAY_OFFSET) % WEEK_HOURS
        hod = hours % 24
        flagged: list[tuple[int, float, float, float, float, str, float]] = []
        for index in np.flatnonzero(~base_mask):
            i = int(index)
            h = int(hours[i])
            if h >= end_hour:
                continue
            same_week = base_mask & (how == how[i])
            same_day = base_mask & (hod == hod[i])
            if same_week.sum() >= 3:
                mask, kind = same_week, "same hour of the week"
            elif same_day.sum() >= 5:
                mask, kind = same_day, "same hour of the day"
            else:
                mask, kind = base_mask, "all baseline hours"
            med, mad = _robust(log_out[mask])
            z_out = (log_out[i] - med) / max(1.4826 * mad, 0.5)
            rmed, rmad = _robust(log_ratio[mask])
            z_ratio = (log_ratio[i] - rmed) / max(1.4826 * rmad, 0.5)
            score = float(max(z_out, z_ratio if out[i] >= settings.volume_min_bytes else 0.0))
            population.append(score)
            if out[i] >= settings.volume_min_bytes and score >= settings.volume_threshold:
                flagged.append(
                    (h, float(out[i]), float(inn[i]), float(z_out), float(z_ratio), kind, med)
                )
        # One alert per run of consecutive hours.
        for group in _runs(flagged):
            peak = max(group, key=lambda g: max(g[3], g[4]))
            h0, h1 = group[0][0], group[-1][0]
            total = sum(g[1] for g in group)
            med_bytes = float(np.expm1(peak[6]))
            lo = max(0, h0 - 24 * 7 - first_hour)
            series = tuple(
                (float(hours[j] * HOUR), float(out[j]))
                for j in range(lo, min(n, h1 - first_hour + 7))
            )
            observed = tuple((float(g[0] * HOUR), g[1]) for g in group)
            z = max(peak[3], peak[4])
            ratio = (peak[1] + 1) / (peak[2] + 1)
            alerts.append(
                Alert(
                    detector="volume-spike",
                    identity=identity,
                    destination=None,
                    start=h0 * HOUR,
                    end=(h1 + 1) * HOUR,
                    score=float(z),
                    summary=f"{identity} sent {_fmt_bytes(total)} in {len(group)} hour(s), "
                    f"{_fmt_bytes(peak[1])} in its busiest hour",
                    why=f"{'over' if peak[5].startswith('all') else 'at the'} {peak[5]} it "
                    "usually sends about"
                    f" {_fmt_bytes(med_bytes)} an hour; "
                    f"this is {peak[1] / max(med_bytes, 1):.0f}x that (robust z {peak[3]:.1f}), "
                    f"with {ratio:.1f} bytes out per byte in (ratio z {peak[4]:.1f})",
                    evidence={
                        "hours": [float(g[0] * HOUR) for g in group],
                        "bytes_out": peak[1],
                        "bytes_in": peak[2],
                        "bytes_out_total": total,
                        "baseline_median_bytes_out": med_bytes,
                        "baseline": peak[5],
                        "z_bytes_out": round(peak[3], 3),
                        "z_out_in_ratio": round(peak[4], 3),
                        "out_in_ratio": round(ratio, 3),
                    },
                    plot=Plot(
                        kind="series",
                        title=f"bytes out per hour of {identity}",
                        x_label="time",
                        y_label="bytes out per hour",
                        baseline=series,
                        observed=observed,
                        band=(0.0, med_bytes),
                    ),
                )
            )
    return _finish(alerts, population)
