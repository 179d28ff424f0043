"""Reports: terminal text, JSON, and a self-contained HTML page with one chart per alert.

The HTML is for a person to look at: every alert shows the baseline against the anomaly as
an inline SVG chart (grey: normal, red: this alert, shaded: the normal range). No script, no
font or stylesheet from elsewhere: the file can be mailed, attached to a ticket, or opened
offline, and shows the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import math
from collections.abc import Sequence
from typing import Any, Final

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.engine import Result

__all__ = ["render_html", "render_json", "render_text", "svg_plot"]

_SKIP_IN_TEXT: Final = {
    "usual_destinations",
    "subscores",
    "features",
    "top_destinations",
    "top_reasons",
    "top_targets",
    "hours",
}


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M")


_TIME_KEYS: Final = {"first_seen", "hours", "start", "end"}


def _short(value: Any, key: str = "") -> str:
    if key in _TIME_KEYS and isinstance(value, int | float):
        return _utc(float(value)) + "Z"
    if key in _TIME_KEYS and isinstance(value, list):
        return ", ".join(_short(v, key) for v in value[:6])
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_short(v) for v in value[:6])
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    return str(value)


NOTED_IN_TEXT: Final = 5
"""Noted (not alerted) findings the text shows; JSON and HTML have them all."""


def render_text(result: Result, *, limit: int | None = None) -> str:
    """Alerts for a terminal: one block per alert (incident), most severe first."""
    w = result.window
    lines = [
        f"window {_utc(w.start)}Z .. {_utc(w.end)}Z, baseline from {_utc(w.base)}Z; "
        f"{result.events:,} events, {len(result.alerts)} alert(s), "
        f"{len(result.unusual)} noted, "
        f"{len(result.suppressed)} suppressed, {result.allowlisted} allowlisted "
        f"({result.seconds:.1f} s)"
    ]
    cov = result.coverage
    if cov and cov.get("limits"):
        lines.append(
            f"baseline: {cov['baseline_hours']:g} h of the {cov['asked_hours']:g} h asked "
            "(a short history: what it limits)"
        )
        lines += [f"  - {text}" for text in cov["limits"]]
    shown = result.alerts if limit is None else result.alerts[:limit]
    for a in shown:
        where = f"{a.identity} -> {a.destination}" if a.destination else a.identity
        lines.append("")
        lines.append(
            f"[{a.level.upper()} {a.severity:.2f}] {a.detector}: {where}  ({_utc(a.start)}Z)"
        )
        lines.append(f"  {a.summary}")
        lines.append(f"  why: {a.why}")
        facts = [f"{k}={_short(v, k)}" for k, v in a.evidence.items() if k not in _SKIP_IN_TEXT]
        if facts:
            lines.append("  evidence: " + "; ".join(facts))
        if a.corroborated_by:
            lines.append(f"  also flagged by: {', '.join(a.corroborated_by)}")
        if a.related:
            lines.append(f"  same incident, {len(a.related)} more finding(s):")
            for r in a.related:
                target = f" -> {r.destination}" if r.destination else ""
                lines.append(f"    - {r.detector}{target} ({r.severity:.2f}): {r.summary}")
        lines.append(f"  key: {a.key}")
    if limit is not None and len(result.alerts) > limit:
        lines.append("")
        lines.append(f"... and {len(result.alerts) - limit} more (--limit, or --json for all)")
    if result.unusual:
        lines.append("")
        lines.append(
            f"noted, not alerted ({len(result.unusual)}): outliers no other detector "
            "corroborates, discounted findings below the alert floor (--alert-floor; --json "
            "lists all)"
        )
        for a in result.unusual[:NOTED_IN_TEXT]:
            lines.append(f"  {a.detector} ({a.severity:.2f}): {a.summary}")
        if len(result.unusual) > NOTED_IN_TEXT:
            lines.append(f"  ... and {len(result.unusual) - NOTED_IN_TEXT} more")
    if result.suppressed:
        lines.append("")
        lines.append("suppressed:")
        for a in result.suppressed:
            lines.append(f"  {a.detector}: {a.summary} (because: {a.suppressed})")
    return "\n".join(lines)


def render_json(result: Result) -> str:
    """The whole result as one JSON document (alerts with evidence and plot data)."""
    return json.dumps(result.to_dict(), indent=2, sort_keys=False)


# ---------------------------------------------------------------------------------------------
# SVG

_W, _H = 560, 200
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 64, 12, 24, 36
_GREY, _RED, _BAND = "#8a8f98", "#d1242f", "#e6edf3"


def _num(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.1f}G"
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e3:
        return f"{v / 1e3:.1f}k"
    if a >= 10 or v == 0:
        return f"{v:.0f}"
    return f"{v:.2f}"


def svg_plot(plot: Plot) -> str:
    """One chart as an inline ``<svg>`` element."""
    body = _svg_bars(plot) if plot.kind == "bars" else _svg_series(plot)
    title = html.escape(plot.title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{title}">'
        f'<text x="{_PAD_L}" y="14" font-size="12" fill="#24292f">{title}</text>{body}</svg>'
    )


def _svg_series(plot: Plot) -> str:
    pts = [(float(x), float(y)) for x, y in (*plot.baseline, *plot.observed)]
    if not pts:
        return '<text x="70" y="100" font-size="12">no data</text>'
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    if plot.band:
        ys += list(plot.band)
    x0, x1 = min(xs), max(xs)
    y1 = max(ys) or 1.0
    log = y1 > 0 and min((y for y in ys if y > 0), default=y1) * 1000 < y1
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1

    def sy(y: float) -> float:
        frac = math.log10(1 + y) / math.log10(1 + y1) if log else y / y1
        return _H - _PAD_B - frac * (_H - _PAD_T - _PAD_B)

    def sx(x: float) -> float:
        return _PAD_L + (x - x0) / (x1 - x0) * (_W - _PAD_L - _PAD_R)

    out = []
    if plot.band:
        lo, hi = plot.band
        out.append(
            f'<rect x="{_PAD_L}" y="{sy(hi):.1f}" width="{_W - _PAD_L - _PAD_R}" '
            f'height="{max(sy(lo) - sy(hi), 1):.1f}" fill="{_BAND}"/>'
        )
    out.append(
        _axes(
            plot,
            y_top=_num(y1),
            y_bottom="0",
            x_left=_utc(x0) if plot.x_label == "time" else _num(x0),
            x_right=_utc(x1) if plot.x_label == "time" else _num(x1),
            log=log,
        )
    )
    base = sorted((float(x), float(y)) for x, y in plot.baseline)
    if len(base) < _SPARSE:
        # A few points joined by lines would draw trends that are not there (two ten-minute
        # buckets of failures became a diagonal from 0 to 988): each value is a stem.
        out.extend(_stem(sx(x), sy(0.0), sy(y), _GREY, 1.5) for x, y in base)
    elif base:
        for segment in _segments(base):
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in segment)
            out.append(f'<polyline points="{path}" fill="none" stroke="{_GREY}" stroke-width="1"/>')
    sparse = len(plot.observed) < _SPARSE
    for x, y in plot.observed:
        if sparse:
            out.append(_stem(sx(float(x)), sy(0.0), sy(float(y)), _RED, 2.5))
        else:
            out.append(
                f'<circle cx="{sx(float(x)):.1f}" cy="{sy(float(y)):.1f}" r="2.5" fill="{_RED}"/>'
            )
    return "".join(out)


_SPARSE = 12
"""Fewer points than this are drawn as stems, not joined."""


def _stem(x: float, y0: float, y: float, colour: str, r: float) -> str:
    return (
        f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{colour}" '
        f'stroke-width="1.5"/><circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{colour}"/>'
    )


def _segments(points: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Split a series where a gap is over three times its usual step (no line across it)."""
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    usual = steps[len(steps) // 2] if steps else 0.0
    out: list[list[tuple[float, float]]] = [[points[0]]]
    for a, b in itertools.pairwise(points):
        if usual and b[0] - a[0] > 3 * usual:
            out.append([])
        out[-1].append(b)
    return out


def _svg_bars(plot: Plot) -> str:
    base = [(str(k), float(v), _GREY) for k, v in plot.baseline]
    seen = [(str(k), float(v), _RED) for k, v in plot.observed]
    if [r[0] for r in base] == [r[0] for r in seen]:
        # The same labels on both sides (outlier features): each baseline bar beside its
        # observed one.
        rows = [r for pair in zip(base, seen, strict=True) for r in pair]
    else:
        rows = base + seen
    if not rows:
        return '<text x="70" y="100" font-size="12">no data</text>'
    rows = rows[:14]
    top = max(v for _, v, _ in rows) or 1.0
    small = min((v for _, v, _ in rows if v > 0), default=top)
    log = small * 100 < top
    bar_h = (_H - _PAD_T - 8) / len(rows)
    label_w = 190
    width = _W - label_w - 60
    out = []
    for i, (label, value, color) in enumerate(rows):
        frac = math.log10(1 + value) / math.log10(1 + top) if log else value / top
        y = _PAD_T + i * bar_h
        out.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * 0.7:.1f}" font-size="11" text-anchor="end" '
            f'fill="#24292f">{html.escape(label[:30])}</text>'
            f'<rect x="{label_w}" y="{y + 1:.1f}" width="{max(frac * width, 1):.1f}" '
            f'height="{max(bar_h - 3, 2):.1f}" fill="{color}"/>'
            f'<text x="{label_w + max(frac * width, 1) + 4:.1f}" y="{y + bar_h * 0.7:.1f}" '
            f'font-size="10" fill="#57606a">{_num(value)}</text>'
        )
    if log:
        out.append(
            f'<text x="{_W - 4}" y="{_H - 4}" font-size="9" text-anchor="end" '
            'fill="#57606a">log scale</text>'
        )
    return "".join(out)


