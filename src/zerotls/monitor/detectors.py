"""Detectors: pure functions from feature tables (Arrow) to alerts with their evidence.

Each detector takes the small tables that features.py computed for a window, never the raw
events, and returns a :class:`Scored`: the alerts it raises and the scores of *every*
candidate it judged (the population its alerts are ranked in). None reads a clock, a file or
the store, so each can be tested on a handful of crafted rows, and run on Spark per group.

Each one alone is noisy, so each is built to be explained and to discount the benign look-alikes
it is known for:

- **new destination**: weighted by how many identities already reached the destination in
  the baseline (an org-wide service is not news) and by how often the identity adds new
  destinations anyway (a browser does, a database client does not);
- **volume spike**: robust z-score (median and MAD, in log bytes) of bytes out per hour and of
  the out/in ratio, against the same hour of the week, else of the day, else all hours;
- **beacon**: RITA's scores (Bowley skew and MADM of the gaps, connection count against the
  span, size skew, MADM and smallness, plus duration and hourly coverage), multiplied down
  for destinations many identities reach (update checks, NTP, telemetry);
- **long connection**, **probing** (bursts of denied / failed handshakes / refused
  connections), **legacy TLS** and weak or rare ciphers;
- **outlier**: IsolationForest per identity group over hourly features, with a fixed seed,
  explained by the features furthest from the group's median.
"""

from __future__ import annotations

import ipaddress
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.features import Settings, Window
from zerotls.monitor.schema import LEGACY_TLS_VERSIONS

__all__ = [
    "Scored",
    "beacons",
    "bowley_skew",
    "identity_group",
    "is_local_broadcast",
    "legacy_tls",
    "long_connections",
    "new_destinations",
    "outliers",
    "probing",
    "volume_spikes",
]

HOUR: Final = 3600.0
WEEK_HOURS: Final = 168
EPOCH_WEEKDAY_OFFSET: Final = 72
"""1970-01-01 was a Thursday: adding 72 hours makes ``hour % 168`` count from Monday 00:00."""

WEAK_CIPHER_MARKERS: Final = ("RC4", "DES", "NULL", "EXPORT", "EXP-", "ANON", "ADH", "MD5", "IDEA")


@dataclass(frozen=True, slots=True)
class Scored:
    """A detector's output: its alerts (ranked) and the size of the population judged."""

    alerts: list[Alert] = field(default_factory=list)
    candidates: int = 0


def is_local_broadcast(destination: str | None) -> bool:
    """Multicast and broadcast addresses (SSDP, mDNS, NetBIOS, ...): service discovery on
    the local network, periodic by design and never egress, so the beacon, long-connection
    and new-destination detectors skip them."""
    if not destination:
        return False
    try:
        addr = ipaddress.ip_address(destination)
    except ValueError:
        return False
    return addr.is_multicast or destination == "255.255.255.255"


def _rows(table: Any) -> list[dict[str, Any]]:
    return list(table.to_pylist()) if table is not None else []


def _fmt_bytes(n: float) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover


def _fmt_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * HOUR:
        return f"{s / 60:.1f} min"
    return f"{s / HOUR:.1f} h"


def _finish(alerts: list[Alert], population: Sequence[float]) -> Scored:
    ordered = sorted(population)
    import bisect

    ranked = []
    n = len(ordered)
    for a in alerts:
        rank = bisect.bisect_right(ordered, a.score) / n if n else 1.0
        ranked.append(_with_rank(a, rank))
    return Scored(ranked, n)


def _with_rank(alert: Alert, rank: float) -> Alert:
    from dataclasses import replace

    return replace(alert, rank=rank)


