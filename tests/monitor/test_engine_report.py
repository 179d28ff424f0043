"""Detection runs end to end over a store: allowlist, suppressions, severity order, reports,
and the feature SQL run unchanged over the Parquet export (the path to Spark)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from tests.monitor.helpers import (
    END,
    HOUR,
    T0,
    WINDOW,
    WINDOW_START,
    daily_background,
    event,
    insert,
    store_with,
    write,
)
from zerotls.errors import ConfigError
from zerotls.monitor.alerts import Alert, incidents
from zerotls.monitor.allowlist import Allowlist
from zerotls.monitor.engine import Result, default_window, detect
from zerotls.monitor.features import QUERIES, Settings, Window, render
from zerotls.monitor.report import render_html, render_json, render_text
from zerotls.monitor.store import Store

TEAM = [f"10.0.0.{i}" for i in range(1, 7)]


def scenario() -> list[dict[str, object]]:
    rows = daily_background(TEAM, ["db.internal", "api.internal", "cache.internal"])
    t = WINDOW_START + 60
    while t < END - 60:  # a perfect beacon from one host to a host nobody knows
        rows.append(
            event(t, "10.0.0.3", "cdn.c2.example", bytes_out=420, bytes_in=900, duration=0.2)
        )
        t += 300
    rows += [  # and a legacy TLS connection
        event(WINDOW_START + HOUR, "10.0.0.5", "printer.corp", tls_version="TLSv1.0"),
    ]
    return rows


def test_detect_orders_by_severity_and_explains_each_alert() -> None:
    with store_with(scenario()) as store:
        window = default_window(store)
        assert window.end == pytest.approx(END - 240 + 1e-3, abs=300)
        result = detect(store, window)
    kinds = [(a.detector, a.identity, a.destination) for a in result.findings()]
    assert ("beacon", "10.0.0.3", "cdn.c2.example") in kinds
    assert ("new-destination", "10.0.0.3", "cdn.c2.example") in kinds
    assert ("legacy-tls", "10.0.0.5", "printer.corp") in kinds
    assert kinds[0] == ("beacon", "10.0.0.3", "cdn.c2.example")  # corroborated: first
    assert "new-destination" in result.alerts[0].corroborated_by
    # One alert per incident: the beacon leads, the new destination is part of it.
    assert [(a.detector, a.identity) for a in result.alerts] == [
        ("beacon", "10.0.0.3"),
        ("legacy-tls", "10.0.0.5"),
    ]
    assert [r.detector for r in result.alerts[0].related] == ["new-destination", "outlier"]
    unmerged = detect_unmerged(window)
    assert len(unmerged.alerts) == len(result.findings())
    severities = [a.severity for a in result.alerts]
    assert severities == sorted(severities, reverse=True)
    for a in result.alerts:
        assert a.summary and a.why and a.evidence
    beacon = result.alerts[0]
    assert beacon.plot is not None and len(beacon.plot.observed) > 200  # the gaps, for the chart


def detect_unmerged(window: Window) -> Result:
    with store_with(scenario()) as store:
        return detect(store, window, merge=False)


def test_allowlist_and_suppressions_with_reasons(tmp_path: Path) -> None:
    path = write(
        tmp_path / "allow.toml",
        '[[allow]]\ndestination = "*.c2.example"\ndetectors = ["beacon"]\nreason = "red team exercise RT-4"\n\n'
        '[[suppress]]\ndetector = "legacy-tls"\ndestination = "printer.corp"\n'
        'reason = "vendor firmware, replacement ordered"\nuntil = 2099-01-01\n',
    )
    allow = Allowlist.load(path)
    with store_with(scenario()) as store:
        result = detect(store, WINDOW, allowlist=allow)
    assert result.allowlisted == 1
    assert not any(a.detector == "beacon" for a in result.alerts)
    assert any(a.detector == "new-destination" for a in result.alerts)  # only beacon was allowed
    (sup,) = result.suppressed
    assert sup.detector == "legacy-tls" and sup.suppressed == "vendor firmware, replacement ordered"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[allow]]\ndestination = "x"\n', "has no reason"),
        ('[[allow]]\ndestination = "x"\nreason = "  "\n', "has no reason"),
        ('[[allow]]\nreason = "everything"\n', "needs a destination or an identity"),
        ('[[suppress]]\ndetector = "beacons"\nreason = "r"\n', "unknown detector"),
        ('[[allow]]\ndestination = "10.0.0.0/33"\nreason = "r"\n', "not a CIDR"),
        ('[[allow]]\ndestination = "x"\nreason = "r"\nwhy = "typo"\n', "unknown key"),
        ("[allow]\nreason = 'r'\n", "array of tables"),
        ('[[suppress]]\nreason = "r"\nuntil = "soon"\n', "TOML date"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_allowlists_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Allowlist.load(write(tmp_path / "a.toml", text))


def test_allowlist_matching_cidr_globs_and_expiry(tmp_path: Path) -> None:
    allow = Allowlist.load(
        write(
            tmp_path / "a.toml",
            '[[allow]]\ndestination = "10.5.0.0/16"\nidentity = "spiffe://corp/*"\nreason = "r"\n'
            '[[suppress]]\nidentity = "10.0.0.9"\nreason = "old"\nuntil = 2020-01-01\n',
        )
    )
    assert allow.allowed("beacon", "spiffe://corp/backup", "10.5.1.2", T0) is not None
    assert allow.allowed("beacon", "spiffe://other/backup", "10.5.1.2", T0) is None
    assert allow.allowed("beacon", "spiffe://corp/backup", "10.6.1.2", T0) is None
    assert allow.suppressed("probing", "10.0.0.9", None, T0) is None  # expired in 2020


def test_reports_text_json_and_self_contained_html() -> None:
    with store_with(scenario()) as store:
        result = detect(store, WINDOW)
    text = render_text(result, limit=1)
    assert "[HIGH" in text and "why:" in text and "more (--limit" in text
    assert "same incident, 2 more finding(s):\n    - new-destination -> cdn.c2.example" in text
    doc = json.loads(render_json(result))
    assert doc["alerts"][0]["detector"] == "beacon" and doc["alerts"][0]["plot"]["observed"]
    assert doc["alerts"][0]["evidence"]["subscores"]["timing_madm"] == pytest.approx(1.0)
    page = render_html(result)
    assert "same incident: 2 more finding(s)" in page
    assert page.count("<svg") == sum(1 for a in result.alerts if a.plot) >= 2
    # self-contained: nothing to fetch, nothing to run
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"(src|href)\s*=", page)
    assert re.findall(r"https?://[^\"' <]+", page) == ["http://www.w3.org/2000/svg"] * page.count(
        "<svg"
    )


def rounded(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    # Sums of floats may differ in the last bits with another summation order.
    return sorted(
        (tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows), key=repr
    )


def test_feature_sql_runs_unchanged_over_the_parquet_export(tmp_path: Path) -> None:
    """What Spark does: read the Parquet partitions as a table named events, run QUERIES."""
    import duckdb

    settings = Settings(volume_min_bytes=1)  # so that pair_hours has rows here too
    with store_with(scenario()) as store:
        store.export_parquet(tmp_path / "pq")
        expected = {
            n: rounded(store.con.execute(*render(q, WINDOW, settings)).fetchall())
            for n, q in QUERIES.items()
        }
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW events AS SELECT * FROM read_parquet('{tmp_path}/pq/*/*.parquet', hive_partitioning=true)"  # noqa: S608
    )
    for name, query in QUERIES.items():
        got = rounded(con.execute(*render(query, WINDOW, settings)).fetchall())
        assert got == expected[name], name
        assert got or name in ("long", "failures", "reach"), name
    con.close()


def test_empty_store_and_empty_window_are_config_errors() -> None:
    with Store() as store:
        with pytest.raises(ConfigError, match="no events yet"):
            default_window(store)
        insert(store, [event(T0, "a", "b")])
        with pytest.raises(ConfigError, match="window is empty"):
            default_window(store, since=T0 + 10, until=T0)


def test_html_escapes_what_came_from_the_logs() -> None:
    """An identity or destination is attacker-influenced text (SNI, CSV fields): the report a
    person opens must not run it."""
    from zerotls.monitor.alerts import Alert
    from zerotls.monitor.report import _alert_html

    alert = Alert(
        detector="new-destination",
        identity="<script>alert(1)</script>",
        destination='evil.example"><img src=x onerror=alert(2)>',
        start=1_767_225_600.0,
        end=1_767_229_200.0,
        score=1.0,
        summary="<b>summary</b>",
        why="because <i>",
    )
    page = _alert_html(alert)
    assert "<script>" not in page and "<img" not in page and "<b>summary" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _finding(detector: str, identity: str, start: float, end: float, severity: float) -> Alert:
    return Alert(
        detector=detector,
        identity=identity,
        destination=None,
        start=start,
        end=end,
        score=1.0,
        summary=f"{detector} on {identity}",
        why="test",
        severity=severity,
    )


def test_incidents_merge_an_identitys_overlapping_findings_and_keep_outliers_last() -> None:
    found = [
        _finding("outlier", "10.0.0.9", T0, T0 + HOUR, 0.8),  # alone: an uncorroborated hint
        _finding("volume-spike", "10.0.0.1", T0, T0 + HOUR, 0.5),
        _finding("new-destination", "10.0.0.1", T0 + 1.5 * HOUR, T0 + 2 * HOUR, 0.6),
        _finding("beacon", "10.0.0.1", T0 + 10 * HOUR, T0 + 12 * HOUR, 0.4),  # hours later
        _finding("probing", "10.0.0.2", T0, T0 + HOUR, 0.3),
    ]
    merged = incidents(sorted(found, key=lambda a: -a.severity))
    assert [(a.detector, a.identity) for a in merged] == [
        ("new-destination", "10.0.0.1"),  # leads: the most severe of its incident
        ("beacon", "10.0.0.1"),  # a separate incident, 8 hours after the first ended
        ("probing", "10.0.0.2"),
        ("outlier", "10.0.0.9"),  # more severe, but a bare outlier never ranks above a finding
    ]
    lead = merged[0]
    assert [r.detector for r in lead.related] == ["volume-spike"]
    assert (lead.start, lead.end) == (T0, T0 + 2 * HOUR)
    assert [f.detector for f in lead.findings()] == ["new-destination", "volume-spike"]
    assert lead.to_dict()["related"][0]["detector"] == "volume-spike"


def test_outliers_alone_and_explained_away_findings_are_noted_not_alerted() -> None:
    from zerotls.monitor.alerts import stands_alone
    from zerotls.monitor.engine import _noted_only
    from zerotls.monitor.features import Settings

    settings = Settings()
    bare = _finding("outlier", "10.0.0.9", T0, T0 + HOUR, 0.8)
    assert stands_alone(bare) and _noted_only(bare, settings)
    # An outlier merged with a strong finding of another detector is an incident.
    strong = replace(_finding("volume-spike", "10.0.0.9", T0, T0 + HOUR, 0.5), rank=0.99)
    weak = replace(strong, rank=0.2)  # discounted: others send as much there
    (with_strong,) = incidents([replace(bare, rank=1.0), strong])
    (with_weak,) = incidents([replace(bare, rank=1.0), weak])
    assert not stands_alone(with_strong) and not _noted_only(with_strong, settings)
    assert stands_alone(with_weak)
    # A finding its explanation discounted is noted below the floor, alerted above it;
    # an undiscounted one is alerted whatever its severity (the detector's own threshold
    # already judged it).
    discounted = replace(strong, severity=0.1, evidence={"discount": 0.3})
    assert _noted_only(discounted, settings)
    assert not _noted_only(replace(discounted, severity=0.3), settings)
    assert not _noted_only(replace(strong, severity=0.1), settings)
    assert not _noted_only(discounted, Settings(alert_floor=0.0))
