"""The new-destination detector: a destination an identity never reached in the baseline."""

from __future__ import annotations

from typing import Any

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.detectors._common import (
    Scored,
    Table,
    _finish,
    _fmt_bytes,
    _Pairs,
    is_internal,
    is_local_broadcast,
)
from zerotls.monitor.features import Settings, Window

__all__ = ["new_destinations"]


# ---------------------------------------------------------------------------------------------
# New destination


MIN_BASELINE = 12 * 3600.0
"""History an identity needs before its new destinations are judged (cold start: a day of
logs is enough; the output says how much there was)."""


NEW_DESTINATION_UPLOAD = 100_000_000
"""Bytes sent to a never-seen destination at which the upload alone makes it worth an alert
(scaled: 30 MB to a destination nobody reached scores 0.3, the reporting threshold)."""


POLLER_BREADTH = 50
"""Baseline destinations from which an identity that reaches half the internal hosts is
infrastructure (monitoring, backups, configuration management)."""

SWEEPER_WEIGHT = 0.25
"""What a new internal destination of such an identity weighs."""


SPREAD_FALL_MAX = 0.5
"""The most the spread rate may keep from one identity to the next when extrapolated."""

SPREAD_DAY = 86400.0
"""How long after a destination first appears the identities that meet it count as its
spread, in the baseline as in the window."""


def _spreads_per_day(p: _Pairs, window: Window, reach: Any) -> Any:
    """For each count in ``reach``: how many destinations a day reached that many identities
    in the baseline from nowhere (nobody had reached them before) within a day of appearing.

    Where the web has a long tail, a few never-seen sites reach several browsers every day;
    where the population shares a fixed set of services, that almost never happens. The
    window's spread is judged against this network's own rate, not a constant. A short
    baseline rarely holds the largest spreads, so beyond the largest one seen the rate is
    extrapolated geometrically from how the counts fall between 2 and 3 identities.
    """
    import numpy as np

    n_dst = len(p.destinations)
    appeared = np.full(n_dst, np.inf)
    np.minimum.at(appeared, p.dst, p.first_seen)
    if not np.isfinite(appeared).any():
        return np.zeros(len(reach))
    learned = float(np.min(appeared)) + MIN_BASELINE
    span = (window.start - learned) / SPREAD_DAY
    fresh = (appeared >= learned) & (appeared < window.start)
    if span <= 0 or not fresh.any():
        return np.zeros(len(reach))
    early = (
        fresh[p.dst]
        & (p.first_seen < window.start)
        & (p.first_seen <= appeared[p.dst] + SPREAD_DAY)
    )
    sizes = np.bincount(p.dst[early], minlength=n_dst)[fresh]
    top = int(sizes.max())
    at_least = np.array([(sizes >= n).sum() for n in range(top + 2)], dtype=np.float64)
    fall = min(at_least[3] / at_least[2], SPREAD_FALL_MAX) if top >= 3 else 0.0
    n = np.asarray(reach, dtype=np.int64)
    counted = at_least[np.minimum(n, top + 1)]
    beyond = at_least[top] * fall ** np.maximum(n - top, 0)
    return np.where(n <= top, counted, beyond) / max(span, 0.5)


