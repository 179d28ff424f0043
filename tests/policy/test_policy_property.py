"""Properties of decide() over random policies, identities and requests.

* decide never raises, whatever the request carries;
* adding a deny rule (anywhere in the order) never turns a deny into an allow, and if that
  rule matches on its own, the policy denies (deny wins regardless of order);
* a decision is internally consistent (allowed, effect, shadow, rule agree);
* a peer without a certificate is never allowed.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.policy.conftest import IDS, T0
from zerotls.policy import Decision, Policy, Request, Rule, decide
from zerotls.tls.identity import Identity

# No example database: a failure is reproduced from the printed example, not from disk.
PROPERTY = settings(
    database=None,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SPIFFE = [
    "spiffe://prod.example/svc/web",
    "spiffe://prod.example/svc/*",
    "spiffe://prod.example/**",
    "spiffe://prod.example/batch/legacy-*",
    "spiffe://prod.example/batch/legacy-*/**",
    "spiffe://prod.example/*/*/*",
    "spiffe://staging.example/**",
    "spiffe://prod.example",
]
DNS = [
    "*.prod.example",
    "web.prod.example",
    "a.b.prod.example",
    "*.b.prod.example",
    "api-*.prod.example",
]
PINS = [IDS.web.spki_pin, f"sha256/{IDS.foreign.spki_pin}"]
ISSUERS = [IDS.web.issuer, IDS.other_issuer.issuer]
ROUTES = ["db", "cache", "admin"]
LISTENERS = ["main", "admin"]
SNI = ["*.prod.example", "db.prod.example", "admin.*.example"]
ALPN = ["h2", "http/1.1", "postgresql"]
SOURCES = ["10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8", "0.0.0.0/0", "::/0", "192.0.2.0/24"]
HOURS = [None, "06:00-22:00", "22:00-06:00", "00:00-00:01", "12:00-24:00"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def subset(values: list[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(values), max_size=3, unique=True).map(tuple)


@st.composite
def rules(draw: st.DrawFn, name: str, effect: str | None = None) -> Rule:
    chosen = effect or draw(st.sampled_from(["allow", "deny"]))

    def sometimes(values: list[str]) -> tuple[str, ...]:
        # Most rules set few fields: with every field random, almost nothing would match.
        return draw(subset(values)) if draw(st.integers(0, 3)) == 0 else ()

    kw: dict[str, object] = {
        "spiffe": sometimes(SPIFFE),
        "dns": sometimes(DNS),
        "pins": sometimes(PINS),
        "issuers": sometimes(ISSUERS),
        "any_identity": draw(st.booleans()),
        "routes": sometimes(ROUTES),
        "listeners": sometimes(LISTENERS),
        "sni": sometimes(SNI),
        "alpn": sometimes(ALPN),
        "sources": sometimes(SOURCES),
        "hours": draw(st.sampled_from(HOURS)) if draw(st.integers(0, 3)) == 0 else None,
        "weekdays": sometimes(WEEKDAYS),
    }
    if chosen == "allow":
        kw["min_remaining"] = draw(
            st.none() | st.integers(1, 3 * 24 * 60).map(lambda m: dt.timedelta(minutes=m))
        )
        if not any(kw[k] for k in ("spiffe", "dns", "pins", "issuers", "any_identity")):
            kw["any_identity"] = True
    elif not any(v not in ((), None, False) for v in kw.values()):
        kw["sources"] = ("0.0.0.0/0",)
    return Rule(name=name, effect=chosen, **kw)  # type: ignore[arg-type]


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    count = draw(st.integers(0, 8))
    return Policy(
        rules=tuple(draw(rules(f"r{i}")) for i in range(count)),
        shadow=draw(st.booleans()),
    )


identities = st.sampled_from([*IDS.all(), None])
addresses = (
    st.sampled_from(
        ["10.1.2.3", "127.0.0.1", "::1", "::ffff:10.1.2.3", "fd00::5", "192.0.2.9", "fe80::1%eth0"]
    )
    | st.ip_addresses().map(str)
    | st.text(max_size=20)
    | st.none()
)
requests = st.builds(
    Request,
    route=st.sampled_from(ROUTES) | st.text(max_size=10),
    listener=st.sampled_from(["", *LISTENERS]) | st.text(max_size=10),
    sni=st.none()
    | st.sampled_from(["db.prod.example", "DB.Prod.Example.", "admin.x.example", ""])
    | st.text(max_size=30),
    alpn=st.none() | st.sampled_from(ALPN) | st.text(max_size=10),
    source=addresses,
)
times = st.datetimes(
    min_value=(T0 - dt.timedelta(days=3)).replace(tzinfo=None),
    max_value=(T0 + dt.timedelta(days=3)).replace(tzinfo=None),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-7))]) | st.none(),
)


def check_consistent(decision: Decision, policy: Policy) -> None:
    assert decision.effect in ("allow", "deny")
    if decision.effect == "allow":
        assert decision.allowed and not decision.shadow and decision.rule is not None
    else:
        assert decision.shadow == policy.shadow
        assert decision.allowed == policy.shadow
    assert decision.rule is None or decision.rule in {r.name for r in policy.rules}


@PROPERTY
@given(
    policy=policies(),
    extra=rules("extra-deny", effect="deny"),
    position=st.integers(0, 8),
    identity=identities,
    request=requests,
    now=times,
)
def test_adding_a_deny_rule_never_turns_a_deny_into_an_allow(
    *,
    policy: Policy,
    extra: Rule,
    position: int,
    identity: Identity | None,
    request: Request,
    now: dt.datetime,
) -> None:
    before = decide(identity, request, policy, now)
    rules_with_deny = list(policy.rules)
    rules_with_deny.insert(min(position, len(rules_with_deny)), extra)
    stricter = Policy(rules=tuple(rules_with_deny), shadow=policy.shadow)
    after = decide(identity, request, stricter, now)

    check_consistent(before, policy)
    check_consistent(after, stricter)
    if before.effect == "deny":
        assert after.effect == "deny"
    if after.effect == "allow":
        assert before == after  # the same allow rule decided, unaffected by the deny rule
    # Deny wins wherever the rule sits: if the new rule matches on its own, the policy denies.
    if decide(identity, request, Policy(rules=(extra,)), now).rule == extra.name:
        assert after.effect == "deny"
        assert after.rule is not None
    if identity is None:
        assert before.effect == "deny"
    event(f"before: {before.effect}, after: {after.effect}")
