"""Policies from TOML files, mappings and --allow flags: round trips and clear errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from tests.policy.conftest import T0, Ids
from zerotls.errors import ConfigError
from zerotls.policy import Policy, Request, Rule, decide

EXAMPLE = """\
shadow = false

[[rule]]
name = "web-reads-db"
effect = "allow"
spiffe = ["spiffe://prod.example/svc/web", "spiffe://prod.example/batch/*"]
routes = ["db"]
sources = ["10.0.0.0/8", "127.0.0.1"]
hours = "06:00-22:00"
min_remaining = "10m"
reason = "the web tier and batch jobs query the database"

[[rule]]
name = "no-legacy-batch"
effect = "deny"
spiffe = ["spiffe://prod.example/batch/legacy-*", "spiffe://prod.example/batch/legacy-*/**"]
reason = "legacy jobs are being retired"

[[rule]]
name = "ops-by-pin"
effect = "allow"
pins = ["sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]
issuers = ["CN=policy test root, O=zerotls"]
dns = ["*.ops.prod.example"]
listeners = ["admin"]
sni = ["admin.prod.example"]
alpn = ["h2"]
weekdays = ["mon", "tue", "wed", "thu", "fri"]

[[rule]]
name = "no-lab"
effect = "deny"
sources = ["192.0.2.0/24", "2001:db8::/32"]
"""


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_file_loads_and_decides(tmp_path: Path, ids: Ids) -> None:
    policy = Policy.from_toml(write(tmp_path, EXAMPLE))
    assert [r.name for r in policy.rules] == [
        "web-reads-db",
        "no-legacy-batch",
        "ops-by-pin",
        "no-lab",
    ]
    assert not policy.shadow
    web = policy.rules[0]
    assert web.sources == ("10.0.0.0/8", "127.0.0.1/32")
    assert web.min_remaining == dt.timedelta(minutes=10)
    assert policy.rules[2].issuers == ("CN=policy test root,O=zerotls",)

    local = Request(route="db", source="127.0.0.1")
    assert decide(ids.web, local, policy, T0).rule == "web-reads-db"
    assert decide(ids.batch, local, policy, T0).rule == "web-reads-db"
    assert decide(ids.legacy, local, policy, T0).rule == "no-legacy-batch"
    assert decide(ids.web, Request(route="db", source="192.0.2.7"), policy, T0).rule == "no-lab"
    assert decide(ids.db, local, policy, T0).rule is None


def test_toml_round_trip_through_to_dict(tmp_path: Path) -> None:
    policy = Policy.from_toml(write(tmp_path, EXAMPLE))
    again = Policy.from_dict(policy.to_dict())
    assert again == policy
    assert again.describe() == policy.describe()
    for rule in policy.rules:
        assert Rule.from_dict(rule.to_dict()) == rule


def test_constructed_policy_equals_the_loaded_one(tmp_path: Path) -> None:
    text = """
[[rule]]
name = "web"
effect = "allow"
spiffe = ["spiffe://prod.example/svc/web"]
routes = ["db"]
min_remaining = 600
"""
    built = Policy(
        rules=(
            Rule(
                name="web",
                effect="allow",
                spiffe=("spiffe://prod.example/svc/web",),
                routes=("db",),
                min_remaining=dt.timedelta(minutes=10),
            ),
        )
    )
    assert Policy.from_toml(write(tmp_path, text)) == built


def test_shadow_and_table(tmp_path: Path, ids: Ids) -> None:
    text = """
[tunnel]
listen = "127.0.0.1:8443"

[policy]
shadow = true

[[policy.rule]]
name = "web"
effect = "allow"
spiffe = ["spiffe://prod.example/svc/web"]
"""
    policy = Policy.from_toml(write(tmp_path, text), table="policy")
    assert policy.shadow
    assert decide(ids.db, Request(route="db"), policy, T0).shadow
    with pytest.raises(ConfigError, match=r"has no \[acl\] table"):
        Policy.from_toml(write(tmp_path, text), table="acl")


def test_empty_file_is_a_deny_everything_policy(tmp_path: Path, ids: Ids) -> None:
    policy = Policy.from_toml(write(tmp_path, ""))
    assert policy == Policy()
    assert not decide(ids.web, Request(route="db"), policy, T0).allowed


RULE_HEAD = '[[rule]]\nname = "r"\neffect = "allow"\nspiffe = ["spiffe://prod.example/svc/web"]\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RULE_HEAD + 'source = ["10.0.0.0/8"]\n',
            r"rule 'r': unknown key\(s\) source; known keys: name",
        ),
        ('shadow = false\nmode = "strict"\n', r"unknown key\(s\) mode"),
        (
            '[[rules]]\nname = "r"\n',
            r"unknown key\(s\) rules \(rules are written as \[\[rule\]\] tables\)",
        ),
        ('[rule]\nname = "r"\n', r"\[\[rule\]\] tables"),
        (
            RULE_HEAD + 'sources = ["10.0.0.300/8"]\n',
            r"rule 'r': source '10.0.0.300/8' is not a network",
        ),
        (
            RULE_HEAD + 'sources = ["10.0.0.1/8"]\n',
            r"rule 'r': source '10.0.0.1/8' is not a network: it has host bits set",
        ),
        (RULE_HEAD + 'sources = "10.0.0.0/8"\n', r"rule 'r': sources must be a list of strings"),
        (
            '[[rule]]\nname = "r"\neffect = "deny"\nspiffe = ["spiffe://prod.example/batch/legacy-**"]\n',
            r"rule 'r': SPIFFE pattern .*legacy-\*\*.* is not supported",
        ),
        (
            '[[rule]]\nname = "r"\neffect = "permit"\nany_identity = true\n',
            r"rule 'r': effect must be 'allow' or 'deny', not 'permit'",
        ),
        ('[[rule]]\nname = "r"\nany_identity = true\n', r"rule 'r' has no effect: add effect = "),
        ('[[rule]]\neffect = "allow"\nany_identity = true\n', r"rule #1 has no name"),
        (RULE_HEAD + RULE_HEAD, r"two rules are named 'r'"),
        (
            '[[rule]]\nname = "r"\neffect = "allow"\nsources = ["10.0.0.0/8"]\n',
            r"rule 'r': context is never the sole proof",
        ),
        ('[[rule]]\nname = "r"\neffect = "deny"\n', r"rule 'r': the rule matches nothing"),
        (
            RULE_HEAD + 'min_remaining = "soon"\n',
            r"rule 'r': min_remaining: 'soon' is not a duration",
        ),
        (RULE_HEAD + "min_remaining = true\n", r"rule 'r': min_remaining must be a duration"),
        (RULE_HEAD + 'any_identity = "yes"\n', r"rule 'r': any_identity must be true or false"),
        (RULE_HEAD + 'hours = "9-5"\n', r"rule 'r': hours '9-5' is not a time window"),
        (RULE_HEAD + 'weekdays = ["someday"]\n', r"rule 'r': weekday 'someday'"),
        ('shadow = "yes"\n', r"shadow must be true or false"),
        ("[[rule]\n", r"is not valid TOML"),
    ],
)
def test_errors_name_the_file_the_rule_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as info:
        Policy.from_toml(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy .*nope.toml"):
        Policy.from_toml(tmp_path / "nope.toml")


def test_from_dict_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^inline: rule 'x': unknown key"):
        Policy.from_dict({"rule": [{"name": "x", "effect": "deny", "sorces": []}]}, source="inline")
    with pytest.raises(ConfigError, match=r"^<dict>: rule #2 must be a table"):
        Policy.from_dict({"rule": [{"name": "a", "effect": "deny", "routes": ["x"]}, "b"]})


# -- --allow ----------------------------------------------------------------------------------


def test_allow_identities_each_form(ids: Ids) -> None:
    policy = Policy.allow_identities(
        [
            "spiffe://prod.example/batch/*",
            "dns:*.prod.example",
            f"pin:sha256/{ids.foreign.spki_pin}",
            "issuer:CN=other root,O=zerotls",
        ]
    )
    assert [r.name for r in policy.rules] == ["allow-1", "allow-2", "allow-3", "allow-4"]
    request = Request(route="anything")
    assert decide(ids.batch, request, policy, T0).rule == "allow-1"
    assert decide(ids.web, request, policy, T0).rule == "allow-2"  # web.prod.example
    assert decide(ids.foreign, request, policy, T0).rule == "allow-3"
    assert decide(ids.other_issuer, request, policy, T0).rule == "allow-4"
    assert decide(ids.deep, request, policy, T0).rule is None
    assert decide(None, request, policy, T0).rule is None
    assert policy.rules[0].reason == "--allow spiffe://prod.example/batch/*"


def test_allow_identities_issuer_alone(ids: Ids) -> None:
    policy = Policy.allow_identities(["issuer:CN=other root,O=zerotls"])
    assert decide(ids.other_issuer, Request(route="r"), policy, T0).allowed
    assert not decide(ids.web, Request(route="r"), policy, T0).allowed


def test_allow_identities_any_and_route(ids: Ids) -> None:
    policy = Policy.allow_identities(["any"], route="db")
    assert policy.rules[0].any_identity
    assert decide(ids.foreign, Request(route="db"), policy, T0).allowed
    assert not decide(ids.foreign, Request(route="cache"), policy, T0).allowed
    assert not decide(None, Request(route="db"), policy, T0).allowed


def test_allow_identities_empty_allows_nothing(ids: Ids) -> None:
    policy = Policy.allow_identities([])
    assert policy == Policy()
    assert not decide(ids.web, Request(route="db"), policy, T0).allowed


@pytest.mark.parametrize(
    ("pattern", "complaint"),
    [
        ("web", "is not an identity pattern"),
        ("spiffe:prod.example/svc/web", "is not an identity pattern"),
        ("ANY", "is not an identity pattern"),
        ("sha256/AAAA", "is not an identity pattern"),
        ("", "is not an identity pattern"),
        ("spiffe://*.example/svc", "trust domain"),
        ("spiffe://prod.example/a/**/b", "last segment"),
        ("dns:", "not a DNS name"),
        ("pin:sha256/AAAA", "SHA-256"),
        ("issuer:nobody", "distinguished name"),
    ],
)
def test_allow_identities_errors_show_every_form(pattern: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as info:
        Policy.allow_identities(["any", pattern])
    message = str(info.value)
    assert complaint in message
    assert f"--allow {pattern!r}" in message
    for example in (
        "'spiffe://prod.example/svc/web'",
        "'dns:*.prod.example'",
        "'pin:sha256/",
        "'issuer:CN=",
        "'any'",
    ):
        assert example in message


def test_policy_rules_must_be_rules() -> None:
    with pytest.raises(ConfigError, match="sequence of Rule objects"):
        Policy(rules=({"name": "x"},))  # type: ignore[arg-type]


def test_replace_keeps_validation() -> None:
    rule = Rule(name="r", effect="deny", sources=("10.0.0.0/8",))
    with pytest.raises(ConfigError, match="context is never the sole proof"):
        dataclasses.replace(rule, effect="allow")


def test_the_documented_example_loads_and_behaves(tmp_path: Path, ids: Ids) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
    text = doc.read_text(encoding="utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    policy = Policy.from_toml(write(tmp_path, block))
    assert len(policy.describe()) == len(policy.rules) == 7
    # The describe() lines the doc shows are the ones the code prints.
    assert [line for line in policy.describe() if line in text] == policy.describe()[0:3:2]
    lan = Request(route="db", source="10.1.2.3")
    assert decide(ids.web, lan, policy, T0).rule == "web-reads-db"
    assert decide(ids.legacy, lan, policy, T0).rule == "no-legacy-batch"
    guest = Request(route="metrics", source="192.168.100.7")
    assert decide(ids.web, guest, policy, T0).rule == "no-guest-wifi"
    assert decide(ids.foreign, Request(route="metrics"), policy, T0).rule == "metrics-scrape"
    assert decide(None, Request(route="metrics"), policy, T0).rule is None