@dataclass(frozen=True, slots=True)
class _Pairs:
    """The pairs table as numpy arrays, identities and destinations as integer codes."""

    identities: list[str]
    destinations: list[str]
    identity: Any
    dst: Any
    first_seen: Any
    last_seen: Any
    n_base: Any
    n_window: Any

    @classmethod
    def of(cls, pairs: Any) -> _Pairs:
        import numpy as np
        import pyarrow as pa

        def codes(name: str) -> tuple[list[str], Any]:
            encoded = pairs.column(name).combine_chunks().dictionary_encode()
            if isinstance(encoded, pa.ChunkedArray):  # pragma: no cover - pyarrow versions
                encoded = encoded.combine_chunks()
            values = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            return [str(v) for v in encoded.dictionary.to_pylist()], values

        def num(name: str) -> Any:
            return pairs.column(name).to_numpy(zero_copy_only=False).astype(np.float64)

        identities, identity = codes("identity")
        destinations, dst = codes("dst")
        return cls(
            identities,
            destinations,
            identity,
            dst,
            num("first_seen"),
            num("last_seen"),
            num("n_base"),
            num("n_window"),
        )


def _prevalence(pairs: Any) -> tuple[dict[str, int], dict[str, int], int]:
    """(identities reaching each destination in the baseline, in baseline or window, total)."""
    import numpy as np

    if pairs is None or pairs.num_rows == 0:
        return {}, {}, 0
    p = _Pairs.of(pairs)
    n = len(p.destinations)
    base = np.bincount(p.dst[p.n_base > 0], minlength=n)
    every = np.bincount(p.dst, minlength=n)
    return (
        {d: int(c) for d, c in zip(p.destinations, base, strict=True) if c},
        {d: int(c) for d, c in zip(p.destinations, every, strict=True)},
        len(p.identities),
    )


# ---------------------------------------------------------------------------------------------
# New destination