def new_destinations(pairs: Table, window: Window, settings: Settings) -> Scored:
    """A destination an identity never reached in the baseline, weighted by org-wide rarity.

    score = rarity x max(stability, spread), where rarity = 1 / (1 + identities that reached
    the destination in the baseline), stability = 1 / (1 + new destinations the identity
    added per day during the baseline), and spread = (1 - 1/k) x (1 - n/identities) for the n
    identities that reached the destination for the first time in this window (k counts
    those with stability below 0.5, who often meet new destinations, as half): one browsing
    host meeting a new site is normal, several hosts meeting the same never-seen site at once
    is how a spreading download or a shared C2 looks, and nearly every host meeting it is a
    roll-out. Identities with less than half a day of baseline are not judged (every
    destination of a new identity is new); a new deployment with a day of logs is judged.
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
    learned_from = first + MIN_BASELINE
    judged = learned_from <= window.start  # at least half a day of baseline (cold start)
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
    # With a short history the habit is also read from the window itself: an identity that
    # meets ten never-seen destinations today is browsing, and one more of them is no news
    # (with a week of history the baseline's own estimate takes over).
    certainty_of = np.minimum(1.0, days / 7.0)
    new_today = np.maximum(np.bincount(p.identity[new], minlength=n_identities), 1)
    stability = certainty_of * stability + (1.0 - certainty_of) * np.minimum(
        stability, 1.0 / new_today.astype(np.float64)
    )
    weight = np.where(stability[p.identity] >= 0.5, 1.0, 1.0 / 3.0)
    spread_by = np.bincount(p.dst[new], weights=weight[new], minlength=n_dst)
    candidates = np.flatnonzero(new & judged[p.identity])
    k = np.maximum(spread_by[p.dst[candidates]], 1.0)
    spread_all = (1.0 - 1.0 / k) * (1.0 - reach_new[p.dst[candidates]] / max(n_identities, 1))
    spread_rate = _spreads_per_day(p, window, reach_new[p.dst[candidates]])
    spread_all = spread_all / (1.0 + spread_rate)
    rarity_all = 1.0 / (1.0 + reach_base[p.dst[candidates]])
    # Stability learned from less than a week of history is a weak estimate (a host that
    # browsed little on its first afternoon looks stable), and then a single visit is weaker
    # evidence than a relationship: the first contact counts in full from 8 connections in
    # the window, a quarter for one (a page fetched once), and the discount fades out as the
    # identity's history grows to a week. Spread and upload are judged on their own.
    engagement = np.minimum(1.0, (1.0 + np.log2(np.maximum(p.n_window[candidates], 1))) / 4.0)
    certainty = np.minimum(1.0, days[p.identity[candidates]] / 7.0)
    engagement = engagement + (1.0 - engagement) * certainty
    scores = rarity_all * np.maximum(stability[p.identity[candidates]] * engagement, spread_all)
    # Infrastructure that reaches most of the network already (monitoring, backups,
    # configuration management): one more internal host is its routine, not news.
    breadth = np.bincount(p.identity[in_base], minlength=n_identities)
    internal_ids = sum(1 for name in p.identities if is_internal(name))
    sweeping = breadth >= max(POLLER_BREADTH, 0.5 * internal_ids)
    ports = pairs.column("port").to_pylist()
    out_window = pairs.column("out_window").to_pylist()
    in_window = pairs.column("in_window").to_pylist()
    alerts: list[Alert] = []
    population: list[float] = []
    for c, score_c, rarity_c, spread_c, spread_rate_c in zip(
        candidates, scores, rarity_all, spread_all, spread_rate, strict=True
    ):
        i = int(c)
        if is_local_broadcast(p.destinations[p.dst[i]]):
            continue
        # What was sent there counts too: a browsing host meets new sites all day (low
        # stability), but it does not upload tens of megabytes to one nobody knows. That is
        # how exfiltration to a fresh address looks, whatever the host's habits.
        upload = float(out_window[i] or 0)
        upload_score = float(rarity_c) * min(1.0, upload / NEW_DESTINATION_UPLOAD)
        routine = bool(sweeping[p.identity[i]]) and is_internal(p.destinations[p.dst[i]])
        judged_score = max(float(score_c) * (SWEEPER_WEIGHT if routine else 1.0), upload_score)
        population.append(judged_score)
        if judged_score < settings.new_destination_threshold:
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
        score = judged_score
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
            if spread_rate_c > 0:
                why += (
                    f" (here about {float(spread_rate_c):.1f} never-seen destination(s) a day "
                    f"reach that many, so the spread weighs 1/{1.0 + float(spread_rate_c):.1f})"
                )
        if routine:
            why += (
                f"; it reaches {int(breadth[code])} hosts already, as monitoring and backups "
                "do, so a new internal one weighs less"
            )
        if upload_score >= settings.new_destination_threshold:
            why += f"; and it sent {_fmt_bytes(upload)} there, which is how exfiltration looks"
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
                    "spreads_like_it_per_day": round(float(spread_rate_c), 3),
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
