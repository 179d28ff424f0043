"""decide(): deny wins, first allow, default deny, shadow mode, and the cost per decision."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest

from tests.policy.conftest import T0, Ids
from zerotls.errors import ConfigError
from zerotls.policy import Decision, Policy, Request, Rule, decide

DB = Request(route="db", listener="main", source="10.1.2.3")
ALLOW_WEB = Rule(
    name="web-reads-db",
    effect="allow",
    spiffe=("spiffe://prod.example/svc/web",),
    routes=("db",),
    reason="the web tier queries the database",
)
DENY_LAB = Rule(
    name="no-lab-network",
    effect="deny",
    sources=("10.1.0.0/16",),
    reason="the lab network is untrusted",
)
ALLOW_ALL_PROD = Rule(name="prod", effect="allow", spiffe=("spiffe://prod.example/**",))


def test_allow_names_the_rule_and_its_reason(ids: Ids) -> None:
    decision = decide(ids.web, DB, Policy(rules=(ALLOW_WEB,)), T0)
    assert decision == Decision(
        allowed=True,
        effect="allow",
        rule="web-reads-db",
        reason="rule 'web-reads-db' allows spiffe://prod.example/svc/web on route 'db': "
        "the web tier queries the database",
    )
    assert decision.outcome == "allow"


def test_default_deny_names_identity_and_route(ids: Ids) -> None:
    decision = decide(ids.db, DB, Policy(rules=(ALLOW_WEB,)), T0)
    assert not decision.allowed
    assert decision.effect == "deny"
    assert decision.rule is None
    assert decision.reason == "no rule allows spiffe://prod.example/svc/db on route 'db'"
    assert decision.outcome == "deny"


def test_empty_policy_denies_everything(ids: Ids) -> None:
    for identity in [*ids.all(), None]:
        decision = decide(identity, DB, Policy(), T0)
        assert not decision.allowed
        assert decision.rule is None


def test_default_deny_names_a_dns_only_identity(ids: Ids) -> None:
    decision = decide(ids.dns_only, DB, Policy(), T0)
    assert "api.prod.example" in decision.reason


@pytest.mark.parametrize("deny_first", [True, False])
def test_deny_wins_regardless_of_order(ids: Ids, deny_first: bool) -> None:
    rules = (DENY_LAB, ALLOW_WEB) if deny_first else (ALLOW_WEB, DENY_LAB)
    decision = decide(ids.web, DB, Policy(rules=rules), T0)
    assert not decision.allowed
    assert decision.rule == "no-lab-network"
    assert decision.reason == (
        "rule 'no-lab-network' denies spiffe://prod.example/svc/web on route 'db': "
        "the lab network is untrusted"
    )
    # The deny rule's negative twin: from another network, the allow rule decides.
    elsewhere = dataclasses.replace(DB, source="10.2.0.1")
    assert decide(ids.web, elsewhere, Policy(rules=rules), T0).rule == "web-reads-db"


def test_first_matching_deny_rule_is_named(ids: Ids) -> None:
    deny_web = Rule(name="no-web", effect="deny", spiffe=("spiffe://prod.example/svc/web",))
    policy = Policy(rules=(ALLOW_WEB, deny_web, DENY_LAB))
    assert decide(ids.web, DB, policy, T0).rule == "no-web"
    policy = Policy(rules=(DENY_LAB, ALLOW_WEB, deny_web))
    assert decide(ids.web, DB, policy, T0).rule == "no-lab-network"


def test_first_matching_allow_rule_is_named(ids: Ids) -> None:
    policy = Policy(rules=(ALLOW_ALL_PROD, ALLOW_WEB))
    assert decide(ids.web, DB, policy, T0).rule == "prod"
    policy = Policy(rules=(ALLOW_WEB, ALLOW_ALL_PROD))
    assert decide(ids.web, DB, policy, T0).rule == "web-reads-db"


def test_deny_of_a_subtree_beats_a_broader_allow(ids: Ids) -> None:
    no_legacy = Rule(
        name="no-legacy",
        effect="deny",
        spiffe=("spiffe://prod.example/batch/legacy-*", "spiffe://prod.example/batch/legacy-*/**"),
    )
    policy = Policy(rules=(ALLOW_ALL_PROD, no_legacy))
    assert decide(ids.batch, DB, policy, T0).allowed
    assert decide(ids.legacy, DB, policy, T0).rule == "no-legacy"
    assert decide(ids.deep, DB, policy, T0).rule == "no-legacy"


def test_rules_without_routes_apply_to_every_route(ids: Ids) -> None:
    policy = Policy(rules=(ALLOW_WEB, ALLOW_ALL_PROD))
    for route in ("db", "cache", "never-named"):
        request = Request(route=route)
        assert decide(ids.web, request, policy, T0).allowed
    only_db = Policy(rules=(ALLOW_WEB,))
    assert not decide(ids.web, Request(route="cache"), only_db, T0).allowed


def test_no_certificate_is_never_allowed(ids: Ids) -> None:
    everything = Rule(name="everyone", effect="allow", any_identity=True)
    decision = decide(None, DB, Policy(rules=(everything, ALLOW_ALL_PROD)), T0)
    assert not decision.allowed
    assert decision.reason == "no rule allows a peer without a client certificate on route 'db'"
    assert decide(ids.web, DB, Policy(rules=(everything,)), T0).allowed


def test_context_only_deny_rule_applies_without_a_certificate() -> None:
    decision = decide(None, DB, Policy(rules=(DENY_LAB,)), T0)
    assert decision.rule == "no-lab-network"


def test_shadow_mode_allows_but_reports_the_deny(ids: Ids) -> None:
    policy = Policy(rules=(ALLOW_WEB, DENY_LAB), shadow=True)
    decision = decide(ids.web, DB, policy, T0)
    assert decision.allowed
    assert decision.effect == "deny"
    assert decision.shadow
    assert decision.rule == "no-lab-network"
    assert decision.reason.startswith("shadow: would deny; rule 'no-lab-network' denies")
    assert decision.outcome == "shadow-deny"

    default = decide(ids.db, dataclasses.replace(DB, source="192.0.2.1"), policy, T0)
    assert default.allowed and default.shadow and default.rule is None
    assert default.reason == (
        "shadow: would deny; no rule allows spiffe://prod.example/svc/db on route 'db'"
    )


def test_shadow_mode_does_not_change_allows(ids: Ids) -> None:
    policy = Policy(rules=(ALLOW_WEB,), shadow=True)
    decision = decide(ids.web, DB, policy, T0)
    assert decision.allowed and decision.effect == "allow" and not decision.shadow


def test_context_only_allow_rule_is_rejected() -> None:
    with pytest.raises(ConfigError, match="context is never the sole proof of identity"):
        Rule(name="lan", effect="allow", sources=("10.0.0.0/8",))
    with pytest.raises(ConfigError, match="any_identity = true"):
        Rule(name="db", effect="allow", routes=("db",), hours="06:00-22:00")


def test_rule_without_any_matcher_is_rejected() -> None:
    with pytest.raises(ConfigError, match="matches nothing"):
        Rule(name="empty", effect="deny", reason="forgot the matchers")
    with pytest.raises(ConfigError, match="matches nothing"):
        Rule(name="empty", effect="allow")


def test_bad_effect_and_name_are_rejected() -> None:
    with pytest.raises(ConfigError, match="effect must be 'allow' or 'deny'"):
        Rule(name="r", effect="permit", any_identity=True)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a name"):
        Rule(name=" ", effect="allow", any_identity=True)


def test_duplicate_rule_names_are_rejected() -> None:
    with pytest.raises(ConfigError, match="two rules are named 'web-reads-db'"):
        Policy(rules=(ALLOW_WEB, dataclasses.replace(ALLOW_WEB, routes=("cache",))))


def test_a_bare_string_is_one_pattern_not_characters(ids: Ids) -> None:
    rule = Rule(name="r", effect="allow", spiffe="spiffe://prod.example/svc/web")  # type: ignore[arg-type]
    assert rule.spiffe == ("spiffe://prod.example/svc/web",)
    assert decide(ids.web, DB, Policy(rules=(rule,)), T0).allowed


def test_rules_are_values(ids: Ids) -> None:
    same = Rule(
        name="web-reads-db",
        effect="allow",
        spiffe="spiffe://prod.example/svc/web",  # type: ignore[arg-type]
        routes=["db"],  # type: ignore[arg-type]
        reason="the web tier queries the database",
    )
    assert same == ALLOW_WEB
    assert hash(same) == hash(ALLOW_WEB)
    assert Policy(rules=[ALLOW_WEB]) == Policy(rules=(ALLOW_WEB,))  # type: ignore[arg-type]
    # replace() recompiles: the new pattern is the one that matches.
    db_only = dataclasses.replace(ALLOW_WEB, spiffe=("spiffe://prod.example/svc/db",))
    assert decide(ids.db, DB, Policy(rules=(db_only,)), T0).allowed
    assert not decide(ids.web, DB, Policy(rules=(db_only,)), T0).allowed


def test_describe_has_one_line_per_rule() -> None:
    policy = Policy(
        rules=(
            dataclasses.replace(
                ALLOW_WEB,
                sources=("10.0.0.0/8",),
                hours="06:00-22:00",
                min_remaining=dt.timedelta(minutes=10),
            ),
            DENY_LAB,
        )
    )
    lines = policy.describe()
    assert lines == [
        "allow web-reads-db: spiffe://prod.example/svc/web on route db from 10.0.0.0/8 during "
        "06:00-22:00 UTC with at least 10 min of validity left (the web tier queries the "
        "database)",
        "deny  no-lab-network: anyone from 10.1.0.0/16 (the lab network is untrusted)",
    ]


def test_decide_evaluates_each_rule_at_most_once(ids: Ids, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost of a decision is linear in the number of rules, whatever matches.

    Counted, not timed: each applicable rule is evaluated at most once, rules for other routes
    not at all. The rules here all match the identity and fail only on context, so none is
    skipped by the inlined SPIFFE check.
    """
    rules = _many_rules(50, spiffe_matches=True)
    policy = Policy(rules=rules)
    calls: list[str] = []
    original = Rule._matches_after_spiffe

    def counting(self: Rule, *args: object) -> bool:
        calls.append(self.name)
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Rule, "_matches_after_spiffe", counting)
    decision = decide(ids.web, Request(route="db", source="10.1.2.3"), policy, T0)
    assert decision.rule is None  # nothing matches: the worst case, every rule looked at
    applicable = [r for r in rules if not r.routes or "db" in r.routes]
    assert len(applicable) == 50
    assert sorted(calls) == sorted(r.name for r in applicable)
    calls.clear()
    decide(ids.web, Request(route="unrelated"), policy, T0)
    assert calls == [r.name for r in rules if not r.routes and r.effect == "deny"]


