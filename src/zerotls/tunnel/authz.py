"""One authorization path for every tunnel: TCP (``proxy.Session``) and UDP (``udp``).

Inside the handshake, once the peer's chain is verified, a tunnel asks :func:`authorize`
whether this identity may use this route. The answer is an :class:`Authorization`: the
decision as the audit event records it (``allow``, ``shadow-deny``, ``deny``), the matched
rule and its reason, the error to refuse with (its alert goes to the peer), and the key under
which the connection counts against ``max_per_identity``. Three rules, in this order:

1. a route that requires a known revocation status (``revocation = "hard"``) refuses a peer
   whose status the checker could not establish, even though the listener's handshake let it
   through (one handshake serves every route of a listener; a soft route needs that);
2. the route's policy (:func:`zerotls.policy.decide`, default deny, deny wins, shadow mode);
3. the per-identity connection limit (:class:`IdentityLimits`), counted only when allowed.

Both tunnels fill their audit events and metrics from the same object, so neither can drift
from the other again (the UDP tunnel once had neither the limit nor the revocation rule).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from zerotls.errors import PolicyDenied, RevocationError, ZeroTLSError
from zerotls.policy import Policy, Request, decide
from zerotls.tls.identity import Identity
from zerotls.tls.revocation import Verdict

__all__ = ["Authorization", "IdentityLimits", "authorize"]


class IdentityLimits:
    """Connections held per identity, against a limit (None: unbounded)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.held: Counter[str] = Counter()

    def claim(self, identity: Identity | None) -> tuple[str | None, str | None]:
        """``(key to release later, None)``, or ``(None, why it is refused)``."""
        if identity is None:
            return None, None
        key = identity.name
        if self.limit is not None and self.held[key] >= self.limit:
            return None, f"{key} already holds {self.limit} connections (limits.max_per_identity)"
        self.held[key] += 1
        return key, None

    def release(self, key: str | None) -> None:
        if key is None:
            return
        self.held[key] -= 1
        if self.held[key] <= 0:
            del self.held[key]


@dataclass(frozen=True, slots=True)
class Authorization:
    """What :func:`authorize` decided, ready for the audit event and the metrics."""

    decision: str
    """``allow``, ``shadow-deny`` (allowed, but the policy would deny) or ``deny``."""
    rule: str | None
    reason: str | None
    error: ZeroTLSError | None = None
    """What to refuse the handshake with (None: allowed)."""
    identity_key: str | None = None
    """Counted in the :class:`IdentityLimits`: release it when the connection ends."""

    @property
    def allowed(self) -> bool:
        return self.error is None


def authorize(
    identity: Identity | None,
    *,
    route: str,
    policy: Policy,
    listener: str,
    source: str,
    sni: str | None = None,
    alpn: str | None = None,
    revocation: Verdict | None = None,
    require_known_revocation: bool = False,
    limits: IdentityLimits | None = None,
    now: dt.datetime | None = None,
) -> Authorization:
    """Decide whether ``identity`` may use ``route`` (see the module docstring).

    Args:
        identity: the verified peer (None: no certificate, where the listener allows that).
        route: the route's name; ``policy`` is its policy.
        listener: the listener's name (policies may match on it).
        source: the peer's address, without the port.
        sni, alpn: what the client asked for.
        revocation: the checker's verdict on the peer's certificate, if it ran.
        require_known_revocation: the route's ``revocation = "hard"``.
        limits: per-identity connection counts to claim from.
        now: the time of the decision (for time-of-day rules).
    """
    if require_known_revocation and revocation is not None and revocation.unknown:
        reason = f"route {route!r} requires a known revocation status: {revocation.why_unknown}"
        return Authorization("deny", None, reason, RevocationError(reason))
    request = Request(route=route, listener=listener, sni=sni, alpn=alpn, source=source)
    decision = decide(identity, request, policy, now or dt.datetime.now(dt.UTC))
    if not decision.allowed:
        return Authorization(
            "deny", decision.rule, decision.reason, PolicyDenied(decision.reason, decision=decision)
        )
    key, refused = limits.claim(identity) if limits is not None else (None, None)
    if refused is not None:
        return Authorization("deny", None, refused, PolicyDenied(refused))
    verdict = "shadow-deny" if decision.shadow else "allow"
    return Authorization(verdict, decision.rule, decision.reason, identity_key=key)