def new_destinations(pairs: Any, window: Window, settings: Settings) -> Scored:
    """A destination an identity never reached in the baseline, weighted by org-wide rarity.

    score = rarity x max(stability, spread), where rarity = 1 / (1 + identities that reached
    the destination in the baseline), stability = 1 / (1 + new destinations the identity
    added per day during the baseline), and spread = (1 - 1/k) x (1 - n/identities) for the n
    identities that reached the destination for the first time in this window (k counts
    those with stability below 0.5, who often meet new destinations, as half): one browsing
    host meeting a new site is normal, several hosts meeting the same never-seen site at once
    is how a spreading download or a shared C2 looks, and nearly every host meeting it is a
    roll-out. Identities without a baseline day are not judged (every destination of a new
    identity is new).
    """
    import numpy as np

    if pairs is None or pairs.num_rows == 0:
        return Scored()
    p = _Pairs.of(pairs)
    n_identities, n_dst = len(p.identities), len(p.destinations)
    in_base = p.n_base > 0
    reach_base = np.bincount(p.dst[in_base], minlength=n_dst)
    # Each identity's first sighting, and how many destinations it added per day after its
    # first baseline day (its habit of meeting new destinations).
    first = np.full(n_identities, np.inf)
    np.minimum.at(first, p.identity, p.first_seen)
    learned_from = first + 86400.0
    judged = learned_from <= window.start  # at least a full baseline day
    added = np.bincount(
        p.identity,
        weights=(in_base & (p.first_seen >= learned_from[p.identity])).astype(np.float64),
        minlength=n_identities,
    )
    days = np.maximum((window.start - learned_from) / 86400.0, 1.0)
    rate = np.where(judged, added / days, np.inf)
    stability = np.where(judged, 1.0 / (1.0 + np.where(judged, rate, 0.0)), 0.0)
    # Identities meeting a destination for the first time in the window. Those that often
    # meet new destinations count half towards its spread: two browsers landing on the same
    # new site by chance are not a pattern, four hosts fetching from one never-seen host are.
    new = ~in_base & (p.n_window > 0)
    reach_new = np.bincount(p.dst[new], minlength=n_dst)
    weight = np.where(stability[p.identity] >= 0.5, 1.0, 0.5)
    spread_by = np.bincount(p.dst[new], weights=weight[new], minlength=n_dst)
    candidates = np.flatnonzero(new & judged[p.identity])
    k = np.maximum(spread_by[p.dst[candidates]], 1.0)
    spread_all = (1.0 - 1.0 / k) * (1.0 - reach_new[p.dst[candidates]] / max(n_identities, 1))
    rarity_all = 1.0 / (1.0 + reach_base[p.dst[candidates]])
    scores = rarity_all * np.maximum(stability[p.identity[candidates]], spread_all)
    ports = pairs.column("port").to_pylist()
    out_window = pairs.column("out_window").to_pylist()
    in_window = pairs.column("in_window").to_pylist()
    alerts: list[Alert] = []
    population: list[float] = []
    for c, score_c, rarity_c, spread_c in zip(
        candidates, scores, rarity_all, spread_all, strict=True
    ):
        i = int(c)
        if is_local_broadcast(p.destinations[p.dst[i]]):
            continue
        population.append(float(score_c))
        if score_c < settings.new_destination_threshold:
            continue
        code = int(p.identity[i])
        identity = p.identities[code]
        mine = np.flatnonzero((p.identity == code) & in_base)
        mine = mine[np.argsort(-p.n_base[mine], kind="stable")]
        usual = [(p.destinations[p.dst[u]], int(p.n_base[u])) for u in mine]
        r = {
            "dst": p.destinations[p.dst[i]],
            "port": ports[i],
            "first_seen": float(p.first_seen[i]),
            "last_seen": float(p.last_seen[i]),
            "n_window": int(p.n_window[i]),
            "out_window": out_window[i],
            "in_window": in_window[i],
        }
        score = float(score_c)
        rarity, spread = float(rarity_c), float(spread_c)
        stab, rate_i = float(stability[code]), float(rate[code])
        reach_new_d = int(reach_new[p.dst[i]])
        reach_base_d = int(reach_base[p.dst[i]])
        dst = r["dst"]
        port = r["port"]
        top = usual[:8]
        names = ", ".join(d for d, _ in top[:3]) or "none"
        others = reach_base_d
        who = "no other identity" if others == 0 else f"only {others} of {n_identities} identities"
        why = (
            f"{who} "
            f"reached {dst} in the baseline, and {identity} usually talks to "
            f"{len(usual)} destination(s) ({names}) and adds about {rate_i:.1f} new one(s) a day"
        )
        if reach_new_d > 1:
            why += f"; {reach_new_d} identities reached it for the first time in this window"
        alerts.append(
            Alert(
                detector="new-destination",
                identity=identity,
                destination=dst,
                start=float(r["first_seen"]),
                end=float(r["last_seen"]),
                score=score,
                summary=f"{identity} reached {dst}{f':{port}' if port else ''} for the first "
                f"time ({r['n_window']} connection(s), {_fmt_bytes(r['out_window'])} out)",
                why=why,
                evidence={
                    "first_seen": float(r["first_seen"]),
                    "identities_reaching_it_in_baseline": others,
                    "identities_new_to_it_in_window": reach_new_d,
                    "identities_total": n_identities,
                    "usual_destinations": [{"destination": d, "connections": c} for d, c in top],
                    "new_destinations_per_day_in_baseline": round(rate_i, 3),
                    "connections": int(r["n_window"]),
                    "bytes_out": int(r["out_window"]),
                    "bytes_in": int(r["in_window"]),
                    "port": port,
                    "rarity": round(rarity, 4),
                    "stability": round(stab, 4),
                    "spread": round(spread, 4),
                },
                plot=Plot(
                    kind="bars",
                    title=f"connections per destination: usual (baseline) vs {dst} (new)",
                    x_label="destination",
                    y_label="connections",
                    baseline=tuple((d, float(c)) for d, c in top),
                    observed=((dst, float(r["n_window"])),),
                ),
            )
        )
    return _finish(alerts, population)


# ---------------------------------------------------------------------------------------------
# Volume spike


def _robust(values: Any) -> tuple[float, float]:
    import numpy as np

    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return med, mad


def volume_spikes(hourly: Any, window: Window, settings: Settings) -> Scored:
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
        if first_hour >= start_hour - 24:
            continue  # less than a day of baseline
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
                    why=f"at the {peak[5]} it usually sends about {_fmt_bytes(med_bytes)} an hour; "
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


def _runs(flagged: Sequence[tuple[Any, ...]], step: int = 1) -> Iterable[list[tuple[Any, ...]]]:
    """Split items sorted by their first field into runs of consecutive values."""
    run: list[tuple[Any, ...]] = []
    for item in sorted(flagged, key=lambda g: g[0]):
        if run and item[0] - run[-1][0] > step:
            yield run
            run = []
        run.append(item)
    if run:
        yield run


