"""Each matcher, and its negative twin, on identities from real certificates."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.policy.conftest import T0, Ids
from zerotls.errors import ConfigError
from zerotls.policy import Policy, Request, Rule, decide
from zerotls.tls.identity import Identity

REQ = Request(route="db", listener="main", sni="db.prod.example", alpn="h2", source="10.1.2.3")


def allows(
    identity: Identity | None, request: Request = REQ, now: dt.datetime = T0, **kw: object
) -> bool:
    """Whether a policy of exactly one allow rule with ``kw`` allows the connection."""
    rule = Rule(name="r", effect="allow", **kw)  # type: ignore[arg-type]
    decision = decide(identity, request, Policy(rules=(rule,)), now)
    assert decision.effect == ("allow" if decision.allowed else "deny")
    return decision.allowed


# -- SPIFFE -----------------------------------------------------------------------------------


def test_spiffe_exact(ids: Ids) -> None:
    assert allows(ids.web, spiffe=("spiffe://prod.example/svc/web",))
    assert not allows(ids.db, spiffe=("spiffe://prod.example/svc/web",))


def test_spiffe_any_of_several_patterns(ids: Ids) -> None:
    patterns = ("spiffe://prod.example/svc/db", "spiffe://prod.example/batch/*")
    assert allows(ids.db, spiffe=patterns)
    assert allows(ids.batch, spiffe=patterns)
    assert not allows(ids.web, spiffe=patterns)


def test_single_star_is_exactly_one_segment(ids: Ids) -> None:
    pattern = ("spiffe://prod.example/batch/*",)
    assert allows(ids.batch, spiffe=pattern)
    assert allows(ids.legacy, spiffe=pattern)
    assert not allows(ids.deep, spiffe=pattern)  # two segments below batch
    assert not allows(ids.web, spiffe=pattern)


def test_double_star_is_one_or_more_segments(ids: Ids) -> None:
    pattern = ("spiffe://prod.example/batch/**",)
    assert allows(ids.batch, spiffe=pattern)
    assert allows(ids.deep, spiffe=pattern)
    assert not allows(ids.web, spiffe=pattern)


def test_double_star_needs_at_least_one_segment(ids: Ids) -> None:
    td_only = ids.ca.issue("td", spiffe_id="spiffe://prod.example", now=T0).identity
    assert allows(td_only, spiffe=("spiffe://prod.example",))
    assert not allows(td_only, spiffe=("spiffe://prod.example/**",))


def test_star_inside_a_segment_stays_in_that_segment(ids: Ids) -> None:
    pattern = ("spiffe://prod.example/batch/legacy-*",)
    assert allows(ids.legacy, spiffe=pattern)
    assert not allows(ids.batch, spiffe=pattern)
    assert not allows(ids.deep, spiffe=pattern)
    below = ("spiffe://prod.example/batch/legacy-*/**",)
    assert allows(ids.deep, spiffe=below)
    assert not allows(ids.legacy, spiffe=below)


def test_star_segments_count_exactly(ids: Ids) -> None:
    assert allows(ids.deep, spiffe=("spiffe://prod.example/*/*/*",))
    assert not allows(ids.deep, spiffe=("spiffe://prod.example/*/*",))
    assert not allows(ids.web, spiffe=("spiffe://prod.example/*/*/*",))


@pytest.mark.parametrize(
    "pattern",
    [
        "spiffe://prod.example/svc/web",
        "spiffe://prod.example/svc/*",
        "spiffe://prod.example/**",
        "spiffe://prod.example/*/web",
    ],
)
def test_trust_domain_mismatch_never_matches(ids: Ids, pattern: str) -> None:
    assert allows(ids.web, spiffe=(pattern,))
    assert not allows(ids.foreign, spiffe=(pattern,))


def test_spiffe_path_is_case_sensitive(ids: Ids) -> None:
    assert not allows(ids.web, spiffe=("spiffe://prod.example/svc/WEB",))


def test_no_spiffe_id_never_matches_a_spiffe_pattern(ids: Ids) -> None:
    assert not allows(ids.dns_only, spiffe=("spiffe://prod.example/**",))


@pytest.mark.parametrize(
    ("pattern", "complaint"),
    [
        ("spiffe://*.example/svc/web", "trust domain"),
        ("spiffe://prod.*/svc", "trust domain"),
        ("spiffe://prod.example/**/web", "last segment"),
        ("spiffe://prod.example/batch/legacy-**", "'legacy-*/**'"),
        ("spiffe://prod.example/a*b*", "at most one '*'"),
        ("spiffe://prod.example/***", "not supported"),
        ("https://prod.example/svc", "must start with 'spiffe://'"),
        ("spiffe://Prod.Example/svc", "trust domain"),
        ("spiffe://prod.example/svc/", "must not end with '/'"),
        ("spiffe://prod.example//svc", "segment"),
        ("spiffe://prod.example/svc/we b", "segment"),
    ],
)
def test_bad_spiffe_patterns_are_rejected_at_construction(pattern: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match="rule 'r'") as info:
        Rule(name="r", effect="allow", spiffe=(pattern,))
    assert complaint in str(info.value)


# -- DNS --------------------------------------------------------------------------------------


def test_dns_exact_and_case_insensitive(ids: Ids) -> None:
    assert allows(ids.web, dns=("web.prod.example",))
    assert allows(ids.web, dns=("WEB.Prod.Example.",))
    assert not allows(ids.web, dns=("db.prod.example",))


def test_dns_star_matches_within_one_label(ids: Ids) -> None:
    assert allows(ids.web, dns=("*.prod.example",))
    assert allows(ids.dns_only, dns=("*.prod.example",))  # api.prod.example
    assert allows(ids.dns_only, dns=("*.b.prod.example",))  # a.b.prod.example
    assert not allows(ids.dns_only, dns=("*.example",))  # never spans a dot
    assert not allows(ids.web, dns=("*.web.prod.example",))


def test_dns_partial_label_glob(ids: Ids) -> None:
    assert allows(ids.web, dns=("w*.prod.example",))
    assert not allows(ids.db, dns=("w*.prod.example",))


def test_any_dns_san_may_match(ids: Ids) -> None:
    assert allows(ids.dns_only, dns=("a.b.prod.example",))
    assert allows(ids.dns_only, dns=("api.prod.example",))


def test_wildcard_san_is_not_a_wildcard_match(ids: Ids) -> None:
    # A certificate for *.prod.example names no particular workload: no glob matches it.
    assert not allows(ids.wildcard_san, dns=("*.prod.example",))
    assert not allows(ids.wildcard_san, dns=("web.prod.example",))


@pytest.mark.parametrize("pattern", ["", "a..b", "*.*x*.example", "db prod", "db/prod", "**.x"])
def test_bad_dns_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(ConfigError, match="dns pattern"):
        Rule(name="r", effect="allow", dns=(pattern,))


# -- pins and issuers -------------------------------------------------------------------------


def test_pins_with_and_without_prefix(ids: Ids) -> None:
    assert allows(ids.web, pins=(f"sha256/{ids.web.spki_pin}",))
    assert allows(ids.web, pins=(ids.web.spki_pin,))
    assert not allows(ids.db, pins=(f"sha256/{ids.web.spki_pin}",))


def test_pins_are_normalized() -> None:
    pin = "A" * 43 + "="
    rule = Rule(name="r", effect="allow", pins=(f"sha256/{pin}",))
    assert rule.pins == (pin,)
    with pytest.raises(ConfigError, match="not base64"):
        Rule(name="r", effect="allow", pins=("sha256/not-a-pin!",))
    with pytest.raises(ConfigError, match="SHA-256"):
        Rule(name="r", effect="allow", pins=("AAAA",))


def test_issuer_exact(ids: Ids) -> None:
    assert ids.web.issuer == "CN=policy test root,O=zerotls"
    assert allows(ids.web, issuers=("CN=policy test root,O=zerotls",))
    assert not allows(ids.other_issuer, issuers=("CN=policy test root,O=zerotls",))
    assert allows(ids.other_issuer, issuers=("CN=other root,O=zerotls",))


def test_issuer_normalizes_spacing_and_attribute_case(ids: Ids) -> None:
    assert allows(ids.web, issuers=(" cn = policy test root , o=zerotls",))
    assert allows(ids.web, issuers=("commonName=policy test root,organizationName=zerotls",))
    assert not allows(ids.web, issuers=("CN=POLICY TEST ROOT,O=zerotls",))  # values are exact
    assert not allows(ids.web, issuers=("CN=policy test root",))  # the whole DN


@pytest.mark.parametrize("dn", ["", "policy test root", "CN=", "=x", "CN=a,,O=b"])
def test_bad_issuers_are_rejected(dn: str) -> None:
    with pytest.raises(ConfigError, match="distinguished name"):
        Rule(name="r", effect="allow", issuers=(dn,))


def test_identity_fields_are_anded(ids: Ids) -> None:
    kw = {
        "spiffe": ("spiffe://prod.example/svc/web",),
        "issuers": ("CN=policy test root,O=zerotls",),
    }
    assert allows(ids.web, **kw)
    assert not allows(ids.other_issuer, **kw)  # right SPIFFE ID, wrong CA


def test_any_identity(ids: Ids) -> None:
    for identity in ids.all():
        assert allows(identity, any_identity=True)
    assert not allows(None, any_identity=True)


def test_no_certificate_matches_no_identity_matcher(ids: Ids) -> None:
    for kw in (
        {"spiffe": ("spiffe://prod.example/**",)},
        {"dns": ("*.prod.example",)},
        {"pins": (ids.web.spki_pin,)},
        {"issuers": (ids.web.issuer,)},
        {"any_identity": True},
    ):
        assert not allows(None, **kw)


# -- context ----------------------------------------------------------------------------------

WEB = {"spiffe": ("spiffe://prod.example/svc/web",)}


def test_routes_and_listeners(ids: Ids) -> None:
    assert allows(ids.web, routes=("db", "cache"), **WEB)
    assert not allows(ids.web, routes=("cache",), **WEB)
    assert allows(ids.web, listeners=("main",), **WEB)
    assert not allows(ids.web, listeners=("admin",), **WEB)


def test_sni_globs(ids: Ids) -> None:
    assert allows(ids.web, sni=("*.prod.example",), **WEB)
    assert allows(ids.web, sni=("DB.prod.example",), **WEB)
    assert not allows(ids.web, sni=("*.staging.example",), **WEB)
    no_sni = Request(route="db", source="10.1.2.3")
    assert not allows(ids.web, request=no_sni, sni=("*.prod.example",), **WEB)


def test_alpn(ids: Ids) -> None:
    assert allows(ids.web, alpn=("h2", "http/1.1"), **WEB)
    assert not allows(ids.web, alpn=("postgresql",), **WEB)
    assert not allows(ids.web, request=Request(route="db"), alpn=("h2",), **WEB)


@pytest.mark.parametrize(
    ("sources", "peer", "expected"),
    [
        (("10.0.0.0/8",), "10.1.2.3", True),
        (("10.0.0.0/8",), "11.1.2.3", False),
        (("10.0.0.0/8",), "::ffff:10.1.2.3", True),  # IPv4-mapped peers on dual-stack sockets
        (("127.0.0.1",), "127.0.0.1", True),  # a bare address is a /32
        (("127.0.0.1",), "127.0.0.2", False),
        (("fd00::/8",), "fd12::1", True),
        (("fd00::/8",), "fe80::1", False),
        (("::1",), "::1", True),  # a bare IPv6 address is a /128
        (("::1",), "::2", False),
        (("10.0.0.0/8", "::1"), "::1", True),
        (("10.0.0.0/8",), "not an address", False),
        (("10.0.0.0/8",), None, False),
    ],
)
def test_sources(ids: Ids, sources: tuple[str, ...], peer: str | None, expected: bool) -> None:
    request = Request(route="db", source=peer)
    assert allows(ids.web, request=request, sources=sources, **WEB) is expected


def test_sources_are_normalized() -> None:
    rule = Rule(name="r", effect="allow", sources=("127.0.0.1", "fd00::/8", "::1"), **WEB)  # type: ignore[arg-type]
    assert rule.sources == ("127.0.0.1/32", "fd00::/8", "::1/128")


@pytest.mark.parametrize(
    ("source", "complaint"),
    [("10.0.0.1/8", "host bits"), ("10.0.0.0/33", "CIDR"), ("db.internal", "CIDR"), ("", "CIDR")],
)
def test_bad_sources_are_rejected(source: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        Rule(name="r", effect="deny", sources=(source,))


def at(hhmm: str, day: int = 30) -> dt.datetime:
    """A UTC time on 2026-11-<day> (the 30th is a Monday)."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at("06:00"), True),  # start inclusive
        (at("05:59"), False),
        (at("21:59"), True),
        (at("22:00"), False),  # end exclusive
        (at("12:00"), True),
    ],
)
def test_hours_window(ids: Ids, now: dt.datetime, expected: bool) -> None:
    assert allows(ids.web, now=now, hours="06:00-22:00", **WEB) is expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at("22:00"), True),
        (at("23:59"), True),
        (at("00:00"), True),
        (at("05:59"), True),
        (at("06:00"), False),
        (at("12:00"), False),
        (at("21:59"), False),
    ],
)
def test_hours_window_wrapping_midnight(ids: Ids, now: dt.datetime, expected: bool) -> None:
    assert allows(ids.web, now=now, hours="22:00-06:00", **WEB) is expected