def _axes(plot: Plot, *, y_top: str, y_bottom: str, x_left: str, x_right: str, log: bool) -> str:
    bottom = _H - _PAD_B
    return (
        f'<line x1="{_PAD_L}" y1="{_PAD_T}" x2="{_PAD_L}" y2="{bottom}" stroke="#d0d7de"/>'
        f'<line x1="{_PAD_L}" y1="{bottom}" x2="{_W - _PAD_R}" y2="{bottom}" stroke="#d0d7de"/>'
        f'<text x="{_PAD_L - 4}" y="{_PAD_T + 8}" font-size="10" text-anchor="end">{y_top}</text>'
        f'<text x="{_PAD_L - 4}" y="{bottom}" font-size="10" text-anchor="end">{y_bottom}</text>'
        f'<text x="{_PAD_L}" y="{bottom + 14}" font-size="10">{html.escape(x_left)}</text>'
        f'<text x="{_W - _PAD_R}" y="{bottom + 14}" font-size="10" text-anchor="end">'
        f"{html.escape(x_right)}</text>"
        f'<text x="{_PAD_L}" y="{_H - 4}" font-size="10" fill="#57606a">'
        f"{html.escape(plot.y_label)}{' (log scale)' if log else ''}</text>"
    )


# ---------------------------------------------------------------------------------------------
# HTML

