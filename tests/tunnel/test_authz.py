"""The one authorization path of both tunnels, without sockets: the hard-revocation rule of a
route, the policy, and the per-identity limit, in that order."""

from __future__ import annotations

from tests.conftest import CLIENT_ID, PKI
from zerotls.errors import PolicyDenied, RevocationError
from zerotls.policy import Policy
from zerotls.tls.identity import Identity
from zerotls.tls.revocation import Verdict
from zerotls.tunnel.authz import IdentityLimits, authorize

UNKNOWN = Verdict("unknown", "unknown, soft-fail: no CRL of CN=x", "no CRL of CN=x")


def identity(pki: PKI) -> Identity:
    return pki.client.issued.identity


def test_a_hard_route_refuses_an_unknown_status_that_a_soft_one_admits(pki: PKI) -> None:
    policy = Policy.allow_identities([CLIENT_ID])
    common = {"route": "db", "policy": policy, "listener": "front", "source": "127.0.0.1"}
    hard = authorize(identity(pki), revocation=UNKNOWN, require_known_revocation=True, **common)
    assert hard.decision == "deny" and isinstance(hard.error, RevocationError)
    assert hard.reason == "route 'db' requires a known revocation status: no CRL of CN=x"
    soft = authorize(identity(pki), revocation=UNKNOWN, require_known_revocation=False, **common)
    assert soft.allowed and soft.decision == "allow"
    good = Verdict("good", "crl good (file x)")
    assert authorize(
        identity(pki), revocation=good, require_known_revocation=True, **common
    ).allowed


def test_policy_then_limit_and_release(pki: PKI) -> None:
    limits = IdentityLimits(1)
    common = {"route": "db", "listener": "front", "source": "127.0.0.1", "limits": limits}
    denied = authorize(identity(pki), policy=Policy(), **common)  # default deny
    assert denied.decision == "deny" and isinstance(denied.error, PolicyDenied)
    assert not limits.held  # a denied connection holds no slot
    policy = Policy.allow_identities([CLIENT_ID])
    first = authorize(identity(pki), policy=policy, **common)
    assert first.allowed and first.identity_key == CLIENT_ID
    second = authorize(identity(pki), policy=policy, **common)
    assert not second.allowed and "max_per_identity" in (second.reason or "")
    limits.release(first.identity_key)
    assert authorize(identity(pki), policy=policy, **common).allowed