# ---------------------------------------------------------------------------------------------
# Beacon


def bowley_skew(q1: float, q2: float, q3: float) -> float:
    """Bowley's quartile skewness; 0 when the quartiles coincide (perfectly regular)."""
    den = q3 - q1
    if den <= 0 or q2 in (q1, q3):
        return 0.0
    return (q1 + q3 - 2.0 * q2) / den


def beacon_scores(r: dict[str, Any], window: Window) -> dict[str, float]:
    """The sub-scores of one pair (all in 0..1, 1 = most beacon-like), as RITA computes them.

    Departure from RITA: the MADM of the gaps is judged against half the median gap (at least
    30 s) rather than a fixed 30 s, so a 10-minute beacon with 20 % jitter still scores.
    """
    gap_q2 = float(r["gap_q2"] or 0.0)
    span = float(r["last_ts"] - r["first_ts"])
    ts_skew = 1.0 - abs(bowley_skew(r["gap_q1"] or 0.0, gap_q2, r["gap_q3"] or 0.0))
    ts_madm = max(0.0, 1.0 - float(r["gap_madm"] or 0.0) / max(30.0, 0.5 * gap_q2))
    expected = span / gap_q2 if gap_q2 > 0 else 0.0
    ts_count = min(1.0, r["n"] / expected) if expected > 0 else 0.0
    size_q2 = float(r["size_q2"] or 0.0)
    ds_skew = 1.0 - abs(bowley_skew(r["size_q1"] or 0.0, size_q2, r["size_q3"] or 0.0))
    ds_madm = max(0.0, 1.0 - float(r["size_madm"] or 0.0) / max(32.0, 0.05 * size_q2))
    ds_small = max(0.0, 1.0 - size_q2 / 65535.0)
    duration = min(1.0, span / max(window.end - window.start, 1.0))
    hours_spanned = max(1.0, math.ceil(span / HOUR))
    histogram = min(1.0, float(r["hours_seen"]) / hours_spanned)
    timing = (ts_skew + ts_madm + ts_count) / 3.0
    size = (ds_skew + ds_madm + ds_small) / 3.0
    return {
        "timing": timing,
        "timing_skew": ts_skew,
        "timing_madm": ts_madm,
        "timing_count": ts_count,
        "size": size,
        "size_skew": ds_skew,
        "size_madm": ds_madm,
        "size_smallness": ds_small,
        "duration": duration,
        "histogram": histogram,
        "score": (timing + size + duration + histogram) / 4.0,
    }


def popularity_factor(identities: int) -> float:
    """1 for a destination one identity reaches, 0.67 for 2, 0.5 for 4, 0.25 for 64."""
    return 1.0 / (1.0 + 0.5 * math.log2(max(identities, 1)))


