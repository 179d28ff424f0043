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

__all__ = ["FEATURES", "identity_group", "outliers"]

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


def outliers(hourly: Table, window: Window, settings: Settings) -> Scored:
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