@pytest.mark.parametrize("count", [10, 50, 200, 1000])
@pytest.mark.parametrize("spiffe_matches", [False, True])
def test_decide_cost_is_measured_not_asserted(ids: Ids, count: int, spiffe_matches: bool) -> None:
    """Prints the cost per decision for the record (run with ``-s``); machines are noisy,
    so nothing here is a timed assertion. The decision itself is checked."""
    policy = Policy(rules=_many_rules(count, spiffe_matches=spiffe_matches))
    request = Request(route="db", source="10.1.2.3", sni="db.prod.example")
    assert decide(ids.web, request, policy, T0).rule is None
    runs = max(200, 20_000 // count)
    best = min(_time(ids, request, policy, runs) for _ in range(3))
    kind = "identity matches every rule" if spiffe_matches else "identity matches no rule"
    print(f"decide() with {count} rules, none deciding, {kind}: {best * 1e6:.1f} us")


def _time(ids: Ids, request: Request, policy: Policy, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        decide(ids.web, request, policy, T0)
    return (time.perf_counter() - start) / runs


def _many_rules(count: int, *, spiffe_matches: bool) -> tuple[Rule, ...]:
    """A realistic mix, all applying to route "db": allow rules with globs and context, and a
    deny rule in five. With ``spiffe_matches`` every rule names ``spiffe://prod.example/**``
    (so the web identity passes it) and fails on its source range instead."""
    rules: list[Rule] = []
    for i in range(count):
        spiffe = (
            ("spiffe://prod.example/**",)
            if spiffe_matches
            else (f"spiffe://prod.example/svc-{i}/*", f"spiffe://prod.example/job-{i}")
        )
        if i % 5 == 4:
            rules.append(
                Rule(name=f"deny-{i}", effect="deny", spiffe=spiffe, sources=("10.9.0.0/16",))
            )
        else:
            rules.append(
                Rule(
                    name=f"allow-{i}",
                    effect="allow",
                    spiffe=spiffe,
                    dns=(f"*.team-{i}.example", "web.prod.example"),
                    routes=("db",) if i % 2 else ("db", "cache"),
                    sources=("192.0.2.0/24", "fd00::/8"),
                    hours="06:00-22:00",
                )
            )
    return tuple(rules)