def beacons(beacon: Any, pairs: Any, window: Window, settings: Settings) -> Scored:
    """Pairs that connect at regular intervals with regular sizes across the window.

    A pair is reported when both its timing score and its overall score, divided by
    ``1 + 0.5 log2(identities reaching the destination)``, reach ``beacon_threshold``: periodic
    traffic that many hosts send (update checks, NTP, telemetry) is the classic benign beacon,
    while a C2 channel usually has one or two hosts behind it. (A fleet-wide compromise
    beaconing from every host is then found as a new destination, not as a beacon.)
    """
    _, reach, n_identities = _prevalence(pairs)
    alerts: list[Alert] = []
    population: list[float] = []
    for r in _rows(beacon):
        if is_local_broadcast(r["dst"]):
            continue
        sub = beacon_scores(r, window)
        adjusted = sub["score"] * popularity_factor(reach.get(r["dst"], 1))
        population.append(adjusted)
        # Timing is what makes a beacon: steady, all-day traffic with irregular gaps scores
        # well on duration and coverage alone, so the timing score must pass on its own too.
        if adjusted < settings.beacon_threshold or sub["timing"] < settings.beacon_threshold:
            continue
        gap = float(r["gap_q2"] or 0.0)
        alerts.append(
            Alert(
                detector="beacon",
                identity=r["identity"],
                destination=r["dst"],
                start=float(r["first_ts"]),
                end=float(r["last_ts"]),
                score=adjusted,
                summary=f"{r['identity']} connects to {r['dst']} every {_fmt_seconds(gap)} "
                f"({r['n']} connections, about {_fmt_bytes(r['size_q2'] or 0)} each)",
                why=f"gaps vary by only {_fmt_seconds(float(r['gap_madm'] or 0))} around "
                f"{_fmt_seconds(gap)} and sizes by {float(r['size_madm'] or 0):.0f} bytes, over "
                f"{sub['duration'] * 100:.0f} % of the window; only "
                f"{reach.get(r['dst'], 1)} of {n_identities} identities reach {r['dst']}",
                evidence={
                    "score": round(sub["score"], 4),
                    "adjusted_score": round(adjusted, 4),
                    "subscores": {k: round(v, 4) for k, v in sub.items() if k != "score"},
                    "median_interval_s": gap,
                    "interval_madm_s": float(r["gap_madm"] or 0),
                    "typical_bytes_out": float(r["size_q2"] or 0),
                    "size_madm_bytes": float(r["size_madm"] or 0),
                    "connections": int(r["n"]),
                    "hours_with_connections": int(r["hours_seen"]),
                    "identities_reaching_destination": reach.get(r["dst"], 1),
                    "identities_total": n_identities,
                },
            )
        )
    return _finish(alerts, population)


# ---------------------------------------------------------------------------------------------
# Long connections


def long_connections(long: Any, durations: Any, pairs: Any, settings: Settings) -> Scored:
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


# ---------------------------------------------------------------------------------------------
# Probing


