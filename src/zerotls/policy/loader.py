"""Policies from TOML files, mappings and the CLI's ``--allow`` flags.

The file format (documented with a full example in ``docs/policy.md``)::

    shadow = false

    [[rule]]
    name = "web-reads-db"
    effect = "allow"
    spiffe = ["spiffe://prod.example/svc/web"]
    routes = ["db"]
    min_remaining = "10m"
    reason = "the web tier queries the database"

Every error is a :class:`ConfigError` that names the file, the rule and what is wrong. Unknown
keys are errors: a misspelt ``sources`` must not leave a rule open to every address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from zerotls._util import parse_duration, read_toml
from zerotls.errors import ConfigError
from zerotls.policy._patterns import compile_dns, compile_spiffe, normalize_issuer
from zerotls.policy.rules import Policy, Rule
from zerotls.tls.config import parse_pin

__all__ = ["allow_identities", "policy_from_dict", "policy_from_toml", "rule_from_dict"]

_RULE_KEYS = tuple(f.name for f in fields(Rule) if f.init)
_POLICY_KEYS = ("shadow", "rule")
_LIST_KEYS = (
    "spiffe",
    "dns",
    "pins",
    "issuers",
    "routes",
    "listeners",
    "sni",
    "alpn",
    "sources",
    "weekdays",
)


def rule_from_dict(data: Mapping[str, Any], *, index: int | None = None) -> Rule:
    """Build a :class:`Rule` from a ``[[rule]]`` table.

    Args:
        data: the table.
        index: its 1-based position in the file, to name a rule that has no name.

    Raises:
        ConfigError: unknown keys, a missing name, wrong types or invalid values.
    """
    where = f"rule #{index}" if index is not None else "rule"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table ([[rule]]), not {type(data).__name__}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f'{where} has no name: add name = "..." (unique in the policy)')
    where = f"rule {name!r}"
    unknown = sorted(set(data) - set(_RULE_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(_RULE_KEYS)}"
        )
    values = dict(data)
    if "effect" not in values:
        raise ConfigError(f'{where} has no effect: add effect = "allow" or effect = "deny"')
    for key in ("effect", "hours", "reason"):
        if key in values and not isinstance(values[key], str):
            raise ConfigError(f"{where}: {key} must be a string, not {values[key]!r}")
    if "any_identity" in values and not isinstance(values["any_identity"], bool):
        raise ConfigError(f"{where}: any_identity must be true or false")
    if "min_remaining" in values:
        raw = values["min_remaining"]
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise ConfigError(
                f'{where}: min_remaining must be a duration such as "10m" or "1h", not {raw!r}'
            )
        try:
            values["min_remaining"] = parse_duration(str(raw))
        except ConfigError as exc:
            raise ConfigError(f"{where}: min_remaining: {exc}") from None
    for key in _LIST_KEYS:
        if key in values:
            values[key] = _string_list(values[key], key, where)
    try:
        return Rule(**values)
    except TypeError as exc:  # a wrongly typed value the dataclass init rejects
        raise ConfigError(f"{where}: {exc}") from None


def _string_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f'{where}: {key} must be a list of strings, e.g. {key} = ["..."]')


def policy_from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> Policy:
    """Build a :class:`Policy` from ``{"shadow": bool, "rule": [table, ...]}``.

    Raises:
        ConfigError: prefixed with ``source``.
    """
    try:
        return _policy_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _policy_from_dict(data: Mapping[str, Any]) -> Policy:
    if not isinstance(data, Mapping):
        raise ConfigError(f"a policy must be a table, not {type(data).__name__}")
    unknown = sorted(set(data) - set(_POLICY_KEYS))
    if unknown:
        hint = " (rules are written as [[rule]] tables)" if "rules" in unknown else ""
        raise ConfigError(
            f"unknown key(s) {', '.join(unknown)}{hint}; known keys: {', '.join(_POLICY_KEYS)}"
        )
    shadow = data.get("shadow", False)
    if not isinstance(shadow, bool):
        raise ConfigError(f"shadow must be true or false, not {shadow!r}")
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise ConfigError("rules are written as [[rule]] tables (an array of tables)")
    rules = tuple(rule_from_dict(t, index=i) for i, t in enumerate(tables, start=1))
    return Policy(rules=rules, shadow=shadow)


def policy_from_toml(path: str | Path, *, table: str | None = None) -> Policy:
    """Load a policy from a TOML file (optionally from one ``[table]`` of it).

    Raises:
        ConfigError: unreadable file, invalid TOML or an invalid policy, naming the file.
    """
    path = Path(path)
    data = read_toml(path, "policy", table=table)
    return policy_from_dict(data, source=str(path))


_ALLOW_FORMS = (
    "use one of: 'spiffe://prod.example/svc/web' (a SPIFFE ID; '*' for one segment, '**' as "
    "the last segment for any below), 'dns:*.prod.example' (a DNS SAN glob), "
    "'pin:sha256/BASE64' (an SPKI pin, from `zerotls pki pin CERT`), "
    "'issuer:CN=My Root CA,O=Example' (the issuing CA's name), or 'any' (any identity the "
    "trusted CA verified)"
)


def allow_identities(patterns: Sequence[str], *, route: str | None = None) -> Policy:
    """One allow rule per ``--allow`` pattern, limited to ``route`` when given.

    Raises:
        ConfigError: an unrecognized or invalid pattern, with an example of each form.
    """
    if isinstance(patterns, str):
        patterns = (patterns,)
    rules: list[Rule] = []
    routes = (route,) if route else ()
    for index, raw in enumerate(patterns, start=1):
        text = raw.strip() if isinstance(raw, str) else ""
        try:
            matcher = _allow_matcher(text)
        except ConfigError as exc:
            raise ConfigError(f"--allow {raw!r}: {exc}; {_ALLOW_FORMS}") from None
        if matcher is None:
            raise ConfigError(f"--allow {raw!r} is not an identity pattern: {_ALLOW_FORMS}")
        rules.append(
            Rule(
                name=f"allow-{index}",
                effect="allow",
                routes=routes,
                reason=f"--allow {text}",
                **matcher,
            )
        )
    return Policy(rules=tuple(rules))


def _allow_matcher(text: str) -> dict[str, Any] | None:
    """The Rule keyword for one ``--allow`` pattern, validated; None if it has no known form."""
    if text == "any":
        return {"any_identity": True}
    if text.startswith("spiffe://"):
        return {"spiffe": compile_spiffe((text,))[0]}
    if text.startswith("dns:"):
        return {"dns": compile_dns((text[4:],), "dns")[0]}
    if text.startswith("pin:"):
        return {"pins": (parse_pin(text[4:]),)}
    if text.startswith("issuer:"):
        return {"issuers": (normalize_issuer(text[7:]),)}
    return None