def test_hours_end_of_day(ids: Ids) -> None:
    assert allows(ids.web, now=at("23:59"), hours="18:00-24:00", **WEB)
    assert not allows(ids.web, now=at("00:00"), hours="18:00-24:00", **WEB)


def test_hours_are_utc(ids: Ids) -> None:
    # 23:30 in UTC+2 is 21:30 UTC: inside 06:00-22:00.
    plus_two = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert allows(ids.web, now=plus_two, hours="06:00-22:00", **WEB)
    # A naive time is taken as UTC.
    assert not allows(ids.web, now=dt.datetime(2026, 11, 30, 23, 30), hours="06:00-22:00", **WEB)


@pytest.mark.parametrize(
    ("hours", "complaint"),
    [
        ("6:00-22:00", "HH:MM-HH:MM"),
        ("06:00", "HH:MM-HH:MM"),
        ("25:00-06:00", "out of range"),
        ("06:60-07:00", "out of range"),
        ("24:00-06:00", "out of range"),
        ("06:00-24:30", "out of range"),
        ("08:00-08:00", "empty"),
        ("00:00-24:00", "whole-day"),
    ],
)
def test_bad_hours_are_rejected(hours: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        Rule(name="r", effect="allow", hours=hours, **WEB)  # type: ignore[arg-type]


def test_hours_are_normalized() -> None:
    rule = Rule(name="r", effect="allow", hours=" 06:00 - 22:00 ", **WEB)  # type: ignore[arg-type]
    assert rule.hours == "06:00-22:00"


def test_weekdays(ids: Ids) -> None:
    monday, saturday = at("12:00", day=30), at("12:00", day=28)
    assert allows(ids.web, now=monday, weekdays=("mon", "tue"), **WEB)
    assert not allows(ids.web, now=saturday, weekdays=("mon", "tue"), **WEB)
    assert allows(ids.web, now=saturday, weekdays=("Sat", "SUN"), **WEB)
    with pytest.raises(ConfigError, match="weekday 'monday'"):
        Rule(name="r", effect="allow", weekdays=("monday",), **WEB)  # type: ignore[arg-type]


def test_weekday_and_wrapping_hours_are_checked_on_the_same_utc_instant(ids: Ids) -> None:
    kw = {"hours": "22:00-06:00", "weekdays": ("fri",), **WEB}
    assert allows(ids.web, now=at("23:00", day=27), **kw)  # Friday night
    assert not allows(ids.web, now=at("02:00", day=28), **kw)  # already Saturday


def test_min_remaining_with_injected_now(ids: Ids) -> None:
    ten = dt.timedelta(minutes=10)
    not_after = ids.web.not_after
    assert allows(ids.web, now=not_after - dt.timedelta(hours=1), min_remaining=ten, **WEB)
    assert allows(ids.web, now=not_after - ten, min_remaining=ten, **WEB)  # boundary: enough
    assert not allows(
        ids.web, now=not_after - ten + dt.timedelta(seconds=1), min_remaining=ten, **WEB
    )
    assert not allows(ids.web, now=not_after + dt.timedelta(hours=1), min_remaining=ten, **WEB)


def test_min_remaining_must_be_positive_and_only_on_allow_rules() -> None:
    with pytest.raises(ConfigError, match="positive"):
        Rule(name="r", effect="allow", min_remaining=dt.timedelta(0), **WEB)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="allow rules only"):
        Rule(name="r", effect="deny", min_remaining=dt.timedelta(minutes=5), **WEB)  # type: ignore[arg-type]


def test_context_fields_are_anded(ids: Ids) -> None:
    kw = {"routes": ("db",), "sources": ("10.0.0.0/8",), "hours": "06:00-22:00", **WEB}
    assert allows(ids.web, **kw)
    assert not allows(ids.web, request=Request(route="db", source="192.0.2.1"), **kw)
    assert not allows(ids.web, now=at("23:00"), **kw)
