"""Least-privilege access policy: default deny, as data and a pure function.

A :class:`Policy` is a tuple of :class:`Rule` objects (allow or deny, matching on the verified
:class:`~zerotls.tls.identity.Identity` and on the connection's :class:`Request`);
:func:`decide` applies it to one connection and returns a :class:`Decision` that names the
deciding rule and why. Deny rules win over allow rules, the first matching allow rule allows,
and anything else is denied. See ``docs/policy.md`` for the TOML format.

Example::

    from zerotls.policy import Policy, Request, decide

    policy = Policy.from_toml("policy.toml")
    decision = decide(identity, Request(route="db", source="10.1.2.3"), policy, now)
    if not decision.allowed:
        ...  # send access_denied, log decision.reason
"""

from __future__ import annotations

from zerotls.policy.rules import Decision, Effect, Policy, Request, Rule, decide

__all__ = ["Decision", "Effect", "Policy", "Request", "Rule", "decide"]
