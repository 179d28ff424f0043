"""Detection run: features (SQL) -> detectors (pure) -> evidence lookups -> allowlist -> severity.

This is the only detection module that talks to the store. It computes the feature tables
for the window, hands them to each detector, then adds the few details that need events
again (the top destinations of a spiky hour, the timestamps of a beacon for its plot, the
reasons behind a burst of denials) for the alerts only, applies the allowlist and
suppressions, and orders everything by the combined severity.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

from zerotls.errors import ConfigError
from zerotls.monitor import detectors
from zerotls.monitor.alerts import Alert, Plot, combine, findings, incidents, stands_alone
from zerotls.monitor.allowlist import Allowlist
from zerotls.monitor.detectors._common import _fmt_bytes
from zerotls.monitor.features import Settings, Window

__all__ = ["DEFAULT_BASELINE", "DEFAULT_SINCE", "Result", "default_window", "detect"]

DEFAULT_SINCE: Final = 24 * 3600.0
DEFAULT_BASELINE: Final = 14 * 86400.0


@dataclass(frozen=True, slots=True)
class Result:
    """What one detection run found."""

    window: Window
    alerts: list[Alert]
    """Active alerts, most severe first."""
    suppressed: list[Alert] = field(default_factory=list)
    unusual: list[Alert] = field(default_factory=list)
    """Noted, not alerted: statistical outliers no other detector corroborates
    (``stands_alone``: on their own they are mostly ordinary hours) and findings below
    ``Settings.alert_floor``; kept for context and explanation, most severe first."""
    allowlisted: int = 0
    candidates: dict[str, int] = field(default_factory=dict)
    """How many candidates each detector judged (the populations ranks are taken in)."""
    events: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)
    """How much baseline there was (``baseline_hours`` of ``asked_hours``) and, per detector
    that compares against history, what a short one limits (``limits``)."""

    def findings(self) -> list[Alert]:
        """Every active finding, incidents unfolded (their leads and related findings)."""
        return [f for a in self.alerts for f in a.findings()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "coverage": self.coverage,
            "window": {
                "start": self.window.start,
                "end": self.window.end,
                "baseline_start": self.window.base,
            },
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "candidates": self.candidates,
            "allowlisted": self.allowlisted,
            "alerts": [a.to_dict() for a in self.alerts],
            "suppressed": [a.to_dict() for a in self.suppressed],
            "unusual": [a.to_dict() for a in self.unusual],
        }


def default_window(
    store: EventSource,
    *,
    since: float | None = None,
    until: float | None = None,
    since_seconds: float = DEFAULT_SINCE,
    baseline_seconds: float = DEFAULT_BASELINE,
) -> Window:
    """The window to judge: by default the last 24 hours *of data* (logs may be old), and
    the 14 days before it as the baseline.

    Raises:
        ConfigError: the store is empty, or the window is empty.
    """
    span = store.time_range()
    if span is None:
        raise ConfigError(
            "the monitor store has no events yet: read some first with "
            "`zerotls monitor ingest PATH`"
        )
    end = until if until is not None else span[1] + 1e-3
    start = since if since is not None else end - since_seconds
    if start >= end:
        raise ConfigError("the detection window is empty: --since must be before --until")
    return Window(start=start, end=end, base=start - baseline_seconds)


def detect(
    store: EventSource,
    window: Window,
    *,
    settings: Settings | None = None,
    allowlist: Allowlist | None = None,
    only: tuple[str, ...] = (),
    merge: bool = True,
) -> Result:
    """Run every detector (or ``only`` those named) over ``window``.

    With ``merge`` (the default) each identity's findings that overlap in time are one alert
    (an incident, see :func:`~zerotls.monitor.alerts.incidents`); without it every finding is
    its own alert.
    """
    settings = settings or Settings()
    allowlist = allowlist or Allowlist()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    feats = store.features(window, settings)
    timings["features"] = time.perf_counter() - t
    runs: dict[str, Callable[[], detectors.Scored]] = {
        "new-destination": lambda: detectors.new_destinations(feats["pairs"], window, settings),
        "volume-spike": lambda: _both(
            detectors.volume_spikes(feats["hourly"], window, settings),
            detectors.destination_spikes(feats["pair_hours"], window, settings),
        ),
        "beacon": lambda: detectors.beacons(feats["beacon"], feats["pairs"], window, settings),
        "long-connection": lambda: detectors.long_connections(
            feats["long"], feats["durations"], feats["pairs"], settings
        ),
        "probing": lambda: detectors.probing(feats["failures"], window, settings),
        "fan-out": lambda: detectors.fan_out(
            feats["reach"], window, settings, judged=_identities(feats["hourly"])
        ),
        "legacy-tls": lambda: detectors.legacy_tls(feats["tls"], feats["ciphers"], settings),
        "outlier": lambda: detectors.outliers(
            feats["hourly"], window, settings, scores=feats.get("outlier_scores")
        ),
    }
    found: list[Alert] = []
    candidates: dict[str, int] = {}
    coverage = baseline_coverage(store, window, settings)
    for name, run in runs.items():
        if name == "fan-out" and coverage["baseline_hours"] < FAN_OUT_MIN_HISTORY_HOURS:
            continue  # "nobody reached it before" means nothing without a before
        if only and name not in only:
            continue
        t = time.perf_counter()
        scored = run()
        timings[name] = time.perf_counter() - t
        candidates[name] = scored.candidates
        found.extend(scored.alerts)
    t = time.perf_counter()
    kept: list[Alert] = []
    allowlisted = 0
    for found_alert in found:
        alert = _enrich(store, found_alert, window)
        if allowlist.allowed(alert.detector, alert.identity, alert.destination, window.end):
            allowlisted += 1
            continue
        kept.append(alert)
    ordered = combine(kept)
    active, suppressed = [], []
    for alert in ordered:
        entry = allowlist.suppressed(alert.detector, alert.identity, alert.destination, window.end)
        if entry is None:
            active.append(alert)
        else:
            suppressed.append(replace(alert, suppressed=entry.reason))
    timings["evidence"] = time.perf_counter() - t
    events = store.rows(
        "SELECT count(*) FROM events WHERE ts >= ? AND ts < ?", [window.base, window.end]
    )
    listed = incidents(active) if merge else findings(active)
    noted = [_noted_only(a, settings) for a in listed]
    return Result(
        coverage=coverage,
        window=window,
        alerts=[a for a, n in zip(listed, noted, strict=True) if not n],
        unusual=[a for a, n in zip(listed, noted, strict=True) if n],
        suppressed=suppressed,
        allowlisted=allowlisted,
        candidates=candidates,
        events=int(events[0][0]) if events else 0,
        seconds=time.perf_counter() - started,
        timings=timings,
    )


def _noted_only(alert: Alert, settings: Settings) -> bool:
    """Not an alert: resting on statistical outliers alone, or discounted by its own
    explanation (``evidence["discount"]`` below 1: others send as much there) to a severity
    below the alert floor."""
    if stands_alone(alert):
        return True
    discounted = float(alert.evidence.get("discount", 1.0)) < 1.0
    return discounted and alert.severity < settings.alert_floor


_FULL_BASELINE_HOURS: Final = 7 * 24.0
"""A week of history sees every weekly rhythm once; below it the limits are said."""
FAN_OUT_MIN_HISTORY_HOURS: Final = 12.0
"""Below this much history the fan-out detector does not run (as new-destination, which
needs the same half day before it judges an identity)."""


def baseline_coverage(store: EventSource, window: Window, settings: Settings) -> dict[str, Any]:
    """How much history the window is judged against, and what a short one limits.

    A new deployment has a day or two of logs, not two weeks: every detector runs with what
    there is, and the output says so instead of returning nothing or pretending.
    """
    row = store.rows(
        "SELECT min(ts) FROM events WHERE ts >= ? AND ts < ?", [window.base, window.start]
    )
    first = row[0][0] if row and row[0][0] is not None else None
    asked = (window.start - window.base) / 3600.0
    have = 0.0 if first is None else (window.start - max(float(first), window.base)) / 3600.0
    limits: list[str] = []
    if have < _FULL_BASELINE_HOURS:
        span = f"{have:.0f} h of history" if have >= 1 else "no history before the window"
        limits = [
            f"new-destination: {span}; a destination reached weekly may look new",
            f"volume-spike: {span}; an identity's usual hours are known only as far back",
            f"long-connection: {span}; usual durations are estimated from that",
            f"fan-out: {span}; a host reached only now and then may look never reached"
            if have >= FAN_OUT_MIN_HISTORY_HOURS
            else f"fan-out: not judged with less than {FAN_OUT_MIN_HISTORY_HOURS:g} h of "
            "history (every host would be one nobody reached before)",
        ]
        if have < settings.outlier_min_rows:
            limits.append(
                f"outlier: fewer than {settings.outlier_min_rows} baseline hours per identity "
                "group, so groups are pooled"
            )
        limits.append("beacon, probing, legacy-tls: judge the window alone (not limited)")
    return {
        "baseline_hours": round(have, 1),
        "asked_hours": round(asked, 1),
        "limits": limits,
    }


class EventSource(Protocol):
    """Where detection reads events: the DuckDB :class:`Store`, or Spark over the Parquet
    export (``zerotls.monitor.spark.SparkEvents``). Both answer the same SQL."""

    def features(self, window: Window, settings: Settings) -> dict[str, Any]: ...

    def rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]: ...

    def time_range(self) -> tuple[float, float] | None: ...


def _identities(hourly: Any) -> int:
    """How many identities the hourly table has (active in the baseline or the window)."""
    if hourly is None or hourly.num_rows == 0:
        return 0
    return len(set(hourly.column("identity").to_pylist()))


OWN_HISTORY_HOURS: Final = 3
"""Baseline hours with a destination from which an identity's own history there is its
measure (fewer: the others' is)."""
USUAL_THERE_MIN_OTHERS: Final = 2
"""Other identities that must have reached a destination in the baseline before what one of
them sent there in an hour makes as much from this identity usual."""
VOLUME_REST_MIN: Final = 5_000_000
"""Bytes an hour that must go elsewhere than to a usual destination before they stand on
their own (the volume-spike detector's own floor)."""


def _both(first: detectors.Scored, second: detectors.Scored) -> detectors.Scored:
    """One detector's two kinds of finding (each ranked in its own population)."""
    return detectors.Scored(first.alerts + second.alerts, first.candidates + second.candidates)


def _beyond(excess: float) -> float:
    """How far above what was sent to a destination before counts: as much a quarter, twice
    three quarters, four times in full."""
    return min(1.0, max(0.25, 0.5 + 0.25 * math.log2(max(excess, 1e-9))))


def _enrich_sustained(store: EventSource, alert: Alert, window: Window) -> Alert:
    """A sustained upload to one destination, weighed by what others send there: to a service
    where other identities send as much in an hour it counts less (``_beyond``)."""
    row = store.rows(
        "SELECT count(DISTINCT identity), max(b) FROM (SELECT identity, floor(ts / 3600) AS h, "
        "sum(bytes_out) AS b FROM events WHERE dst_host = ? AND identity <> ? AND ts >= ? "
        "AND ts < ? AND outcome = 'ok' GROUP BY identity, h)",
        [alert.destination, alert.identity, window.base, window.start],
    )
    others = int(row[0][0] or 0) if row else 0
    most = float(row[0][1] or 0.0) if row else 0.0
    weakest = float(alert.evidence["weakest_bytes_out"])
    if others < USUAL_THERE_MIN_OTHERS:
        factor = 1.0
        where = f"{'no' if others == 0 else 'one'} other identity reached it in the baseline"
    else:
        factor = _beyond(weakest / max(most, 1.0))
        where = (
            f"{others} other identities reached it in the baseline, the most one of them sent "
            f"in an hour was {_fmt_bytes(most)}"
        )
    evidence = {
        **alert.evidence,
        "discount": round(factor, 3),
        "identities_reaching_top_destination": others,
        "most_bytes_out_per_hour_to_it_by_others": most,
    }
    return replace(alert, evidence=evidence, why=f"{alert.why}; {where}", rank=alert.rank * factor)


def _enrich(store: EventSource, alert: Alert, window: Window) -> Alert:
    """Add the evidence that needs the events again (only for alerts, so it stays cheap)."""
    if alert.detector == "volume-spike" and alert.destination is not None:
        return _enrich_sustained(store, alert, window)
    if alert.detector in ("volume-spike", "outlier"):
        rows = store.rows(
            "SELECT dst_host, sum(bytes_out) AS b, count(*) AS n FROM events "
            "WHERE identity = ? AND ts >= ? AND ts < ? GROUP BY dst_host ORDER BY b DESC LIMIT 5",
            [alert.identity, alert.start, alert.end],
        )
        top = [
            {"destination": r[0], "bytes_out": int(r[1]), "connections": int(r[2])} for r in rows
        ]
        evidence = {**alert.evidence, "top_destinations": top}
        summary = alert.summary
        if not top:
            return replace(alert, evidence=evidence)
        summary += f", mostly to {top[0]['destination']}"
        if alert.detector != "volume-spike":
            return replace(alert, evidence=evidence, summary=summary)
        # Bytes to a destination where others send as much (a call service, the file share)
        # are less alarming than bytes nobody here has ever sent there: the rank is weighted
        # by the most any other identity sent to it in one baseline hour, and by how many
        # reach it. Far above that, how popular the destination is no longer matters.
        hours = max(1.0, math.ceil((alert.end - alert.start) / 3600.0))
        names = [t["destination"] for t in top]
        marks = ", ".join("?" for _ in names)
        # S608: only placeholders are formatted in; the names are parameters.
        # Per destination, in the baseline: how many others reached it, the most one of them
        # sent there in an hour, and the most this identity itself did, which counts from
        # OWN_HISTORY_HOURS hours there on (None: never or hardly there; one short call to a
        # relay says little about what a call there sends).
        seen: dict[str, tuple[int, float, float | None]] = {
            str(r[0]): (
                int(r[1] or 0),
                float(r[2] or 0.0),
                None if r[3] is None or int(r[4] or 0) < OWN_HISTORY_HOURS else float(r[3]),
            )
            for r in store.rows(
                "SELECT dst_host, count(DISTINCT CASE WHEN identity <> ? THEN identity END), "  # noqa: S608
                "max(CASE WHEN identity <> ? THEN b END), max(CASE WHEN identity = ? THEN b END), "
                "count(CASE WHEN identity = ? THEN 1 END) "
                "FROM (SELECT dst_host, identity, floor(ts / 3600) AS h, sum(bytes_out) AS b "
                f"FROM events WHERE dst_host IN ({marks}) AND ts >= ? AND ts < ? "
                "GROUP BY dst_host, identity, h) GROUP BY dst_host",
                [*([alert.identity] * 4), *names, window.base, window.start],
            )
        }

        # The busiest hour's share of the alert's bytes: a destination is judged by its
        # peak hour, not by an average that a quiet second hour dilutes.
        total = float(alert.evidence.get("bytes_out_total") or 0.0)
        peak = float(alert.evidence.get("bytes_out") or 0.0)
        peak_share = peak / total if total > 0 and peak > 0 else 1.0 / hours

        def usual_there(t: dict[str, Any]) -> bool:
            """This much an hour is not new there: against the identity's own history with
            the destination when it has one (half as much in a baseline hour), else against
            the others' (one of them did: a destination that takes this much, such as a call
            relay where this one had made only a short call)."""
            others, most, own = seen.get(t["destination"], (0, 0.0, None))
            now = float(t["bytes_out"]) * peak_share
            if own is not None:
                return own * 2.0 >= now
            return others >= USUAL_THERE_MIN_OTHERS and most * 2.0 >= now

        dst = names[0]
        others, most, _own = seen.get(dst, (0, 0.0, None))
        per_hour = top[0]["bytes_out"] * peak_share
        # What is left once the bytes that are usual where they went are set aside: a call
        # hour must not hide the upload beside it.
        rest = [t for t in top if not usual_there(t)]
        rest_per_hour = sum(t["bytes_out"] for t in rest) * peak_share
        usual_hour = float(alert.evidence.get("baseline_median_bytes_out") or 0.0)

        def beyond(t: dict[str, Any]) -> float:
            """How far above what was sent there before (the identity's own busiest hour,
            or any other's): as much counts a quarter, twice three quarters, four times in
            full; a destination nobody reached counts in full."""
            n_others, top_other, own = seen.get(t["destination"], (0, 0.0, None))
            if n_others == 0 and own is None:
                return 1.0
            return _beyond(float(t["bytes_out"]) * peak_share / max(top_other, own or 0.0, 1.0))

        if others == 0:
            factor, where = 1.0, "a destination no other identity reached in the baseline"
        elif (
            usual_there(top[0]) and rest and rest_per_hour >= max(3.0 * usual_hour, VOLUME_REST_MIN)
        ):
            factor = max(beyond(t) for t in rest)
            where = (
                f"{dst}, where others send as much; but besides it "
                f"{_fmt_bytes(rest_per_hour)} an hour went to "
                f"{', '.join(t['destination'] for t in rest)}, "
                f"{rest_per_hour / max(usual_hour, 1.0):.0f}x its usual hour"
            )
        elif usual_there(top[0]):
            factor = 0.5 * detectors.popularity_factor(others + 1)
            where = (
                f"a destination {others} other identit{'y' if others == 1 else 'ies'} reached in "
                f"the baseline, one of them with {_fmt_bytes(most)} in an hour, so this much "
                "is not new there"
            )
        else:
            factor = beyond(top[0])
            where = (
                f"a destination {others} other identit{'y' if others == 1 else 'ies'} reached in "
                f"the baseline, "
                + (
                    f"but never with more than {_fmt_bytes(most)} in an hour: "
                    f"{per_hour / max(most, 1.0):.0f}x that"
                    if per_hour > most
                    else f"one of them with {_fmt_bytes(most)} in an hour, more than this, "
                    "though this identity never sent half as much there"
                )
            )
        evidence["discount"] = round(factor, 3)
        evidence["identities_reaching_top_destination"] = others
        evidence["most_bytes_out_per_hour_to_it_by_others"] = most
        evidence["bytes_out_per_hour_elsewhere"] = rest_per_hour
        return replace(
            alert,
            evidence=evidence,
            summary=summary,
            why=f"{alert.why}; mostly to {where}",
            rank=alert.rank * factor,
        )
    if alert.detector == "beacon":
        stamps = [
            float(r[0])
            for r in store.rows(
                "SELECT ts FROM events WHERE identity = ? AND dst_host = ? AND ts >= ? AND ts < ? "
                "ORDER BY ts LIMIT 5000",
                [alert.identity, alert.destination, window.start, window.end],
            )
        ]
        gaps = tuple((b, b - a) for a, b in itertools.pairwise(stamps))
        median = float(alert.evidence.get("median_interval_s", 0.0))
        madm = float(alert.evidence.get("interval_madm_s", 0.0))
        plot = Plot(
            kind="series",
            title=f"seconds between connections, {alert.identity} to {alert.destination}",
            x_label="time",
            y_label="gap (s)",
            baseline=(),
            observed=gaps,
            band=(max(0.0, median - 3 * madm), median + 3 * madm),
        )
        return replace(alert, plot=plot)
    if alert.detector == "probing":
        rows = store.rows(
            "SELECT coalesce(detail, outcome) AS d, count(*) FROM events WHERE identity = ? "
            "AND ts >= ? AND ts < ? AND (outcome <> 'ok' OR decision IN ('deny', 'shadow-deny')) "
            "GROUP BY d ORDER BY 2 DESC LIMIT 3",
            [alert.identity, alert.start, alert.end],
        )
        targets = store.rows(
            "SELECT dst_host, dst_port, count(*) FROM events WHERE identity = ? AND ts >= ? "
            "AND ts < ? AND (outcome <> 'ok' OR decision IN ('deny', 'shadow-deny')) "
            "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5",
            [alert.identity, alert.start, alert.end],
        )
        evidence = {
            **alert.evidence,
            "top_reasons": [{"reason": r[0], "count": int(r[1])} for r in rows],
            "top_targets": [
                {"destination": r[0], "port": r[1], "count": int(r[2])} for r in targets
            ],
        }
        why = alert.why
        if rows and rows[0][0]:
            why += f'; most said "{rows[0][0]}"'
        return replace(alert, evidence=evidence, why=why)
    return alert