def probing(failures: Any, window: Window, settings: Settings) -> Scored:
    """Bursts of failed attempts: denied by policy, failed handshakes, refused connections.

    A ten-minute slot is flagged when its failures reach ``probe_min_failures`` and three
    times the identity's 99th percentile of failures per slot in the baseline (slots without
    failures count as zero). Consecutive flagged slots make one alert.
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
                    "scanning and credential or identity probing look",
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
    return _finish(alerts, population)


# ---------------------------------------------------------------------------------------------
# Legacy TLS, weak and rare ciphers


def _weak_cipher(cipher: str | None) -> bool:
    if not cipher:
        return False
    upper = cipher.upper()
    return any(m in upper for m in WEAK_CIPHER_MARKERS) or "3DES" in upper


def legacy_tls(tls: Any, ciphers: Any, settings: Settings) -> Scored:
    """TLS versions deprecated by RFC 8996 / RFC 7568, weak cipher suites, and ciphers almost
    nobody else in the fleet negotiates."""
    totals = {r["cipher"]: r for r in _rows(ciphers)}
    all_tls = sum(int(r["n"]) for r in totals.values()) or 1
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    population: list[float] = []
    for r in _rows(tls):
        grouped[(r["identity"], r["dst"])].append(r)
    alerts = []
    for (identity, dst), items in grouped.items():
        issues: list[str] = []
        score = 0.0
        for r in items:
            version, cipher = r["tls_version"], r["cipher"]
            if version in LEGACY_TLS_VERSIONS:
                issues.append(f"{version} ({r['n']} connection(s))")
                score = max(score, 1.0 if version.startswith("SSL") else 0.9)
            if _weak_cipher(cipher):
                issues.append(f"weak cipher {cipher}")
                score = max(score, 0.85)
            elif cipher in totals:
                share = totals[cipher]["n"] / all_tls
                if share < settings.rare_cipher_share and totals[cipher]["identities"] <= 2:
                    issues.append(f"rare cipher {cipher} ({share * 100:.3f} % of TLS connections)")
                    score = max(score, 0.5)
        population.append(score)
        if not issues:
            continue
        versions: dict[str, int] = defaultdict(int)
        for r in items:
            versions[str(r["tls_version"] or "unknown")] += int(r["n"])
        fleet = sorted(totals.values(), key=lambda t: -t["n"])[:6]
        alerts.append(
            Alert(
                detector="legacy-tls",
                identity=identity,
                destination=dst,
                start=float(min(r["first_ts"] for r in items)),
                end=float(max(r["last_ts"] for r in items)),
                score=score,
                summary=f"{identity} to {dst}: {'; '.join(sorted(set(issues)))}",
                why="TLS 1.0/1.1 and SSL are deprecated (RFC 8996, RFC 7568) and weak or unusual "
                "ciphers mean an old or unusual client or server: find which, and upgrade it or "
                "put the zerotls tunnel in front of it",
                evidence={
                    "issues": sorted(set(issues)),
                    "versions": dict(versions),
                    "ciphers": sorted({str(r["cipher"]) for r in items if r["cipher"]}),
                },
                plot=Plot(
                    kind="bars",
                    title="cipher suites across the fleet vs this pair",
                    x_label="cipher",
                    y_label="connections",
                    baseline=tuple((str(t["cipher"]), float(t["n"])) for t in fleet),
                    observed=tuple((str(r["cipher"]), float(r["n"])) for r in items if r["cipher"]),
                ),
            )
        )
    return _finish(alerts, population)


# ---------------------------------------------------------------------------------------------
# Multivariate outliers

FEATURES: Final = (
    "bytes_out",
    "bytes_in",
    "connections",
    "destinations",
    "failed_share",
    "mean_duration",
)


def identity_group(identity: str) -> str:
    """The peer group an identity is compared with: a SPIFFE ID without its last path
    segment, an IPv4 /24 or IPv6 /64, a DNS name without its first label."""
    if identity.startswith("spiffe://"):
        head, _, _ = identity.rstrip("/").rpartition("/")
        return head if head.count("/") >= 2 else identity
    try:
        addr = ipaddress.ip_address(identity)
    except ValueError:
        _, dot, rest = identity.partition(".")
        return rest if dot and rest else identity
    prefix = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def outliers(hourly: Any, window: Window, settings: Settings) -> Scored:
    """Identity-hours unlike their group's hours, by IsolationForest (fixed seed).

    One forest per identity group (groups with fewer than ``outlier_min_rows`` baseline hours
    are pooled), fitted on the baseline hours only, so that the window cannot teach the model
    that its own anomaly is normal. A window hour is flagged above the ``outlier_threshold``
    quantile of the baseline's anomaly scores and when at least one feature is three robust
    deviations from the group's median, which is also what the alert names as the reason.
    """
    import numpy as np
    from sklearn.ensemble import IsolationForest

    # A fixed order, whatever order the engine returned the rows in: the forest subsamples
    # rows by position, so the same seed must see the same order to give the same answer.
    rows = sorted(_rows(hourly), key=lambda r: (r["identity"], r["hour"]))
    if not rows:
        return Scored()
    start_hour = math.floor(window.start / HOUR)
    x = np.array(
        [
            [
                math.log1p(r["out_bytes"] or 0),
                math.log1p(r["in_bytes"] or 0),
                math.log1p(r["conns"]),
                math.log1p(r["dsts"]),
                (r["failed"] or 0) / max(r["conns"], 1),
                math.log1p(r["mean_duration"] or 0.0),
                # Time of day, so that office hours are not outliers against the nights.
                math.sin(2 * math.pi * (r["hour"] % 24) / 24),
                math.cos(2 * math.pi * (r["hour"] % 24) / 24),
            ]
            for r in rows
        ]
    )
    nf = len(FEATURES)
    hod = np.array([int(r["hour"]) % 24 for r in rows])
    is_base = np.array([r["hour"] < start_hour for r in rows])
    groups = [identity_group(r["identity"]) for r in rows]
    counts: dict[str, int] = defaultdict(int)
    for g, b in zip(groups, is_base, strict=True):
        if b:
            counts[g] += 1
    groups = [g if counts[g] >= settings.outlier_min_rows else "*" for g in groups]
    garr = np.array(groups)
    alerts: list[Alert] = []
    population: list[float] = []
    for group in sorted(set(groups)):
        mask = garr == group
        base = mask & is_base
        win = mask & ~is_base
        if base.sum() < settings.outlier_min_rows or not win.any():
            continue
        model = IsolationForest(
            n_estimators=100,
            max_samples=min(256, int(base.sum())),
            random_state=settings.random_state,
        )
        model.fit(x[base])
        base_scores = -model.score_samples(x[base])
        threshold = float(np.quantile(base_scores, settings.outlier_threshold))
        floor = np.array([0.5, 0.5, 0.3, 0.3, 0.05, 0.3])
        sorted_base = np.sort(base_scores)
        idx = np.flatnonzero(win)
        scores = -model.score_samples(x[idx])
        flagged: list[tuple[int, int, float, Any, Any]] = []
        for i, s in zip(idx, scores, strict=True):
            rank = float(np.searchsorted(sorted_base, s, side="right") / len(sorted_base))
            population.append(rank)
            if s < threshold:
                continue
            # Explained against the group's hours at the same time of day when there are
            # enough of them (else all its hours): "vs typical" means typical at this hour.
            same = base & (hod == hod[i])
            ref = x[same][:, :nf] if same.sum() >= 10 else x[base][:, :nf]
            med = np.median(ref, axis=0)
            scale = np.maximum(1.4826 * np.median(np.abs(ref - med), axis=0), floor)
            z = (x[i][:nf] - med) / scale
            if float(np.max(np.abs(z))) >= 3.0:
                flagged.append((int(rows[i]["hour"]), int(i), rank, z, med))
        by_identity: dict[str, list[tuple[int, int, float, Any, Any]]] = defaultdict(list)
        for f in flagged:
            by_identity[rows[f[1]]["identity"]].append(f)
        for identity, items in by_identity.items():
            for run in _runs(items):
                peak = max(run, key=lambda f: f[2])
                i, z, med = peak[1], peak[3], peak[4]
                order = np.argsort(-np.abs(z))[:3]
                reasons = []
                for k in order:
                    if abs(z[k]) < 3.0:
                        continue
                    value, typical = _feature_value(k, x[i][k]), _feature_value(k, med[k])
                    reasons.append(
                        f"{FEATURES[k]} {_fmt_feature(k, value)} vs {_fmt_feature(k, typical)} "
                        f"typical ({'higher' if z[k] > 0 else 'lower'}, z {z[k]:.1f})"
                    )
                alerts.append(
                    Alert(
                        detector="outlier",
                        identity=identity,
                        destination=None,
                        start=run[0][0] * HOUR,
                        end=(run[-1][0] + 1) * HOUR,
                        score=peak[2],
                        summary=f"{identity} behaved unlike its group {group} for "
                        f"{len(run)} hour(s)",
                        why="; ".join(reasons) or "an unusual combination of its hourly features",
                        evidence={
                            "group": group,
                            "anomaly_rank_in_baseline": round(peak[2], 5),
                            "threshold_quantile": settings.outlier_threshold,
                            "features": {
                                FEATURES[k]: {
                                    "value": _feature_value(k, x[i][k]),
                                    "group_median": _feature_value(k, med[k]),
                                    "z": round(float(z[k]), 3),
                                }
                                for k in range(len(FEATURES))
                            },
                        },
                        plot=Plot(
                            kind="bars",
                            title=f"hourly features (log scale) vs {group} at this hour",
                            x_label="feature",
                            y_label="log1p(value)",
                            baseline=tuple(
                                (FEATURES[k], float(med[k])) for k in range(len(FEATURES))
                            ),
                            observed=tuple(
                                (FEATURES[k], float(x[i][k])) for k in range(len(FEATURES))
                            ),
                        ),
                    )
                )
    return _finish(alerts, population)


def _feature_value(k: int, v: float) -> float:
    return float(v) if FEATURES[k] == "failed_share" else float(math.expm1(v))


def _fmt_feature(k: int, v: float) -> str:
    name = FEATURES[k]
    if name in ("bytes_out", "bytes_in"):
        return _fmt_bytes(v)
    if name == "failed_share":
        return f"{v * 100:.0f} %"
    if name == "mean_duration":
        return _fmt_seconds(v)
    return f"{v:.0f}"
