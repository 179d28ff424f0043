"""The beacon detector: pairs that connect at regular intervals with regular sizes (RITA)."""

from __future__ import annotations

import math
from typing import Any

from zerotls.monitor.alerts import Alert
from zerotls.monitor.detectors._common import (
    HOUR,
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
from zerotls.monitor.features import Settings, Window

__all__ = ["PERIODIC_SERVICES", "beacon_scores", "beacons", "bowley_skew", "periodic_service"]

PERIODIC_SERVICES: dict[tuple[str, int], tuple[str, float]] = {
    ("udp", 123): ("NTP", 100.0),
    ("udp", 53): ("DNS", 512.0),
    ("tcp", 53): ("DNS over TCP", 4096.0),
    ("tcp", 853): ("DNS over TLS", 4096.0),
    ("udp", 67): ("DHCP", 1500.0),
    ("udp", 68): ("DHCP", 1500.0),
    ("udp", 161): ("SNMP", 1500.0),
    ("udp", 162): ("SNMP traps", 1500.0),
    ("udp", 514): ("syslog", 2048.0),
    ("udp", 1900): ("SSDP", 1500.0),
}
"""Services periodic by design, and the largest typical request each sends: (protocol, port)
-> (name, bytes). NTP polls every 64 to 1,024 s with 48-byte packets; a "beacon" on port 123
that sends kilobytes is not NTP, and is judged like any other."""


def periodic_service(proto: str | None, port: int | None, size: float) -> str | None:
    """The service a periodic flow is, when its protocol, port and size all fit one."""
    if proto is None or port is None:
        return None
    known = PERIODIC_SERVICES.get((proto.lower(), int(port)))
    if known is None or size > known[1]:
        return None
    return known[0]


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


MIN_GAP_REGULARITY = 0.25
"""The gaps' MADM sub-score a beacon needs at least: their median absolute deviation under
about 38 % of the median gap. A 30 % jitter beacon (uniform, MADM 15 %) scores 0.7;
traffic whose gaps vary by as much as the interval scores 0, however steady its count."""

POLLER_MIN_DESTINATIONS = 8
"""An identity with regular flows to this many destinations on one schedule is a poller."""


def _pollers(rows: list[dict[str, Any]]) -> set[str]:
    """Identities that reach many destinations at the same interval: a monitoring server
    checking every host, a backup server, a configuration manager. C2 is one channel (or a
    few) from a host, not the same period to dozens of hosts, so their flows are not beacons.
    Periods count as one when they are within 20 % of each other."""
    from collections import Counter

    periods: dict[str, Counter[int]] = {}
    for r in rows:
        gap = float(r["gap_q2"] or 0.0)
        if gap <= 0:
            continue
        bucket = round(math.log(gap) / math.log(1.2))
        periods.setdefault(r["identity"], Counter())[bucket] += 1
    out = set()
    for identity, counts in periods.items():
        # Neighbouring buckets are the same schedule seen with a little jitter.
        best = max(counts[b - 1] + counts[b] + counts[b + 1] for b in counts)
        if best >= POLLER_MIN_DESTINATIONS:
            out.add(identity)
    return out


def beacons(beacon: Table, pairs: Table, window: Window, settings: Settings) -> Scored:
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
    rows = _rows(beacon)
    pollers = _pollers(rows)
    for r in rows:
        if is_local_broadcast(r["dst"]):
            continue
        if r["identity"] in pollers:
            continue  # a monitoring or backup server polling many hosts on one schedule
        sub = beacon_scores(r, window)
        adjusted = sub["score"] * popularity_factor(reach.get(r["dst"], 1))
        population.append(adjusted)
        # Timing is what makes a beacon: steady, all-day traffic with irregular gaps scores
        # well on duration and coverage alone, so the timing score must pass on its own too.
        if adjusted < settings.beacon_threshold or sub["timing"] < settings.beacon_threshold:
            continue
        if sub["timing_madm"] < MIN_GAP_REGULARITY:
            continue  # gaps that vary by as much as the interval itself: not a schedule
        size = float(r["size_q2"] or 0.0)
        service = periodic_service(r.get("proto"), r.get("port"), size)
        if service is not None:
            continue  # NTP, DNS, SNMP ...: periodic by design, and this flow looks like it
        gap = float(r["gap_q2"] or 0.0)
        known = PERIODIC_SERVICES.get((str(r.get("proto") or "").lower(), int(r.get("port") or 0)))
        not_discounted = (
            f"; on the {known[0]} port, but about {_fmt_bytes(size)} per connection where "
            f"{known[0]} sends at most {_fmt_bytes(known[1])}, so not discounted as {known[0]}"
            if known is not None
            else ""
        )
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
                f"{reach.get(r['dst'], 1)} of {n_identities} identities reach {r['dst']}"
                + not_discounted,
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
                    "port": r.get("port"),
                    "proto": r.get("proto"),
                },
            )
        )
    return _finish(alerts, population)