_CSS: Final = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#24292f;
max-width:1180px}
h1{font-size:20px}.meta{color:#57606a;font-size:13px}
.alert{border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:14px 0;
display:flex;gap:18px;flex-wrap:wrap}
.text{flex:1 1 480px;min-width:320px}
.lvl{font-weight:600;padding:1px 6px;border-radius:4px;color:#fff}
.high{background:#d1242f}.medium{background:#bf8700}.low{background:#57606a}
.why{margin:6px 0;color:#1f2328}.ev{font-size:12px;color:#57606a}
table{border-collapse:collapse;font-size:12px}td{padding:1px 8px 1px 0;vertical-align:top}
.sup{opacity:.6}
"""


def _evidence_table(evidence: dict[str, Any]) -> str:
    rows = []
    for k, v in evidence.items():
        if k == "features":
            continue
        rows.append(f"<tr><td>{html.escape(k)}</td><td>{html.escape(_short(v, k))}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _alert_html(a: Alert, css: str = "alert") -> str:
    # Identities and destinations come from logs: untrusted text, always escaped.
    where = (
        f"{html.escape(a.identity)} &rarr; {html.escape(a.destination)}" if a.destination else ""
    )
    head = (
        f'<span class="lvl {a.level}">{a.level} {a.severity:.2f}</span> '
        f"<b>{html.escape(a.detector)}</b> {where if where else html.escape(a.identity)} "
        f'<span class="meta">{_utc(a.start)}Z &ndash; {_utc(a.end)}Z, key {a.key}</span>'
    )
    extra = ""
    if a.corroborated_by:
        extra += f"<div class=ev>also flagged by: {html.escape(', '.join(a.corroborated_by))}</div>"
    if a.suppressed:
        extra += f"<div class=ev>suppressed: {html.escape(a.suppressed)}</div>"
    if a.related:
        items = "".join(
            f"<li><b>{html.escape(r.detector)}</b>"
            f"{' &rarr; ' + html.escape(r.destination) if r.destination else ''} "
            f"({r.severity:.2f}): {html.escape(r.summary)}"
            f'<div class="why">Why: {html.escape(r.why)}</div></li>'
            for r in a.related
        )
        extra += (
            f"<details class=ev><summary>same incident: {len(a.related)} more finding(s)"
            f"</summary><ul>{items}</ul></details>"
        )
    chart = svg_plot(a.plot) if a.plot else ""
    return (
        f'<section class="{css}"><div class="text"><div>{head}</div>'
        f"<div><b>{html.escape(a.summary)}</b></div>"
        f'<div class="why">Why: {html.escape(a.why)}</div>{extra}'
        f'<div class="ev">{_evidence_table(dict(a.evidence))}</div></div>'
        f"<div>{chart}</div></section>"
    )


def render_html(
    result: Result, *, title: str = "zerotls monitor report", limit: int | None = None
) -> str:
    """A self-contained HTML page: summary, then every alert with its chart."""
    w = result.window
    alerts: Sequence[Alert] = result.alerts if limit is None else result.alerts[:limit]
    counts: dict[str, int] = {}
    for a in result.alerts:
        counts[a.level] = counts.get(a.level, 0) + 1
    summary = (
        ", ".join(f"{counts[k]} {k}" for k in ("high", "medium", "low") if k in counts) or "none"
    )
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">Window {_utc(w.start)}Z &ndash; {_utc(w.end)}Z against the baseline '
        f"from {_utc(w.base)}Z; {result.events:,} events; alerts: {summary}; "
        f"{len(result.unusual)} noted; "
        f"{len(result.suppressed)} suppressed, {result.allowlisted} allowlisted. Grey: normal "
        "behaviour; red: this alert; shaded band: the normal range.</p>",
    ]
    cov = result.coverage
    if cov and cov.get("limits"):
        items = "".join(f"<li>{html.escape(str(t))}</li>" for t in cov["limits"])
        body.append(
            f'<p class="meta">Baseline: {cov["baseline_hours"]:g} h of the '
            f'{cov["asked_hours"]:g} h asked. A short history limits:</p><ul class="meta">'
            f"{items}</ul>"
        )
    if not alerts:
        body.append("<p>No alerts in this window.</p>")
    body.extend(_alert_html(a) for a in alerts)
    if result.unusual:
        body.append(
            f"<details><summary>Noted, not alerted ({len(result.unusual)}): outliers no other "
            "detector corroborates and discounted findings below the alert floor</summary>"
        )
        body.extend(_alert_html(a, "alert sup") for a in result.unusual)
        body.append("</details>")
    if result.suppressed:
        body.append("<h2>Suppressed</h2>")
        body.extend(_alert_html(a, "alert sup") for a in result.suppressed)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )
