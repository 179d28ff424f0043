"""Alerts, their evidence, and how detector scores combine into one severity.

Every alert says, in one line, what happened (``summary``), why that is unusual for this
identity (``why``: a sentence an analyst can act on in a minute), and carries its numbers
(``evidence``) and the series behind them (``plot``: the baseline against the anomaly), so
the HTML report can draw it.

Severity by rank: detectors score on different scales (a robust z-score, a beacon score in
[0, 1], a count of denied connections), so each alert's score is first turned into its rank
among everything that detector scored in the run (``rank``, 0..1: "more regular than 99.7 %
of pairs"). An identity flagged by several detectors is more likely to matter than one
flagged by one, so an alert's severity is the noisy-OR of its own weighted rank and the best
weighted rank of every *other* detector that flagged the same identity (about the same
destination, or about the identity as a whole). The weights are the
detectors' prior precision (a legacy TLS version is a fact; an outlier is a hint).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

__all__ = [
    "DETECTOR_WEIGHTS",
    "Alert",
    "Plot",
    "combine",
    "findings",
    "incidents",
    "level_of",
    "stands_alone",
]

DETECTOR_WEIGHTS: Final = {
    "beacon": 0.85,
    "probing": 0.85,
    "fan-out": 0.85,
    "legacy-tls": 0.8,
    "volume-spike": 0.55,
    "new-destination": 0.65,
    "long-connection": 0.5,
    "outlier": 0.5,
}
"""Prior precision of each detector, used to weight its rank in the severity."""

CORROBORATION: Final = 0.6
"""How much another detector's finding on the same identity adds (a fraction of its weight)."""

CORROBORATING_RANK: Final = 0.5
"""The rank a finding of another detector needs before it lifts a statistical outlier out of
the unusual list: a volume spike discounted because others send as much there does not."""


