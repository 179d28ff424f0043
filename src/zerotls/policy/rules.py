"""Least-privilege access policy: rules as data, :func:`decide` as a pure function.

Theory of operation
-------------------
A :class:`Policy` is an ordered tuple of :class:`Rule` objects plus a ``shadow`` flag. A rule
matches a connection when *every* field it sets matches (AND); a field matches when *any* of
its values matches (OR). Fields come in two kinds:

* identity matchers (``spiffe``, ``dns``, ``pins``, ``issuers``, ``any_identity``) test the
  :class:`~zerotls.tls.identity.Identity` taken from the verified client certificate;
* context matchers (``routes``, ``listeners``, ``sni``, ``alpn``, ``sources``, ``hours``,
  ``weekdays``, ``min_remaining``) test the :class:`Request` and the injected clock.

:func:`decide` is evaluated in three steps:

1. **Deny wins.** If any deny rule matches, the connection is denied, naming the first
   matching deny rule in policy order. Rule order therefore never lets an allow rule
   override a deny rule.
2. **First allow.** Otherwise the first matching allow rule allows it.
3. **Default deny.** Otherwise nothing allows it.

Zero trust puts two invariants into construction, not into review: an allow rule must carry
an identity matcher (an address, SNI, route or time window is never proof of who is
connecting), and a peer without a certificate (``identity=None``) matches no identity matcher,
so it can only ever be denied. A deny rule may be context only (deny a source range outright).

Shadow mode changes only what the caller is told to do: a deny becomes ``allowed=True`` with
``effect="deny"`` and ``shadow=True``, so a new policy can be tried against live traffic and
its would-be denials read from the audit log before it is enforced.

Speed: :func:`decide` runs once per connection, in a tunnel's accept path. Everything that can
be prepared is prepared when a rule or policy is built (see ``_patterns``): exact values in
frozensets, name patterns in one regex per field, CIDRs as integer masks, and the rules
pre-split by effect and indexed by route. A decision parses the peer address and normalizes
names once, rejects most rules with one inlined SPIFFE ``fullmatch``, evaluates each
applicable rule at most once, and reads no clock and does no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from zerotls._util import format_duration
from zerotls.errors import ConfigError
from zerotls.policy._patterns import (
    Address,
    Network,
    compile_dns,
    compile_spiffe,
    in_networks,
    normalize_dns,
    normalize_issuer,
    parse_hours,
    parse_ip,
    parse_networks,
    parse_weekdays,
    strings,
)
from zerotls.tls.config import parse_pin
from zerotls.tls.identity import Identity

__all__ = ["Decision", "Effect", "Policy", "Request", "Rule", "decide"]

Effect = Literal["allow", "deny"]

_IDENTITY_FIELDS = ("spiffe", "dns", "pins", "issuers", "any_identity")
_CONTEXT_FIELDS = (
    "routes",
    "listeners",
    "sni",
    "alpn",
    "sources",
    "hours",
    "weekdays",
    "min_remaining",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """The context of one connection attempt, as the tunnel saw it.

    Built per connection, so it does no validation: text that is not an address in
    ``source`` simply matches no ``sources`` rule.
    """

    route: str
    """Name of the route the connection is for."""
    listener: str = ""
    """Name of the listener that accepted it."""
    sni: str | None = None
    """The server name the client sent (TLS SNI), or None when it sent none."""
    alpn: str | None = None
    """The negotiated ALPN protocol, or None."""
    source: str | None = None
    """The peer's IP address as text (``"127.0.0.1"``, ``"::1"``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One allow or deny rule: all fields it sets must match; any value of a field may match.

    Example::

        Rule(name="web-reads-db", effect="allow",
             spiffe=("spiffe://prod.example/svc/web",), routes=("db",),
             reason="the web tier queries the database")

    Raises:
        ConfigError: on construction, for an invalid pattern, CIDR, window or weekday; for an
            allow rule without an identity matcher; for a rule with no matcher at all.
    """

    name: str
    """Unique name, shown in decisions, audit events and metrics."""
    effect: Effect
    """``"allow"`` or ``"deny"``. Any matching deny rule wins over every allow rule."""
    spiffe: tuple[str, ...] = ()
    """SPIFFE ID patterns: exact, ``*`` for one path segment (or part of one, ``legacy-*``),
    ``**`` as the last segment for one or more segments. The trust domain is always exact."""
    dns: tuple[str, ...] = ()
    """DNS SAN globs, case-insensitive; ``*`` stays within one label."""
    pins: tuple[str, ...] = ()
    """SHA-256 SPKI pins (base64, with or without ``sha256/``), stored without the prefix."""
    issuers: tuple[str, ...] = ()
    """Issuer distinguished names (RFC 4514), matched exactly after normalizing spacing and
    the case of attribute types."""
    any_identity: bool = False
    """Match any identity verified by the trusted CA (never a peer without a certificate)."""
    routes: tuple[str, ...] = ()
    """Route names the rule applies to; empty means every route."""
    listeners: tuple[str, ...] = ()
    """Listener names the rule applies to; empty means every listener."""
    sni: tuple[str, ...] = ()
    """SNI globs, like ``dns``. A connection without SNI matches no ``sni`` rule."""
    alpn: tuple[str, ...] = ()
    """ALPN protocols, exact. A connection without ALPN matches no ``alpn`` rule."""
    sources: tuple[str, ...] = ()
    """Peer address ranges (IPv4/IPv6 CIDRs; a bare address is a /32 or /128), stored
    normalized. IPv4-mapped IPv6 peers are compared as IPv4."""
    hours: str | None = None
    """UTC time window ``HH:MM-HH:MM``, start inclusive, end exclusive; may wrap midnight."""
    weekdays: tuple[str, ...] = ()
    """UTC weekdays, ``mon`` .. ``sun``."""
    min_remaining: dt.timedelta | None = None
    """Allow rules only: the certificate must have at least this much lifetime left."""
    reason: str = ""
    """Why the rule exists; shown in decisions and in ``describe()``."""

    _spiffe: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    """Compiled form of ``spiffe`` (one regex, for ``fullmatch``); None when not set."""
    _dns: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    """Compiled form of ``dns``; None when not set."""
    _pins: frozenset[str] = field(init=False, repr=False, compare=False)
    """``pins`` as a set."""
    _issuers: frozenset[str] = field(init=False, repr=False, compare=False)
    """``issuers`` as a set."""
    _listeners: frozenset[str] = field(init=False, repr=False, compare=False)
    """``listeners`` as a set."""
    _sni: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    """Compiled form of ``sni``; None when not set."""
    _alpn: frozenset[str] = field(init=False, repr=False, compare=False)
    """``alpn`` as a set."""
    _networks: tuple[Network, ...] = field(init=False, repr=False, compare=False)
    """``sources`` as integer masks."""
    _window: tuple[int, int] | None = field(init=False, repr=False, compare=False)
    """``hours`` as (start, end) minutes of the day."""
    _days: frozenset[int] = field(init=False, repr=False, compare=False)
    """``weekdays`` as ``date.weekday()`` numbers."""
    _has_identity: bool = field(init=False, repr=False, compare=False)
    """Whether any identity matcher is set (so a peer without a certificate cannot match)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("every rule needs a name (a non-empty string)")
        if self.effect not in ("allow", "deny"):
            raise ConfigError(
                f"rule {self.name!r}: effect must be 'allow' or 'deny', not {self.effect!r}"
            )
        if not isinstance(self.any_identity, bool):
            raise ConfigError(f"rule {self.name!r}: any_identity must be true or false")
        if not isinstance(self.reason, str):
            raise ConfigError(f"rule {self.name!r}: reason must be a string")
        try:
            self._compile()
        except ConfigError as exc:
            raise ConfigError(f"rule {self.name!r}: {exc}") from None

    def _compile(self) -> None:
        put = object.__setattr__  # frozen dataclass: set normalized and compiled fields once
        spiffe, spiffe_re = compile_spiffe(strings(self.spiffe, "spiffe"))
        put(self, "spiffe", spiffe)
        put(self, "_spiffe", spiffe_re)
        dns, dns_re = compile_dns(strings(self.dns, "dns"), "dns")
        put(self, "dns", dns)
        put(self, "_dns", dns_re)
        pins = tuple(parse_pin(p) for p in strings(self.pins, "pins"))
        put(self, "pins", pins)
        put(self, "_pins", frozenset(pins))
        issuers = tuple(normalize_issuer(i) for i in strings(self.issuers, "issuers"))
        put(self, "issuers", issuers)
        put(self, "_issuers", frozenset(issuers))

        for name in ("routes", "listeners", "alpn"):
            values = strings(getattr(self, name), name)
            if any(not v for v in values):
                raise ConfigError(f"{name} must not contain an empty string")
            put(self, name, values)
        # No set for routes: the policy's route index applies them before any rule is looked at.
        put(self, "_listeners", frozenset(self.listeners))
        put(self, "_alpn", frozenset(self.alpn))
        sni, sni_re = compile_dns(strings(self.sni, "sni"), "sni")
        put(self, "sni", sni)
        put(self, "_sni", sni_re)
        sources, networks = parse_networks(strings(self.sources, "sources"))
        put(self, "sources", sources)
        put(self, "_networks", networks)
        window: tuple[int, int] | None = None
        if self.hours is not None:
            if not isinstance(self.hours, str):
                raise ConfigError("hours must be a string like '06:00-22:00'")
            hours, start, end = parse_hours(self.hours)
            put(self, "hours", hours)
            window = (start, end)
        put(self, "_window", window)
        weekdays, days = parse_weekdays(strings(self.weekdays, "weekdays"))
        put(self, "weekdays", weekdays)
        put(self, "_days", days)
        if self.min_remaining is not None:
            if not isinstance(self.min_remaining, dt.timedelta) or self.min_remaining <= _ZERO:
                raise ConfigError("min_remaining must be a positive duration, e.g. '10m'")
            if self.effect == "deny":
                raise ConfigError(
                    "min_remaining narrows allow rules only (a deny rule with it would deny "
                    "certificates that have plenty of time left): put it on the allow rule"
                )

        has_identity = bool(self.spiffe or self.dns or self.pins or self.issuers)
        has_identity = has_identity or self.any_identity
        put(self, "_has_identity", has_identity)
        has_context = any(getattr(self, n) not in ((), None) for n in _CONTEXT_FIELDS)
        if not has_identity and not has_context:
            raise ConfigError(
                "the rule matches nothing: give at least one matcher (spiffe, dns, pins, "
                "issuers, any_identity = true, or for deny rules a context such as sources)"
            )
        if self.effect == "allow" and not has_identity:
            raise ConfigError(
                "context is never the sole proof of identity: add spiffe/dns/pins/issuers "
                "or any_identity = true"
            )

    # -- the hot path -------------------------------------------------------------------------

    def _matches_after_spiffe(self, facts: _Facts) -> bool:
        """Whether the rule matches, given that its route and SPIFFE ID already do.

        Hot path. Callers guarantee the two checks that reject most rules: the route (the
        policy's route index only offers rules for the request's route) and the SPIFFE ID
        (:func:`_first_match` checks it inline, without a method call per rule).
        """
        identity, request, dns_names, sni, ip, now, minute, weekday = facts
        # Every check is a necessary condition (AND), so the order only changes the cost:
        # set lookups and integer compares first, regular expressions last.
        if self._listeners and request.listener not in self._listeners:
            return False
        if self._alpn and request.alpn not in self._alpn:
            return False
        if self._has_identity and identity is None:
            return False
        if self._pins and identity is not None and identity.spki_pin not in self._pins:
            return False
        if self._issuers and identity is not None and identity.issuer not in self._issuers:
            return False
        if self._window is not None:
            start, end = self._window
            inside = start <= minute < end if start < end else minute >= start or minute < end
            if not inside:
                return False
        if self._days and weekday not in self._days:
            return False
        if self._networks and (ip is None or not in_networks(ip, self._networks)):
            return False
        if self.min_remaining is not None and (
            identity is None or identity.not_after - now < self.min_remaining
        ):
            return False
        pattern = self._dns  # ``dns_names`` and ``sni`` arrive normalized, once per decision
        if pattern is not None and not any(pattern.fullmatch(n) is not None for n in dns_names):
            return False
        pattern = self._sni
        return pattern is None or (sni is not None and pattern.fullmatch(sni) is not None)

    # -- presentation ---------------------------------------------------------------------------

    def describe(self) -> str:
        """One human line: effect, name, whom, where, when, and why."""
        who: list[str] = []
        if self.any_identity:
            who.append("any verified identity")
        if self.spiffe:
            who.append(" or ".join(self.spiffe))
        if self.dns:
            who.append("DNS " + " or ".join(self.dns))
        if self.pins:
            who.append("pin " + " or ".join(f"sha256/{p}" for p in self.pins))
        if self.issuers:
            who.append("issued by " + " or ".join(repr(i) for i in self.issuers))
        parts = [f"{self.effect:<5} {self.name}: " + (" and ".join(who) or "anyone")]
        if self.routes:
            parts.append("on route " + ", ".join(self.routes))
        if self.listeners:
            parts.append("via listener " + ", ".join(self.listeners))
        if self.sni:
            parts.append("with SNI " + ", ".join(self.sni))
        if self.alpn:
            parts.append("with ALPN " + ", ".join(self.alpn))
        if self.sources:
            parts.append("from " + ", ".join(self.sources))
        if self.hours:
            parts.append(f"during {self.hours} UTC")
        if self.weekdays:
            parts.append("on " + ", ".join(self.weekdays))
        if self.min_remaining is not None:
            parts.append(f"with at least {format_duration(self.min_remaining)} of validity left")
        line = " ".join(parts)
        return f"{line} ({self.reason})" if self.reason else line

    def to_dict(self) -> dict[str, Any]:
        """The rule as a TOML-shaped mapping (only the fields that are set).

        ``Rule.from_dict(rule.to_dict())`` gives an equal rule.
        """
        data: dict[str, Any] = {"name": self.name, "effect": self.effect}
        for name in (*_IDENTITY_FIELDS, *_CONTEXT_FIELDS, "reason"):
            value = getattr(self, name)
            if value in ((), None, False, ""):
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dt.timedelta):
                value = _duration_text(value)
            data[name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Build a rule from a mapping shaped like a TOML ``[[rule]]`` table.

        Durations are text (``"10m"``, ``"1h30m"``) or whole seconds. Unknown keys are an
        error, so a typo never silently widens or narrows a rule.

        Raises:
            ConfigError: unknown keys, wrong types or invalid values; the message names the rule.
        """
        from zerotls.policy.loader import rule_from_dict

        return rule_from_dict(data)


_ZERO = dt.timedelta(0)


def _duration_text(value: dt.timedelta) -> str:
    # Whole seconds where possible; never exponent notation, which parse_duration refuses.
    micros = value // dt.timedelta(microseconds=1)
    if micros % 1_000_000 == 0:
        return f"{micros // 1_000_000}s"
    return f"{micros / 1_000_000:.6f}s"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of :func:`decide` for one connection."""

    allowed: bool
    """What the caller must do: True also for a would-deny in shadow mode."""
    effect: Effect
    """What the policy says, shadow mode or not."""
    rule: str | None
    """The rule that decided; None means default deny (no rule matched)."""
    reason: str
    """A sentence for logs and error messages: which rule and why, or what nothing allowed."""
    shadow: bool = False
    """True when the policy would deny but is in shadow mode, so the caller allows."""

    @property
    def outcome(self) -> Literal["allow", "deny", "shadow-deny"]:
        """The audit-log spelling: ``allow``, ``deny``, or ``shadow-deny``."""
        if self.effect == "allow":
            return "allow"
        return "shadow-deny" if self.shadow else "deny"


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """An ordered set of rules with default deny.

    Example::

        policy = Policy.from_toml("policy.toml")
        decision = decide(identity, Request(route="db", source="10.1.2.3"), policy, now)

    Raises:
        ConfigError: on construction, for duplicate rule names or something that is not a Rule.
    """

    rules: tuple[Rule, ...] = ()
    """The rules, in order. Order decides only which rule is named; deny always wins."""
    shadow: bool = False
    """Log what would be denied, without denying: for trying a policy on live traffic."""

    _any_route: tuple[tuple[Rule, ...], tuple[Rule, ...]] = field(
        init=False, repr=False, compare=False
    )
    """(deny rules, allow rules) for a route that no rule names: the rules without routes."""
    _by_route: dict[str, tuple[tuple[Rule, ...], tuple[Rule, ...]]] = field(
        init=False, repr=False, compare=False
    )
    """(deny rules, allow rules) applicable to each route some rule names, in policy order."""
    _needs_source: bool = field(init=False, repr=False, compare=False)
    """Whether any rule has ``sources`` (else the peer address is not parsed)."""
    _needs_dns: bool = field(init=False, repr=False, compare=False)
    """Whether any rule has ``dns`` (else DNS SANs are not normalized)."""
    _needs_sni: bool = field(init=False, repr=False, compare=False)
    """Whether any rule has ``sni``."""

    def __post_init__(self) -> None:
        rules = tuple(self.rules) if isinstance(self.rules, list | tuple) else None
        if rules is None or not all(isinstance(r, Rule) for r in rules):
            raise ConfigError("Policy.rules must be a sequence of Rule objects")
        if not isinstance(self.shadow, bool):
            raise ConfigError("shadow must be true or false")
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ConfigError(
                    f"two rules are named {rule.name!r}: names must be unique, they identify "
                    "the deciding rule in audit logs and metrics"
                )
            seen.add(rule.name)
        put = object.__setattr__
        put(self, "rules", rules)

        # Index by route: a decision only walks the rules that can apply to its route, in
        # policy order, deny rules and allow rules kept apart.
        def split(applicable: list[Rule]) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
            deny = tuple(r for r in applicable if r.effect == "deny")
            allow = tuple(r for r in applicable if r.effect == "allow")
            return deny, allow

        named = {route for rule in rules for route in rule.routes}
        put(self, "_any_route", split([r for r in rules if not r.routes]))
        put(
            self,
            "_by_route",
            {
                route: split([r for r in rules if not r.routes or route in r.routes])
                for route in named
            },
        )
        put(self, "_needs_source", any(r.sources for r in rules))
        put(self, "_needs_dns", any(r.dns for r in rules))
        put(self, "_needs_sni", any(r.sni for r in rules))

    def describe(self) -> list[str]:
        """One human line per rule, in order (for ``zerotls tunnel check``)."""
        return [rule.describe() for rule in self.rules]

    def to_dict(self) -> dict[str, Any]:
        """The policy as a TOML-shaped mapping; ``Policy.from_dict(p.to_dict()) == p``."""
        return {"shadow": self.shadow, "rule": [rule.to_dict() for rule in self.rules]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Policy:
        """Build a policy from a mapping shaped like the TOML file.

        Args:
            data: ``{"shadow": bool, "rule": [ {rule table}, ... ]}``.
            source: where the data came from, for error messages (a file name).

        Raises:
            ConfigError: unknown keys, invalid rules or duplicate names; the message names
                ``source`` and the rule.
        """
        from zerotls.policy.loader import policy_from_dict

        return policy_from_dict(data, source=source)

    @classmethod
    def from_toml(cls, path: str | Path, *, table: str | None = None) -> Policy:
        """Load a policy from a TOML file, or from one ``[table]`` of it.

        Raises:
            ConfigError: the file is missing, not TOML, or holds an invalid policy; the message
                names the file, the rule and what is wrong.
        """
        from zerotls.policy.loader import policy_from_toml

        return policy_from_toml(path, table=table)

    @classmethod
    def allow_identities(cls, patterns: Sequence[str], *, route: str | None = None) -> Policy:
        """A policy allowing each identity pattern (the CLI's ``--allow`` flags).

        Each pattern is one of ``spiffe://domain/path`` (with ``*`` / ``**``), ``dns:GLOB``,
        ``pin:sha256/BASE64``, ``issuer:DN`` or the literal ``any``; each becomes one allow
        rule, limited to ``route`` when given. No patterns means a policy that allows nothing.

        Raises:
            ConfigError: a pattern of none of these forms, or an invalid one; the message shows
                an example of each form.
        """
        from zerotls.policy.loader import allow_identities

        return allow_identities(patterns, route=route)


def _who(identity: Identity | None) -> str:
    return "a peer without a client certificate" if identity is None else identity.name


def decide(
    identity: Identity | None, request: Request, policy: Policy, now: dt.datetime
) -> Decision:
    """Decide whether a connection may proceed: deny wins, then first allow, else deny.

    Pure: no clock read, no I/O, no exception for any identity or request.

    Args:
        identity: the verified peer identity, or None when it presented no certificate.
        request: the connection's route, listener, SNI, ALPN and source address.
        policy: the policy to apply.
        now: the current time (aware; a naive datetime is taken as UTC). Used for ``hours``,
            ``weekdays`` and ``min_remaining``.

    Returns:
        The decision, naming the deciding rule (None for default deny) and a reason.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    elif now.utcoffset():
        now = now.astimezone(dt.UTC)
    deny_rules, allow_rules = policy._by_route.get(request.route, policy._any_route)
    ip = parse_ip(request.source) if policy._needs_source else None
    dns_names: tuple[str, ...] = ()
    if identity is not None and policy._needs_dns:
        dns_names = tuple(normalize_dns(n) for n in identity.dns_names)
    sni = normalize_dns(request.sni) if policy._needs_sni and request.sni is not None else None

    facts = _Facts(
        identity, request, dns_names, sni, ip, now, now.hour * 60 + now.minute, now.weekday()
    )

    rule = _first_match(deny_rules, facts)
    if rule is not None:
        reason = f"rule {rule.name!r} denies {_who(identity)} on route {request.route!r}"
        return _deny(policy, rule.name, f"{reason}: {rule.reason}" if rule.reason else reason)
    rule = _first_match(allow_rules, facts)
    if rule is not None:
        reason = f"rule {rule.name!r} allows {_who(identity)} on route {request.route!r}"
        return Decision(
            allowed=True,
            effect="allow",
            rule=rule.name,
            reason=f"{reason}: {rule.reason}" if rule.reason else reason,
        )
    return _deny(policy, None, f"no rule allows {_who(identity)} on route {request.route!r}")


class _Facts(NamedTuple):
    """What one decision knows, prepared once and shared by every rule it evaluates."""

    identity: Identity | None
    """The verified peer identity, or None."""
    request: Request
    """The connection's context."""
    dns_names: tuple[str, ...]
    """The identity's DNS SANs, normalized (empty unless some rule has ``dns``)."""
    sni: str | None
    """The SNI, normalized (None unless some rule has ``sni``)."""
    ip: Address | None
    """The peer address (None unless some rule has ``sources``, or not an address)."""
    now: dt.datetime
    """The injected time, in UTC."""
    minute: int
    """Minute of the UTC day."""
    weekday: int
    """UTC weekday, Monday = 0."""


def _first_match(rules: tuple[Rule, ...], facts: _Facts) -> Rule | None:
    """The first rule of ``rules`` (all for the request's route) that matches, or None."""
    spiffe_id = facts.identity.spiffe_id if facts.identity is not None else None
    for rule in rules:
        # SPIFFE first and inline: most rules name SPIFFE IDs, and this rejects most of them
        # for the price of one C-level fullmatch.
        pattern = rule._spiffe
        if pattern is not None and (spiffe_id is None or pattern.fullmatch(spiffe_id) is None):
            continue
        if rule._matches_after_spiffe(facts):
            return rule
    return None


def _deny(policy: Policy, rule: str | None, reason: str) -> Decision:
    if policy.shadow:
        return Decision(
            allowed=True,
            effect="deny",
            rule=rule,
            reason=f"shadow: would deny; {reason}",
            shadow=True,
        )
    return Decision(allowed=False, effect="deny", rule=rule, reason=reason)
