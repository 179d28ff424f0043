"""Each detector fires on a small crafted positive and stays quiet on its negative twin.

The events go through the real feature SQL (DuckDB) and then the pure detector, so both
halves are exercised; the scenarios are small enough to read.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from tests.monitor.helpers import (
    DAY,
    END,
    HOUR,
    T0,
    WINDOW,
    WINDOW_START,
    daily_background,
    event,
    features,
)
from zerotls.monitor import detectors
from zerotls.monitor.alerts import Alert, combine
from zerotls.monitor.features import Settings

SETTINGS = Settings()
TEAM = [f"spiffe://corp.example/team/svc{i}" for i in range(6)]
SERVICES = ["db.internal", "cache.internal", "api.internal", "auth.internal"]


def background() -> list[dict[str, object]]:
    return daily_background(TEAM, SERVICES)


# -------------------------------------------------------------------------- new destination


def test_new_rare_destination_fires_with_its_evidence() -> None:
    rows = [
        *background(),
        event(WINDOW_START + 10 * HOUR, TEAM[0], "paste.evil.example", bytes_out=50000),
    ]
    scored = detectors.new_destinations(features(rows)["pairs"], WINDOW, SETTINGS)
    (alert,) = scored.alerts
    assert (alert.identity, alert.destination) == (TEAM[0], "paste.evil.example")
    assert alert.evidence["identities_reaching_it_in_baseline"] == 0
    assert alert.evidence["first_seen"] == WINDOW_START + 10 * HOUR
    assert {d["destination"] for d in alert.evidence["usual_destinations"]} <= set(SERVICES)
    assert "no other identity reached paste.evil.example" in alert.why
    assert alert.plot is not None and alert.plot.observed == (("paste.evil.example", 1.0),)


def test_infrastructure_meeting_one_more_internal_host_weighs_less() -> None:
    # A monitoring server polls 60 hosts every day; today it starts polling a 61st (a new
    # machine) and also opens one connection to an internet host nobody reaches.
    poller = "10.0.9.9"
    hosts = [f"10.0.1.{i}" for i in range(1, 61)]
    rows = background() + [
        event(T0 + d * DAY + 3 * HOUR + i, poller, h, dst_port=9182)
        for d in range(14)
        for i, h in enumerate(hosts)
    ]
    rows += [
        event(WINDOW_START + 5 * HOUR, poller, "10.0.1.61", dst_port=9182),
        event(WINDOW_START + 6 * HOUR, poller, "45.33.32.156", dst_port=443),
    ]
    scored = detectors.new_destinations(features(rows)["pairs"], WINDOW, SETTINGS)
    found = {a.destination: a for a in scored.alerts if a.identity == poller}
    assert "45.33.32.156" in found  # the internet host: judged in full
    internal = found.get("10.0.1.61")
    assert internal is None or internal.score < found["45.33.32.156"].score
    if internal is not None:
        assert "as monitoring and backups do" in internal.why


def test_a_bare_outlier_finding_comes_after_every_other_finding() -> None:
    def alert(detector: str, identity: str, severity: float, by: tuple[str, ...] = ()) -> Alert:
        return Alert(detector=detector, identity=identity, destination=None, start=0.0, end=1.0,
                     score=1.0, summary="", why="", severity=severity, corroborated_by=by)  # fmt: skip

    from zerotls.monitor.alerts import findings

    ordered = [
        alert("outlier", "a", 0.9),
        alert("outlier", "b", 0.8, ("volume-spike",)),
        alert("new-destination", "c", 0.4),
    ]
    assert [(a.identity, a.detector) for a in findings(ordered)] == [
        ("b", "outlier"), ("c", "new-destination"), ("a", "outlier"),
    ]  # fmt: skip


def test_destination_the_others_already_use_is_not_news() -> None:
    # svc0 never used the wiki, but four of its peers do every day.
    rows = background() + [
        event(T0 + d * DAY + 9 * HOUR + i, TEAM[1 + i], "wiki.internal")
        for d in range(14)
        for i in range(4)
    ]
    rows.append(event(WINDOW_START + 10 * HOUR, TEAM[0], "wiki.internal"))
    assert detectors.new_destinations(features(rows)["pairs"], WINDOW, SETTINGS).alerts == []


def test_several_steady_hosts_meeting_the_same_unknown_host_is_spread() -> None:
    browser = "10.0.0.99"
    rows = background() + [
        # a browser meets a new site every hour: new destinations are its normal
        event(T0 + h * HOUR, browser, f"site{h}.web.example")
        for h in range(14 * 24)
    ]
    rows += [event(WINDOW_START + HOUR, browser, "site-new.web.example")]
    rows += [event(WINDOW_START + 5 * HOUR + i, TEAM[i], "dl.spread.example") for i in range(3)]
    alerts = detectors.new_destinations(features(rows)["pairs"], WINDOW, SETTINGS).alerts
    assert {(a.identity, a.destination) for a in alerts} == {
        (TEAM[i], "dl.spread.example") for i in range(3)
    }
    assert all(a.evidence["identities_new_to_it_in_window"] == 3 for a in alerts)


def _long_tail_web(window_site: str, browsers: list[str]) -> list[dict[str, object]]:
    """Eight browsers on top of the team: each day every one meets sites nobody reached
    before, and a few never-seen sites reach three of them within the hour (the long tail
    of the web). In the window, ``window_site`` is met by ``browsers``."""
    rng = random.Random(7)
    people = [f"10.0.2.{i}" for i in range(8)]
    rows = background()
    for d in range(14):
        day = T0 + d * DAY
        for i, person in enumerate(people):
            for k in range(3):  # its own new sites
                rows.append(event(day + (9 + k) * HOUR + i, person, f"own{d}-{i}-{k}.example"))
        for k in range(3):  # shared new sites: three browsers each
            for j, person in enumerate(rng.sample(people, 3)):
                rows.append(event(day + (13 + k) * HOUR + 60 * j, person, f"hot{d}-{k}.example"))
    rows += [
        event(WINDOW_START + 10 * HOUR + 60 * j, b, window_site) for j, b in enumerate(browsers)
    ]
    return rows


def test_a_spread_as_common_as_the_networks_long_tail_is_not_news() -> None:
    # Three browsers meeting one never-seen site is what this network does three times a day.
    people = [f"10.0.2.{i}" for i in range(3)]
    rows = _long_tail_web("www.another-site.example", people)
    alerts = detectors.new_destinations(features(rows)["pairs"], WINDOW, SETTINGS).alerts
    assert [a for a in alerts if a.destination == "www.another-site.example"] == []


def test_the_same_spread_among_steady_hosts_of_that_network_is() -> None:
    # The twin: in the same network, three steady services meet one never-seen host.
    rows = _long_tail_web("dl.spread.example", TEAM[:3])
    scored = detectors.new_destinations(features(rows)["pairs"], WINDOW, SETTINGS)
    hit = [a for a in scored.alerts if a.destination == "dl.spread.example"]
    assert {a.identity for a in hit} == set(TEAM[:3])
    assert all("never-seen destination(s) a day reach that many" in a.why for a in hit)
    assert all(a.evidence["spreads_like_it_per_day"] > 1 for a in hit)


# -------------------------------------------------------------------------- volume spike


def volume_rows(spike_bytes: int) -> list[dict[str, object]]:
    rng = random.Random(1)
    rows = []
    for h in range(15 * 24):
        ts = T0 + h * HOUR
        size = (
            spike_bytes
            if ts == WINDOW_START + 14 * HOUR
            else int(rng.uniform(0.8, 1.2) * 2_000_000)
        )
        rows.append(
            event(ts + 60, "10.0.0.5", "storage.saas.example", bytes_out=size, bytes_in=5_000_000)
        )
    return rows


def test_volume_spike_against_the_same_hour_fires() -> None:
    scored = detectors.volume_spikes(features(volume_rows(600_000_000))["hourly"], WINDOW, SETTINGS)
    (alert,) = scored.alerts
    assert alert.identity == "10.0.0.5" and alert.start == WINDOW_START + 14 * HOUR
    assert (
        alert.evidence["z_bytes_out"] > 4 and alert.evidence["baseline"] == "same hour of the day"
    )
    assert 1.5e6 < alert.evidence["baseline_median_bytes_out"] < 2.5e6
    assert scored.candidates == 24 and alert.rank == 1.0
    assert alert.plot is not None and alert.plot.observed[0][1] == 600_000_000


def _upload_heavy(out_bytes: int) -> list[dict[str, object]]:
    """volume_rows with one window hour sending ``out_bytes`` and receiving almost nothing."""
    rows = [r for r in volume_rows(2_000_000) if r["ts"] != WINDOW_START + 14 * HOUR + 60]
    rows.append(event(WINDOW_START + 14 * HOUR + 60, "10.0.0.5", "storage.saas.example",
                      bytes_out=out_bytes, bytes_in=10_000))  # fmt: skip
    return rows


def test_an_hour_that_only_received_less_is_not_a_spike() -> None:
    # The usual 2 MB out, but nothing downloaded: the out/in ratio alone is no leak.
    scored = detectors.volume_spikes(features(_upload_heavy(2_000_000))["hourly"], WINDOW, SETTINGS)
    assert scored.alerts == []


def test_more_out_and_nothing_in_is_a_spike_by_both_measures() -> None:
    # The twin: 5x the usual bytes out and nothing in: neither measure alone is extreme
    # (z of bytes out about 2), together they are.
    scored = detectors.volume_spikes(
        features(_upload_heavy(10_000_000))["hourly"], WINDOW, SETTINGS
    )
    (alert,) = scored.alerts
    z_out, z_ratio = alert.evidence["z_bytes_out"], alert.evidence["z_out_in_ratio"]
    assert z_out < SETTINGS.volume_threshold <= alert.score
    assert alert.score == pytest.approx((z_out * z_ratio) ** 0.5, rel=1e-3)


def test_ordinary_hour_is_not_a_spike() -> None:
    assert (
        detectors.volume_spikes(features(volume_rows(2_100_000))["hourly"], WINDOW, SETTINGS).alerts
        == []
    )


def _caller_and_payroll(
    window_hours: dict[int, tuple[int, int]], dst: str = "payroll.saas.example"
) -> list[dict[str, object]]:
    """A workstation whose hourly total is noisy (video calls of about 300 MB each way to ever
    new relays, most mornings) and which sends at most 2 MB an hour to its payroll
    service; ``window_hours`` adds, per window hour, (bytes out, bytes in) sent to ``dst``."""
    rng = random.Random(7)
    ws = "10.1.2.3"
    rows = []
    for d in range(14):
        for h in range(9, 17):
            ts = T0 + d * DAY + h * HOUR + 60
            rows.append(
                event(
                    ts,
                    ws,
                    "payroll.saas.example",
                    bytes_out=int(rng.uniform(0.2, 2.0) * 1e6),
                    bytes_in=300_000,
                )
            )
        for h in (10, 11):  # calls most mornings, to ever new relays
            if rng.random() < 0.8:
                size = int(rng.uniform(200, 400) * 1e6)
                relay = f"203.0.113.{2 * d + h - 9}"
                rows.append(
                    event(
                        T0 + d * DAY + h * HOUR + 120,
                        ws,
                        relay,
                        proto="udp",
                        dst_port=3478,
                        bytes_out=size,
                        bytes_in=size,
                    )
                )
    for h, (out, inn) in window_hours.items():
        for k in range(10):
            rows.append(
                event(
                    WINDOW_START + h * HOUR + 60 + 300 * k,
                    ws,
                    dst,
                    bytes_out=out // 10,
                    bytes_in=inn // 10,
                )
            )
    return rows  # fmt: skip


def test_sustained_upload_to_a_usual_destination_is_found_where_the_total_hides_it() -> None:
    # Two hours of 25 MB each to payroll, more than 10x its most there: the identity's
    # total does not show it (its calls make 300 MB hours usual); the pair does.
    f = features(_caller_and_payroll({10: (25_000_000, 200_000), 11: (25_000_000, 200_000)}))
    assert detectors.volume_spikes(f["hourly"], WINDOW, SETTINGS).alerts == []
    (alert,) = detectors.destination_spikes(f["pair_hours"], WINDOW, SETTINGS).alerts
    assert (alert.identity, alert.destination) == ("10.1.2.3", "payroll.saas.example")
    assert (alert.start, alert.end) == (WINDOW_START + 10 * HOUR, WINDOW_START + 12 * HOUR)
    assert alert.evidence["own_baseline_hours_there"] == 14 * 8
    assert 1.5e6 < alert.evidence["own_most_bytes_out_per_hour_there"] <= 2e6
    assert alert.score == pytest.approx(
        math.log2(25e6 / alert.evidence["own_most_bytes_out_per_hour_there"]), rel=1e-3
    )
    assert "sustained upload" in alert.why


@pytest.mark.parametrize(
    ("window_hours", "dst"),
    [
        ({10: (50_000_000, 200_000)}, "payroll.saas.example"),  # one large file: one hour
        ({10: (25_000_000, 25_000_000), 11: (25_000_000, 25_000_000)}, "payroll.saas.example"),
        ({10: (25_000_000, 200_000), 12: (25_000_000, 200_000)}, "payroll.saas.example"),
        ({10: (5_000_000, 100_000), 11: (5_000_000, 100_000)}, "payroll.saas.example"),
    ],
    ids=["one-hour", "as-much-in-as-out", "not-consecutive", "within-4x-its-most"],
)
def test_what_is_not_a_sustained_upload(window_hours: dict[int, tuple[int, int]], dst: str) -> None:
    f = features(_caller_and_payroll(window_hours, dst))
    assert detectors.destination_spikes(f["pair_hours"], WINDOW, SETTINGS).alerts == []


def test_a_sustained_transfer_to_an_internal_host_is_not_egress() -> None:
    rows = _caller_and_payroll({})
    for d in range(14):
        rows.append(event(T0 + d * DAY + 2 * HOUR, "10.1.2.3", "10.9.9.9", bytes_out=1_000_000))
    for h in (10, 11):
        rows.append(event(WINDOW_START + h * HOUR + 60, "10.1.2.3", "10.9.9.9",
                          bytes_out=80_000_000, bytes_in=10_000))  # fmt: skip
    f = features(rows)
    assert detectors.destination_spikes(f["pair_hours"], WINDOW, SETTINGS).alerts == []


# -------------------------------------------------------------------------- beacon


def beacon_rows(
    times: list[float], identity: str = "10.0.0.7", dst: str = "cdn.c2.example"
) -> list[dict[str, object]]:
    return [
        event(t, identity, dst, bytes_out=400 + (i % 3), bytes_in=900, duration=0.3)
        for i, t in enumerate(times)
    ]


def test_jittered_beacon_fires_with_rita_subscores() -> None:
    rng = random.Random(7)
    times, t = [], WINDOW_START + 100
    while t < END - 60:
        times.append(t)
        t += 300 * (1 + rng.uniform(-0.15, 0.15))
    f = features(background() + beacon_rows(times))
    (alert,) = detectors.beacons(f["beacon"], f["pairs"], WINDOW, SETTINGS).alerts
    assert (alert.identity, alert.destination) == ("10.0.0.7", "cdn.c2.example")
    assert 280 < alert.evidence["median_interval_s"] < 320
    assert alert.evidence["typical_bytes_out"] == pytest.approx(401, abs=1)
    assert set(alert.evidence["subscores"]) >= {
        "timing_skew",
        "timing_madm",
        "size_madm",
        "duration",
        "histogram",
    }
    assert alert.score >= 0.8


def test_random_traffic_to_one_host_is_not_a_beacon() -> None:
    rng = random.Random(3)
    times, t = [], WINDOW_START
    while t < END:
        times.append(t)
        t += rng.expovariate(1 / 300)
    f = features(background() + beacon_rows(times))
    rows = [dict(r, bytes_out=int(rng.lognormvariate(8, 1.5))) for r in beacon_rows(times)]
    f = features(background() + rows)
    assert detectors.beacons(f["beacon"], f["pairs"], WINDOW, SETTINGS).alerts == []


def test_steady_traffic_with_gaps_as_wide_as_the_interval_is_not_a_beacon() -> None:
    # All day, every hour, the same size: but the gaps vary as much as the interval (an
    # hourly job that drifts anywhere in the hour). Its twin with 30 % jitter is a beacon.
    rng = random.Random(5)
    for spread, expected in ((1.0, 0), (0.3, 1)):
        times, t = [], WINDOW_START + 100
        while t < END - 60:
            times.append(t)
            t += 3000 * (1 + rng.uniform(-spread, spread))
        f = features(background() + beacon_rows(times))
        found = detectors.beacons(f["beacon"], f["pairs"], WINDOW, SETTINGS).alerts
        assert len(found) == expected, (spread, [a.evidence for a in found])


def test_periodic_traffic_every_host_sends_is_discounted() -> None:
    rows = background()
    for i, ident in enumerate(TEAM):
        rows += beacon_rows(
            [WINDOW_START + 30 * i + k * 3600.0 for k in range(24)], ident, "update.vendor.example"
        )
    f = features(rows)
    scored = detectors.beacons(f["beacon"], f["pairs"], WINDOW, SETTINGS)
    assert scored.alerts == [] and scored.candidates == len(TEAM)
    assert detectors.popularity_factor(1) == 1.0 and detectors.popularity_factor(4) == 0.5


def test_service_discovery_multicast_is_not_egress() -> None:
    # SSDP every 30 minutes, as a real 2018 capture shows: periodic by design, not a beacon
    times = [WINDOW_START + 1800.0 * k for k in range(48)]
    f = features(background() + beacon_rows(times, "192.168.1.105", "239.255.255.250"))
    assert detectors.beacons(f["beacon"], f["pairs"], WINDOW, SETTINGS).alerts == []
    assert detectors.is_local_broadcast("ff02::fb") and not detectors.is_local_broadcast("8.8.8.8")
    assert not detectors.is_local_broadcast("db.internal")


def test_bowley_skew() -> None:
    assert detectors.bowley_skew(10, 10, 10) == 0.0
    assert detectors.bowley_skew(1, 2, 3) == 0.0
    assert detectors.bowley_skew(1, 1.5, 5) == pytest.approx(0.75)


# -------------------------------------------------------------------------- long connection


def test_long_connection_to_a_rare_host_fires() -> None:
    rows = [
        *background(),
        event(WINDOW_START + HOUR, TEAM[2], "relay.example", duration=6 * HOUR, bytes_out=10000),
    ]
    f = features(rows)
    (alert,) = detectors.long_connections(f["long"], f["durations"], f["pairs"], SETTINGS).alerts
    assert alert.destination == "relay.example" and alert.evidence["duration_s"] == 6 * HOUR
    assert alert.evidence["baseline_p99_s"] < 2.0


def test_long_connections_are_normal_for_an_identity_that_always_holds_them() -> None:
    rows = background() + [
        event(T0 + d * DAY, TEAM[2], "replica.internal", duration=8 * HOUR) for d in range(14)
    ]
    rows.append(event(WINDOW_START + HOUR, TEAM[2], "replica.internal", duration=6 * HOUR))
    f = features(rows)
    assert detectors.long_connections(f["long"], f["durations"], f["pairs"], SETTINGS).alerts == []


# -------------------------------------------------------------------------- probing


def probe_rows(n: int) -> list[dict[str, object]]:
    return [
        event(
            WINDOW_START + 2 * HOUR + 10 * i,
            "spiffe://corp.example/ci/runner",
            f"db{i % 4}.internal",
            dst_port=5432 + i % 3,
            outcome="denied",
            decision="deny",
            detail="denied: no rule allows",
        )
        for i in range(n)
    ]


def test_burst_of_denials_is_probing() -> None:
    f = features(background() + probe_rows(30))
    (alert,) = detectors.probing(f["failures"], WINDOW, SETTINGS).alerts
    assert alert.identity == "spiffe://corp.example/ci/runner"
    assert (alert.evidence["failed"], alert.evidence["denied"], alert.evidence["hosts"]) == (
        30,
        30,
        4,
    )
    assert alert.evidence["ports"] == 3


def test_the_same_burst_from_outside_weighs_half() -> None:
    inside = probe_rows(30)
    outside = [dict(r, identity="45.33.32.156") for r in probe_rows(30)]
    outside = [dict(r, ts=float(r["ts"]) + 3 * HOUR) for r in outside]  # type: ignore[arg-type]
    f = features(background() + inside + outside)
    alerts = {a.identity: a for a in detectors.probing(f["failures"], WINDOW, SETTINGS).alerts}
    ours, theirs = alerts["spiffe://corp.example/ci/runner"], alerts["45.33.32.156"]
    assert theirs.rank == pytest.approx(ours.rank * detectors.OUTSIDE_WEIGHT)
    assert "comes from outside" in theirs.why and "outside" not in ours.why
    assert detectors.is_outside("45.33.32.156") and not detectors.is_outside("10.1.2.3")
    assert not detectors.is_outside("spiffe://corp.example/ci/runner")


def test_a_few_denials_are_not_probing() -> None:
    f = features(background() + probe_rows(4))
    assert detectors.probing(f["failures"], WINDOW, SETTINGS).alerts == []


# -------------------------------------------------------------------------- legacy TLS


def test_legacy_tls_and_weak_ciphers_are_flagged() -> None:
    rows = [
        *background(),
        event(
            WINDOW_START + HOUR,
            TEAM[3],
            "printer.corp",
            tls_version="TLSv1.0",
            cipher="TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        ),
    ]
    f = features(rows)
    (alert,) = detectors.legacy_tls(f["tls"], f["ciphers"], SETTINGS).alerts
    assert alert.destination == "printer.corp"
    assert any("TLSv1.0" in i for i in alert.evidence["issues"]) and any(
        "weak cipher" in i for i in alert.evidence["issues"]
    )


def test_modern_tls_is_not_flagged() -> None:
    f = features(background())
    assert detectors.legacy_tls(f["tls"], f["ciphers"], SETTINGS).alerts == []


# -------------------------------------------------------------------------- outliers


def test_isolation_forest_finds_the_odd_hour_and_says_why() -> None:
    rows = background()
    rows += [
        event(
            WINDOW_START + 11 * HOUR + i,
            TEAM[4],
            f"host{i}.example",
            bytes_out=40_000_000,
            outcome="denied",
        )
        for i in range(40)
    ]
    f = features(rows)
    first = detectors.outliers(f["hourly"], WINDOW, SETTINGS).alerts
    assert [a.identity for a in first] == [TEAM[4]]
    assert first[0].evidence["group"] == "spiffe://corp.example/team"
    assert "higher" in first[0].why
    again = detectors.outliers(f["hourly"], WINDOW, SETTINGS).alerts  # fixed seed: same answer
    assert [(a.score, a.why) for a in again] == [(a.score, a.why) for a in first]


def test_isolation_forest_is_quiet_on_a_normal_day() -> None:
    f = features(background())
    assert detectors.outliers(f["hourly"], WINDOW, SETTINGS).alerts == []


def test_identity_groups() -> None:
    assert detectors.identity_group("spiffe://td/ns/prod/sa/web") == "spiffe://td/ns/prod/sa"
    assert detectors.identity_group("10.1.2.3") == "10.1.2.0/24"
    assert detectors.identity_group("2001:db8::1") == "2001:db8::/64"
    assert detectors.identity_group("web1.corp.example") == "corp.example"


# -------------------------------------------------------------------------- severity


def _alert(detector: str, identity: str, rank: float, destination: str | None = None) -> Alert:
    return Alert(
        detector=detector,
        identity=identity,
        destination=destination,
        start=T0,
        end=T0,
        score=rank,
        summary="",
        why="",
        rank=rank,
    )


def test_severity_is_combined_by_rank_and_corroboration() -> None:
    alone = _alert("beacon", "a", 0.99, "c2.example")
    backed = _alert("beacon", "b", 0.99, "c2.example")
    new_dest = _alert("new-destination", "b", 0.9, "c2.example")
    unrelated = _alert("new-destination", "b", 0.9, "other.example")
    ordered = combine([alone, backed, new_dest, replace(unrelated, identity="c")])
    by = {(a.identity, a.detector, a.destination): a for a in ordered}
    assert by[("b", "beacon", "c2.example")].severity > by[("a", "beacon", "c2.example")].severity
    assert by[("b", "beacon", "c2.example")].corroborated_by == ("new-destination",)
    assert ordered[0].identity == "b"
    # a finding about another destination of the same identity does not corroborate
    other = combine([backed, unrelated])
    assert all(a.corroborated_by == () for a in other)
    assert ordered[0].level == "high" and _alert("outlier", "x", 0.1).level == "low"
