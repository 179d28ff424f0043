"""The volume-spike detector: hours in which an identity sent far more than usual."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.detectors._common import HOUR, Scored, Table, _finish, _fmt_bytes, _rows, _runs
from zerotls.monitor.detectors.outlier import identity_group
from zerotls.monitor.features import Settings, Window

__all__ = ["destination_spikes", "volume_spikes"]

WEEK_HOURS: Final = 168
RATIO_NEEDS_Z_OUT: Final = 1.0
"""The bytes out must be at least this far (robust z) above usual before the out/in ratio
counts: an upload-heavy hour that sent no more than usual is a quiet download, not a leak."""
DEST_SPIKE_FACTOR: Final = 4.0
"""An hour to one destination counts towards a sustained upload there from this many times the
most the identity sent there in any baseline hour."""
DEST_SPIKE_MIN_HOURS: Final = 2
"""Consecutive such hours that make a sustained upload: one large file is one hour."""
DEST_SPIKE_MIN_OWN_HOURS: Final = 3
"""Baseline hours with the destination the identity needs for its own measure there (below
it, the destination is new to it: the new-destination detector's case)."""
DEST_SPIKE_MIN_OUT_IN: Final = 2.0
"""Bytes out per byte in over the run: an upload, not a call (calls send as much as they
receive)."""
NOTHING_BYTES: Final = 1000.0
"""A usual hour below this is "next to nothing": a multiple of it would mean nothing."""
EPOCH_WEEKDAY_OFFSET: Final = 72
"""1970-01-01 was a Thursday: adding 72 hours makes ``hour % 168`` count from Monday 00:00."""


# ---------------------------------------------------------------------------------------------
# Volume spike


def _robust(values: Any, q: float = 50.0) -> tuple[float, float]:
    """The ``q``-th percentile of ``values`` and their median absolute deviation."""
    import numpy as np

    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return (med if q == 50.0 else float(np.percentile(values, q))), mad


def volume_spikes(hourly: Table, window: Window, settings: Settings) -> Scored:
    """Hours in which an identity sent far more than at the same hour in the baseline.

    Works in log bytes (``log1p``) so heavy tails do not drown the scale. The baseline of an
    hour is the same hour of the week (when the identity has at least 3 such hours), else
    the same hour of the day (at least 5), else the identity's *active* baseline hours (at
    least 6 hours in which it sent anything: with a day or two of history, every hour of the
    night would otherwise make a workstation's usual hour look like zero bytes), else every
    baseline hour; in the first two, hours without traffic count as zero.

    An identity with less than half a day of its own history (a new host) is judged against
    its peers (``identity_group``): the active baseline hours of every identity of its group
    that has history, when there are at least 3 such identities.

    z = (x - median) / (1.4826 MAD), with the scale floored at 0.5 (a factor of about 1.6) so
    that a perfectly flat baseline does not make every wobble infinite. The out/in ratio is
    scored the same way: an upload-heavy hour from a download-heavy identity is what
    exfiltration looks like, when it also sent more than usual (``RATIO_NEEDS_Z_OUT``); the
    two then count as their geometric mean.
    """
    import numpy as np

    rows = _rows(hourly)
    by_identity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_identity[r["identity"]].append(r)
    start_hour = math.floor(window.start / HOUR)
    end_hour = math.ceil(window.end / HOUR)
    series_of: dict[str, _Series] = {}
    for identity, items in by_identity.items():
        series_of[identity] = _Series.of(items, end_hour, start_hour)
    # The peers' active baseline hours, for identities without enough history of their own.
    peer_out: dict[str, list[Any]] = defaultdict(list)
    peer_ratio: dict[str, list[Any]] = defaultdict(list)
    peer_count: dict[str, int] = defaultdict(int)
    for identity, ser in series_of.items():
        if ser.has_history:
            name = identity_group(identity)
            active = ser.active
            peer_out[name].append(ser.log_out[active])
            peer_ratio[name].append(ser.log_ratio[active])
            peer_count[name] += 1
    alerts: list[Alert] = []
    population: list[float] = []
    for identity, ser in series_of.items():
        peer_group = identity_group(identity)
        if not ser.has_history and peer_count[peer_group] < 3:
            continue  # no history of its own and too few peers: nothing to compare with
        first_hour, hours, out, inn = ser.first_hour, ser.hours, ser.out, ser.inn
        n = len(hours)
        log_out, log_ratio, base_mask = ser.log_out, ser.log_ratio, ser.base_mask
        how = (hours + EPOCH_WEEKDAY_OFFSET) % WEEK_HOURS
        hod = hours % 24
        peers: tuple[Any, Any] | None = None
        if not ser.has_history:
            peers = (
                np.concatenate(peer_out[peer_group]),
                np.concatenate(peer_ratio[peer_group]),
            )
        flagged: list[tuple[int, float, float, float, float, str, float, float]] = []
        for index in np.flatnonzero(~base_mask):
            i = int(index)
            h = int(hours[i])
            if h >= end_hour:
                continue
            if peers is not None:
                base_out, base_ratio = peers
                kind = f"busiest hours of its peers in {peer_group} (90th percentile)"
            else:
                same_week = base_mask & (how == how[i])
                same_day = base_mask & (hod == hod[i])
                if same_week.sum() >= 3:
                    mask, kind = same_week, "same hour of the week"
                elif same_day.sum() >= 5:
                    mask, kind = same_day, "same hour of the day"
                elif ser.active.sum() >= 6:
                    mask, kind = ser.active, "its busiest baseline hours (90th percentile)"
                else:
                    mask, kind = base_mask, "all baseline hours"
                base_out, base_ratio = log_out[mask], log_ratio[mask]
            # Without an hour-of-day profile, the usual hour is unknown: compare with the
            # identity's (or its peers') busy hours, not with a median that nights pull to 0.
            q = 90.0 if peers is not None or kind.startswith("its") else 50.0
            med, mad = _robust(base_out, q)
            z_out = (log_out[i] - med) / max(1.4826 * mad, 0.5)
            rmed, rmad = _robust(base_ratio, q)
            z_ratio = (log_ratio[i] - rmed) / max(1.4826 * rmad, 0.5)
            # The out/in ratio corroborates more bytes than usual; on its own (an hour that
            # sent no more than usual, only received less) it is not a spike. Together they
            # count as their geometric mean: both must be unusual for the pair to be.
            ratio_counts = out[i] >= settings.volume_min_bytes and z_out >= RATIO_NEEDS_Z_OUT
            both = math.sqrt(z_out * z_ratio) if ratio_counts and z_ratio > 0 else 0.0
            score = float(max(z_out, both))
            population.append(score)
            if out[i] >= settings.volume_min_bytes and score >= settings.volume_threshold:
                flagged.append(
                    (
                        h,
                        float(out[i]),
                        float(inn[i]),
                        float(z_out),
                        float(z_ratio),
                        kind,
                        med,
                        score,
                    )
                )
        # One alert per run of consecutive hours.
        for group in _runs(flagged):
            peak = max(group, key=lambda g: g[7])
            h0, h1 = group[0][0], group[-1][0]
            total = sum(g[1] for g in group)
            med_bytes = float(np.expm1(peak[6]))
            lo = max(0, h0 - 24 * 7 - first_hour)
            series = tuple(
                (float(hours[j] * HOUR), float(out[j]))
                for j in range(lo, min(n, h1 - first_hour + 7))
            )
            observed = tuple((float(g[0] * HOUR), g[1]) for g in group)
            z = peak[7]
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
                    why=f"{_over(peak[5])} {peak[5]} {_subject(peak[5])} "
                    + (
                        f"usually sends about {_fmt_bytes(med_bytes)} an hour; this is "
                        f"{peak[1] / med_bytes:.0f}x that"
                        if med_bytes >= NOTHING_BYTES
                        else f"usually sends next to nothing (under {_fmt_bytes(NOTHING_BYTES)}"
                        ") an hour"
                    )
                    + f" (robust z {peak[3]:.1f}), "
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


def destination_spikes(pair_hours: Table, window: Window, settings: Settings) -> Scored:
    """Sustained uploads to one external destination, judged against the identity's own
    history there.

    The identity's hourly total hides them when it is noisy (calls of hundreds of MB an hour
    dwarf 30 MB to the payroll service), and the destination is not new. What gives them away
    is the pair itself: hour after hour (``DEST_SPIKE_MIN_HOURS`` consecutive), at least
    ``DEST_SPIKE_FACTOR`` times the most the identity ever sent there in a baseline hour,
    over the volume floor, and mostly one way (``DEST_SPIKE_MIN_OUT_IN``). A single large
    upload is one hour, a call is as much in as out; neither counts. Internal destinations
    (backups, file servers) are not egress and are left to the hourly volume.

    The score is how many times (log2) the run's smallest hour exceeds that most, so that a
    run is only as strong as its weakest hour; every pair with its own history is the
    population it is ranked in.
    """
    from zerotls.monitor.detectors._common import is_internal

    del window  # the table holds the window's hours only
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(pair_hours):
        if is_internal(r["dst"]) or int(r["base_hours"] or 0) < DEST_SPIKE_MIN_OWN_HOURS:
            continue
        by_pair[(r["identity"], r["dst"])].append(r)
    alerts: list[Alert] = []
    population: list[float] = []
    for (identity, dst), items in by_pair.items():
        most = max(float(items[0]["base_max"] or 0.0), 1.0)
        floor = max(float(settings.volume_min_bytes), DEST_SPIKE_FACTOR * most)
        over = [
            (int(r["hour"]), float(r["out_bytes"]), float(r["in_bytes"]), int(r["conns"]))
            for r in items
            if float(r["out_bytes"]) >= floor
        ]
        best = 0.0
        for run in _runs(over):
            out = sum(g[1] for g in run)
            inn = sum(g[2] for g in run)
            if len(run) < DEST_SPIKE_MIN_HOURS or out < DEST_SPIKE_MIN_OUT_IN * inn:
                continue
            weakest = min(g[1] for g in run)
            score = math.log2(weakest / most)
            best = max(best, score)
            h0, h1 = run[0][0], run[-1][0]
            alerts.append(
                Alert(
                    detector="volume-spike",
                    identity=identity,
                    destination=dst,
                    start=h0 * HOUR,
                    end=(h1 + 1) * HOUR,
                    score=score,
                    summary=f"{identity} sent {_fmt_bytes(out)} to {dst} in {len(run)} "
                    f"consecutive hours, at least {_fmt_bytes(weakest)} in each",
                    why=f"its most to {dst} in one baseline hour was {_fmt_bytes(most)} (over "
                    f"{int(items[0]['base_hours'])} hours there); every one of these hours sent "
                    f"{weakest / most:.0f}x that or more, {out / max(inn, 1.0):.0f} bytes out "
                    "per byte in: a sustained upload, not one large file",
                    evidence={
                        "hours": [float(g[0] * HOUR) for g in run],
                        "bytes_out": max(g[1] for g in run),
                        "bytes_in": inn,
                        "bytes_out_total": out,
                        "connections": sum(g[3] for g in run),
                        "weakest_bytes_out": weakest,
                        "own_most_bytes_out_per_hour_there": most,
                        "own_baseline_hours_there": int(items[0]["base_hours"]),
                        "weakest_hour_over_own_most": round(weakest / most, 3),
                        "baseline": "its own hours with this destination",
                    },
                )
            )
        population.append(best)
    return _finish(alerts, population)


def _over(kind: str) -> str:
    return "at the" if kind.startswith("same") else "over"


def _subject(kind: str) -> str:
    return "a peer" if "peers" in kind else "it"


@dataclass(frozen=True, slots=True)
class _Series:
    """One identity's bytes per hour, from its first hour to the end of the window."""

    first_hour: int
    hours: Any
    out: Any
    inn: Any
    log_out: Any
    log_ratio: Any
    base_mask: Any
    active: Any
    """Baseline hours in which the identity sent anything."""
    has_history: bool
    """At least half a day of baseline of its own."""

    @classmethod
    def of(cls, items: list[dict[str, Any]], end_hour: int, start_hour: int) -> _Series:
        import numpy as np

        first_hour = min(int(min(r["hour"] for r in items)), start_hour)
        n = max(end_hour - first_hour, 0)
        out = np.zeros(n)
        inn = np.zeros(n)
        for r in items:
            i = int(r["hour"]) - first_hour
            if 0 <= i < n:
                out[i] = r["out_bytes"] or 0
                inn[i] = r["in_bytes"] or 0
        hours = np.arange(first_hour, end_hour)
        base_mask = hours < start_hour
        seen = int(min(r["hour"] for r in items))
        return cls(
            first_hour=first_hour,
            hours=hours,
            out=out,
            inn=inn,
            log_out=np.log1p(out),
            log_ratio=np.log((out + 1.0) / (inn + 1.0)),
            base_mask=base_mask,
            active=base_mask & (out > 0),
            has_history=seen <= start_hour - 12,
        )
