"""The outlier detector: identity-hours unlike their group's, by IsolationForest."""

from __future__ import annotations

import ipaddress
import math
from collections import defaultdict
from typing import Any, Final

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.detectors._common import (
    HOUR,
    Scored,
    Table,
    _finish,
    _fmt_bytes,
    _fmt_seconds,
    _rows,
    _runs,
)
from zerotls.monitor.features import Settings, Window

__all__ = [
    "FEATURES",
    "SCORE_COLUMNS",
    "assign_groups",
    "group_scores",
    "identity_group",
    "outliers",
    "score_group",
]

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


SCORE_COLUMNS: Final = (
    ("group", "string"),
    ("identity", "string"),
    ("hour", "double"),
    ("rank", "double"),
    ("flagged", "boolean"),
    ("x", "array<double>"),
    ("z", "array<double>"),
    ("median", "array<double>"),
)
"""What :func:`score_group` returns, one row per window hour of the group (as a Spark DDL
schema: ``", ".join(f"{name} {type}" ...)``). ``x``, ``z`` and ``median`` are set on the
flagged rows only."""


def assign_groups(baseline_hours: dict[str, int], settings: Settings) -> dict[str, str]:
    """Each identity's peer group (:func:`identity_group`), with the groups that have fewer
    than ``outlier_min_rows`` baseline hours in all pooled as ``*``.

    Args:
        baseline_hours: per identity, how many of its hourly rows are in the baseline.
    """
    group_of = {identity: identity_group(identity) for identity in baseline_hours}
    counts: dict[str, int] = defaultdict(int)
    for identity, n in baseline_hours.items():
        counts[group_of[identity]] += n
    return {
        identity: g if counts[g] >= settings.outlier_min_rows else "*"
        for identity, g in group_of.items()
    }


def _features(rows: list[dict[str, Any]]) -> Any:
    import numpy as np

    return np.array(
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
    ).reshape(len(rows), len(FEATURES) + 2)


def score_group(table: Table, group: str, start_hour: int, settings: Settings) -> Table:
    """One peer group's hours (rows of the hourly table) scored by one IsolationForest.

    The forest is fitted on the group's baseline hours only, so that the window cannot teach
    it that its own anomaly is normal; every window hour gets its rank among the baseline's
    anomaly scores, and is flagged above the ``outlier_threshold`` quantile when at least one
    feature is three robust deviations from the group's median (at the same time of day when
    there are enough such hours). Pure and self-contained: the DuckDB engine calls it per
    group on the driver, the Spark engine through ``groupBy("group").applyInArrow``.

    Returns:
        A table of :data:`SCORE_COLUMNS`, empty when the group has too few baseline hours
        or no window hour.
    """
    import numpy as np
    import pyarrow as pa
    from sklearn.ensemble import IsolationForest

    schema = _score_schema()
    # A fixed order, whatever order the engine returned the rows in: the forest subsamples
    # rows by position, so the same seed must see the same order to give the same answer.
    rows = sorted(_rows(table), key=lambda r: (r["identity"], r["hour"]))
    x = _features(rows)
    nf = len(FEATURES)
    hod = np.array([int(r["hour"]) % 24 for r in rows], dtype=int)
    is_base = np.array([r["hour"] < start_hour for r in rows], dtype=bool)
    win = ~is_base
    if is_base.sum() < settings.outlier_min_rows or not win.any():
        return schema.empty_table()
    model = IsolationForest(
        n_estimators=100,
        max_samples=min(256, int(is_base.sum())),
        random_state=settings.random_state,
    )
    model.fit(x[is_base])
    base_scores = -model.score_samples(x[is_base])
    threshold = float(np.quantile(base_scores, settings.outlier_threshold))
    floor = np.array([0.5, 0.5, 0.3, 0.3, 0.05, 0.3])
    sorted_base = np.sort(base_scores)
    idx = np.flatnonzero(win)
    scores = -model.score_samples(x[idx])
    out: dict[str, list[Any]] = {name: [] for name, _ in SCORE_COLUMNS}
    for i, s in zip(idx, scores, strict=True):
        rank = float(np.searchsorted(sorted_base, s, side="right") / len(sorted_base))
        z: Any = None
        med: Any = None
        if s >= threshold:
            # Explained against the group's hours at the same time of day when there are
            # enough of them (else all its hours): "vs typical" means typical at this hour.
            same = is_base & (hod == hod[i])
            ref = x[same][:, :nf] if same.sum() >= 10 else x[is_base][:, :nf]
            med = np.median(ref, axis=0)
            scale = np.maximum(1.4826 * np.median(np.abs(ref - med), axis=0), floor)
            z = (x[i][:nf] - med) / scale
        flagged = z is not None and float(np.max(np.abs(z))) >= 3.0
        out["group"].append(group)
        out["identity"].append(rows[i]["identity"])
        out["hour"].append(float(rows[i]["hour"]))
        out["rank"].append(rank)
        out["flagged"].append(flagged)
        out["x"].append([float(v) for v in x[i][:nf]] if flagged else None)
        out["z"].append([float(v) for v in z] if flagged else None)
        out["median"].append([float(v) for v in med] if flagged else None)
    return pa.table(out, schema=schema)