@dataclass(frozen=True, slots=True)
class Plot:
    """The numbers behind an alert, for a small chart: baseline against observed.

    Attributes:
        kind: ``series`` (x, y points: a time series with the anomalous points marked),
            ``bars`` (labelled values: baseline vs observed), ``intervals`` (a histogram of
            the gaps between connections).
        title: what the chart shows.
        x_label: the x axis (``time`` for epoch seconds).
        y_label: the y axis, with its unit.
        baseline: points (x, y) of normal behaviour (or (label, value) for bars).
        observed: the anomalous points.
        band: (low, high) of the normal range on the y axis, when there is one.
    """

    kind: str
    title: str
    x_label: str
    y_label: str
    baseline: tuple[tuple[Any, float], ...] = ()
    observed: tuple[tuple[Any, float], ...] = ()
    band: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "baseline": [list(p) for p in self.baseline],
            "observed": [list(p) for p in self.observed],
            "band": list(self.band) if self.band else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One finding, with everything needed to judge it."""

    detector: str
    """``new-destination``, ``volume-spike``, ``beacon``, ``long-connection``, ``probing``,
    ``legacy-tls`` or ``outlier``."""
    identity: str
    destination: str | None
    start: float
    """Epoch seconds: the first event the alert is about."""
    end: float
    score: float
    """The detector's own score (its scale is in ``evidence``)."""
    summary: str
    why: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    plot: Plot | None = None
    rank: float = 1.0
    """Rank of ``score`` among everything the detector scored in this run (0..1)."""
    severity: float = 0.0
    corroborated_by: tuple[str, ...] = ()
    suppressed: str | None = None
    """The reason of the suppression entry that matched, if one did."""
    related: tuple[Alert, ...] = ()
    """The other findings of the same incident (same identity, overlapping in time), most
    severe first; this alert is the incident's lead, and ``start``/``end`` span them all."""

    @property
    def key(self) -> str:
        """Stable id: the same finding in a later run (``follow``) has the same key."""
        bucket = int(self.start // 3600)
        text = f"{self.detector}|{self.identity}|{self.destination}|{bucket}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def level(self) -> str:
        return level_of(self.severity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "detector": self.detector,
            "level": self.level,
            "severity": round(self.severity, 4),
            "rank": round(self.rank, 4),
            "score": round(self.score, 4),
            "identity": self.identity,
            "destination": self.destination,
            "start": self.start,
            "end": self.end,
            "summary": self.summary,
            "why": self.why,
            "corroborated_by": list(self.corroborated_by),
            "suppressed": self.suppressed,
            "evidence": _jsonable(self.evidence),
            "plot": self.plot.to_dict() if self.plot else None,
            "related": [r.to_dict() for r in self.related],
        }

    def findings(self) -> tuple[Alert, ...]:
        """This alert and the related findings merged into its incident."""
        return (self, *self.related)


def level_of(severity: float) -> str:
    """``high`` (0.85 and above), ``medium`` (0.6), else ``low``."""
    if severity >= 0.85:
        return "high"
    if severity >= 0.6:
        return "medium"
    return "low"


def combine(alerts: Iterable[Alert]) -> list[Alert]:
    """Give every alert its severity and order them, most severe first.

    Args:
        alerts: alerts with ``rank`` set by their detector.

    Returns:
        The alerts with ``severity`` and ``corroborated_by`` set, sorted by severity, then
        rank, then score (descending), then identity, so the order is reproducible.
    """
    items = list(alerts)
    by_identity: dict[str, list[Alert]] = {}
    for a in items:
        by_identity.setdefault(a.identity, []).append(a)
    out = []
    for a in items:
        own = DETECTOR_WEIGHTS.get(a.detector, 0.5) * a.rank
        best: dict[str, float] = {}
        for other in by_identity[a.identity]:
            # Another detector corroborates when it is about the same destination, or about
            # the identity as a whole (volume, probing, outliers have no destination), at
            # about the same time (within INCIDENT_GAP), and is not weak itself.
            value = DETECTOR_WEIGHTS.get(other.detector, 0.5) * other.rank
            if (
                other.detector != a.detector
                and other.rank >= CORROBORATING_RANK
                and other.start <= a.end + INCIDENT_GAP
                and other.end >= a.start - INCIDENT_GAP
                and (
                    other.destination is None
                    or a.destination is None
                    or other.destination == a.destination
                )
            ):
                best[other.detector] = max(best.get(other.detector, 0.0), value)
        miss = 1.0 - own
        for value in best.values():
            miss *= 1.0 - CORROBORATION * value
        out.append(replace(a, severity=1.0 - miss, corroborated_by=tuple(sorted(best))))
    return _order(out)


def stands_alone(alert: Alert) -> bool:
    """Whether an incident (or one finding) rests on statistical outliers alone: it holds an
    ``outlier`` finding and nothing else that corroborates it (no other finding with a rank
    of at least ``CORROBORATING_RANK``; for a lone finding, no such detector on the same
    identity). ``detect`` lists these as unusual, not as alerts."""
    members = alert.findings()
    if not any(a.detector == "outlier" for a in members):
        return False
    if not alert.related and alert.detector == "outlier":
        return not alert.corroborated_by
    return all(a.detector == "outlier" or a.rank < CORROBORATING_RANK for a in members)


INCIDENT_GAP: Final = 3600.0
"""Findings of one identity this close in time (seconds) belong to one incident."""


def incidents(ordered: Iterable[Alert], gap: float = INCIDENT_GAP) -> list[Alert]:
    """Merge each identity's findings that overlap in time into one alert per incident.

    An analyst reads one line for "10.1.0.7 beaconed to a new host and sent 40 MB there",
    not three. Findings of the same identity whose time ranges overlap, or come within
    ``gap`` of each other, form one incident; its most severe finding leads it (summary, why,
    key), the others are its ``related`` findings, and its time range spans them all.

    Order: incidents corroborated by another detector, or led by one that is not a bare
    statistical outlier, come first; an incident that is nothing but ``outlier`` findings
    never ranks above one that is; within a tier, by the lead's severity (the order of
    ``combine``).

    Args:
        ordered: alerts as ``combine`` returns them (severity set, most severe first).
    """
    items = list(ordered)
    position = {id(a): i for i, a in enumerate(items)}
    by_identity: dict[str, list[Alert]] = {}
    for a in items:
        by_identity.setdefault(a.identity, []).append(a)
    groups: list[list[Alert]] = []
    for items in by_identity.values():
        items.sort(key=lambda a: (a.start, a.end))
        current: list[Alert] = []
        reach = -math.inf
        for a in items:
            if current and a.start > reach + gap:
                groups.append(current)
                current = []
            reach = max(reach, a.end) if current else a.end
            current.append(a)
        if current:
            groups.append(current)
    merged: list[tuple[int, int, Alert]] = []
    for group in groups:
        group.sort(key=lambda a: position[id(a)])
        lead, rest = group[0], tuple(group[1:])
        tier = 1 if stands_alone(replace(lead, related=rest)) else 0
        merged.append(
            (
                tier,
                position[id(lead)],
                replace(
                    lead,
                    start=min(a.start for a in group),
                    end=max(a.end for a in group),
                    related=rest,
                )
                if rest
                else lead,
            )
        )
    merged.sort(key=lambda t: (t[0], t[1]))
    return [a for _, _, a in merged]


def findings(ordered: Iterable[Alert]) -> list[Alert]:
    """The findings one by one (``detect(merge=False)``), with the incidents' rule: an
    ``outlier`` finding no other detector corroborates comes after every other finding."""
    items = list(ordered)
    bare = [a for a in items if stands_alone(a)]
    kept = {id(a) for a in bare}
    return [a for a in items if id(a) not in kept] + bare


def _order(alerts: Iterable[Alert]) -> list[Alert]:
    return sorted(
        alerts,
        key=lambda a: (
            -a.severity,
            -a.rank,
            -a.score,
            a.identity,
            a.detector,
            a.start,
            a.destination or "",
        ),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    if value is None or isinstance(value, str | int | bool):
        return value
    return json.loads(json.dumps(value, default=str))