def _score_schema() -> Any:
    import pyarrow as pa

    types = {"string": pa.string(), "double": pa.float64(), "boolean": pa.bool_()}
    return pa.schema(
        [
            (name, pa.list_(pa.float64()) if kind == "array<double>" else types[kind])
            for name, kind in SCORE_COLUMNS
        ]
    )


def group_scores(hourly: Table, window: Window, settings: Settings) -> Table:
    """:func:`score_group` for every peer group of the hourly table, on this machine."""
    import pyarrow as pa

    rows = _rows(hourly)
    start_hour = math.floor(window.start / HOUR)
    baseline: dict[str, int] = defaultdict(int)
    for r in rows:
        baseline[r["identity"]] += int(r["hour"] < start_hour)
    group_of = assign_groups(baseline, settings)
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_group[group_of[r["identity"]]].append(r)
    tables = [
        score_group(pa.Table.from_pylist(members), group, start_hour, settings)
        for group, members in sorted(by_group.items())
    ]
    return pa.concat_tables(tables) if tables else _score_schema().empty_table()


def outliers(
    hourly: Table, window: Window, settings: Settings, *, scores: Table | None = None
) -> Scored:
    """Identity-hours unlike their group's hours, by IsolationForest (fixed seed).

    One forest per identity group (see :func:`score_group`; groups with fewer than
    ``outlier_min_rows`` baseline hours are pooled). A flagged hour's alert names the
    features furthest from the group's median as its reason; consecutive flagged hours of
    one identity are one alert.

    Args:
        scores: the groups already scored (:func:`group_scores`' table, which the Spark
            engine computes on its executors); by default they are scored here.
    """
    if scores is None:
        if hourly is None or hourly.num_rows == 0:
            return Scored()
        scores = group_scores(hourly, window, settings)
    scored = sorted(_rows(scores), key=lambda r: (r["group"], r["identity"], r["hour"]))
    population = [float(r["rank"]) for r in scored]
    alerts: list[Alert] = []
    by_key: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for r in scored:
        if r["flagged"]:
            by_key[(r["group"], r["identity"])].append((int(r["hour"]), r))
    for (group, identity), items in sorted(by_key.items()):
        for run in _runs(items):
            peak = max(run, key=lambda f: f[1]["rank"])[1]
            alerts.append(_alert(group, identity, run, peak, settings))
    return _finish(alerts, population)


def _alert(
    group: str,
    identity: str,
    run: list[tuple[int, dict[str, Any]]],
    peak: dict[str, Any],
    settings: Settings,
) -> Alert:
    x, z, med = peak["x"], peak["z"], peak["median"]
    order = sorted(range(len(FEATURES)), key=lambda k: -abs(z[k]))[:3]
    reasons = []
    for k in order:
        if abs(z[k]) < 3.0:
            continue
        value, typical = _feature_value(k, x[k]), _feature_value(k, med[k])
        reasons.append(
            f"{FEATURES[k]} {_fmt_feature(k, value)} vs {_fmt_feature(k, typical)} "
            f"typical ({'higher' if z[k] > 0 else 'lower'}, z {z[k]:.1f})"
        )
    rank = float(peak["rank"])
    return Alert(
        detector="outlier",
        identity=identity,
        destination=None,
        start=run[0][0] * HOUR,
        end=(run[-1][0] + 1) * HOUR,
        score=rank,
        summary=f"{identity} behaved unlike its group {group} for {len(run)} hour(s)",
        why="; ".join(reasons) or "an unusual combination of its hourly features",
        evidence={
            "group": group,
            "anomaly_rank_in_baseline": round(rank, 5),
            "threshold_quantile": settings.outlier_threshold,
            "features": {
                FEATURES[k]: {
                    "value": _feature_value(k, x[k]),
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
            baseline=tuple((FEATURES[k], float(med[k])) for k in range(len(FEATURES))),
            observed=tuple((FEATURES[k], float(x[k])) for k in range(len(FEATURES))),
        ),
    )


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
