"""Peer verification policy: what zerotls checks on top of OpenSSL's chain verification.

Theory of operation
-------------------
OpenSSL verifies the chain, the validity window and the host name. What it cannot know is
zerotls's own policy: SPKI pins anywhere in the chain, the expected SPIFFE identity (clients),
the allowed identities (servers), revocation from CRLs and OCSP, the staple, and the caller's
authorizer. Two places apply that policy:

* the engine, *inside* the handshake: the C callbacks (``tls/_callbacks.py``) feed a
  :class:`PeerCheck` per connection, which records the chain's pins and the leaf's issuer as
  OpenSSL walks the chain, then judges the leaf at depth 0 (and the staple on clients);
* ``tls/stdlib.py``'s ``check_peer``, *after* a stdlib handshake.

Both judge the configured rules with the one pure function :func:`judge_leaf` (identity and
chain pins in, an error or None out), so a rule and its message exist once. A failure is kept
on the check state; the engine raises it once OpenSSL has sent the alert that the X.509 error
from :attr:`PeerCheck.refusal_code` picked.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Mapping, Set
from typing import TYPE_CHECKING, Any

from cryptography import x509

from zerotls.errors import (
    PinMismatch,
    PolicyDenied,
    RevocationError,
    StapleInvalid,
    StapleMissing,
    VerificationError,
    ZeroTLSError,
)
from zerotls.tls import _ossl
from zerotls.tls._errors import chain_error, describe, peer_role
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.identity import Identity, parse_spiffe_id

if TYPE_CHECKING:
    from zerotls.tls.ocsp import Stapler
    from zerotls.tls.revocation import RevocationChecker, Verdict

Authorizer = Callable[[Identity], "ZeroTLSError | None"]
"""Called inside the handshake with the peer's verified identity; return an error to refuse
(a :class:`~zerotls.errors.PolicyDenied` is sent as ``certificate_unknown``)."""

# Certificates hash and compare by their DER bytes, so the same client reconnecting costs one
# dict lookup instead of parsing its extensions again. Bounded: an identity is small.
identity_of = functools.lru_cache(maxsize=4096)(Identity.from_certificate)


def has_leaf_rules(cfg: ClientConfig | ServerConfig) -> bool:
    """Whether ``cfg`` sets a rule :func:`judge_leaf` checks (pins or expected identities)."""
    return bool(cfg.pins) or (
        cfg.expect_identity is not None
        if isinstance(cfg, ClientConfig)
        else bool(cfg.allowed_identities)
    )


def judge_leaf(
    identity: Identity, cfg: ClientConfig | ServerConfig, chain_pins: Set[str]
) -> ZeroTLSError | None:
    """Judge a verified peer by the config's rules; the refusal, or None to accept.

    Pure: no clock, no I/O (validity and revocation are judged elsewhere).

    Args:
        identity: the identity of the peer's leaf certificate.
        cfg: our config: ``pins``, and ``expect_identity`` (clients) or
            ``allowed_identities`` (servers).
        chain_pins: the SPKI pins of the peer's chain as verified, the leaf's among them.
    """
    peer = peer_role(cfg)
    expected = cfg.expect_identity if isinstance(cfg, ClientConfig) else None
    if expected is not None and identity.spiffe_id != expected:
        return VerificationError(
            f"{peer} identity mismatch: expected {expected}, the certificate carries "
            f"{describe(identity)}; check expect_identity or the server's certificate"
        )
    allowed = cfg.allowed_identities if isinstance(cfg, ServerConfig) else frozenset()
    if allowed and identity.spiffe_id not in allowed:
        return VerificationError(
            f"client identity {describe(identity)} is not in allowed_identities "
            f"({', '.join(sorted(allowed))})"
        )
    if cfg.pins and not (chain_pins & cfg.pins):
        return PinMismatch(
            f"{peer} public key is not pinned: its chain is valid but no certificate in it "
            f"matches the {len(cfg.pins)} configured pin(s); the {peer}'s key pin is "
            f"sha256/{identity.spki_pin}. If the key was rotated on purpose, add the new pin "
            "(`zerotls pki pin CERT`); otherwise this may be an impersonation"
        )
    return None


def _trust_domain(spiffe_id: str | None) -> str | None:
    # An Identity's SPIFFE ID was validated when it was built: parsing cannot fail here.
    return parse_spiffe_id(spiffe_id).trust_domain if spiffe_id else None


def judge_trust_domain(
    identity: Identity,
    anchor: x509.Certificate | None,
    bundles: Mapping[str, frozenset[bytes]],
) -> ZeroTLSError | None:
    """Federation: the peer's own trust domain (from its SPIFFE ID) names the bundle that
    must have verified it; a peer of a trust domain with no bundle is refused. Pure."""
    spiffe_id = identity.spiffe_id
    if spiffe_id is None:
        return VerificationError(
            f"the peer's certificate ({describe(identity)}) has no SPIFFE ID; with a Workload "
            "API identity, peers are told apart by trust domain, so an X.509-SVID is required"
        )
    domain = _trust_domain(spiffe_id) or ""
    bundle = bundles.get(domain)
    if bundle is None:
        return VerificationError(
            f"the peer {spiffe_id} is from trust domain {domain}, for which there is no bundle "
            f"(bundles: {', '.join(sorted(bundles)) or 'none'}); federate with {domain} in the "
            "agent (SPIRE: a federation relationship) to accept it"
        )
    from cryptography.hazmat.primitives import serialization

    if anchor is None or anchor.public_bytes(serialization.Encoding.DER) not in bundle:
        return VerificationError(
            f"the peer {spiffe_id} chains to a CA that is not in the bundle of its trust "
            f"domain {domain}: a CA of one trust domain cannot vouch for another's IDs"
        )
    return None


class PeerCheck:
    """Per-connection state the verify callback writes into (no reference back to us)."""

    __slots__ = (
        "__weakref__",
        "anchor",
        "authorize",
        "checker",
        "config",
        "failure",
        "identity",
        "issuer",
        "leaf_checks",
        "leaf_rules",
        "now",
        "revocation",
        "seen_pins",
        "stapler",
        "trust_bundles",
        "verdict",
    )

    def __init__(
        self,
        config: ClientConfig | ServerConfig,
        authorize: Authorizer | None,
        stapler: Stapler | None = None,
        checker: RevocationChecker | None = None,
        now: Callable[[], float] = time.time,
        *,
        trust_bundles: Mapping[str, frozenset[bytes]] | None = None,
    ) -> None:
        self.config = config
        self.trust_bundles = trust_bundles
        """Trust domain to its CA certificates (DER), from an identity source: the peer must
        chain to the bundle of its own trust domain."""
        self.anchor: x509.Certificate | None = None
        """The top of the chain OpenSSL verified (the first certificate it reported)."""
        self.now = now
        """Epoch seconds now (the context's wall clock): staples are judged at it."""
        self.authorize = authorize
        self.stapler = stapler
        self.checker = checker
        """Judges the peer's revocation status from CRLs/OCSP (None: not configured)."""
        self.issuer: x509.Certificate | None = None
        """The leaf's issuer, recorded by the verify callback when ``checker`` needs it."""
        self.identity: Identity | None = None
        """The verified leaf's identity, once judged (the handshake's result reuses it)."""
        self.seen_pins: set[str] = set()
        self.failure: ZeroTLSError | None = None
        self.revocation: str | None = None
        self.verdict: Verdict | None = None
        """The checker's verdict on the peer (CRLs, OCSP queries), when it ran."""
        self.leaf_rules = has_leaf_rules(config) or trust_bundles is not None
        self.leaf_checks = self.leaf_rules or authorize is not None or checker is not None

    @property
    def refusal_code(self) -> int:
        """The X.509 error that picks the alert for a refusal made at the leaf."""
        if isinstance(self.failure, RevocationError) and self.failure.reason is not None:
            self.failure.alert_sent = "certificate_revoked"
            return _ossl.X509_V_ERR_CERT_REVOKED
        if isinstance(self.failure, PolicyDenied | RevocationError):
            # OpenSSL cannot send access_denied from inside the handshake; an X.509 error
            # outside its alert table yields certificate_unknown, the closest it can say for
            # a policy denial or an unknown revocation status.
            self.failure.alert_sent = "certificate_unknown"
            return _ossl.X509_V_ERR_NO_EXPLICIT_POLICY
        if self.failure is not None:
            self.failure.alert_sent = "bad_certificate"
        return _ossl.X509_V_ERR_CERT_REJECTED

    def check_staple(self, ssl_ptr: Any) -> bool:
        """Client side: judge the server's stapled OCSP response (see ``tls/ocsp.py``)."""
        from zerotls.tls.ocsp import check_ocsp_response, must_staple

        cfg = self.config
        assert isinstance(cfg, ClientConfig)  # noqa: S101 - servers never call this
        chain = _ossl.verified_chain(ssl_ptr)
        if not chain:
            return True  # resumed: no certificate, nothing to judge
        leaf = chain[0]
        required = cfg.ocsp == "require" or must_staple(leaf)
        data = _ossl.ocsp_response(ssl_ptr)
        try:
            if not data:
                if required:
                    why = (
                        "its certificate is marked must-staple"
                        if must_staple(leaf)
                        else ('this client requires it (ocsp = "require")')
                    )
                    raise StapleMissing(
                        f"the server stapled no OCSP response, but {why}; configure stapling "
                        "on the server (an OCSP responder URL or a staple file)"
                    )
                self.revocation = "not stapled"
                return True
            if len(chain) < 2:
                raise StapleInvalid(
                    "the server's certificate is its own trust anchor: an OCSP response about "
                    "it cannot be checked"
                )
            status = check_ocsp_response(
                data,
                leaf,
                chain[1],
                now=dt.datetime.fromtimestamp(self.now(), dt.UTC),
                skew=dt.timedelta(seconds=cfg.ocsp_skew),
                what="stapled OCSP response",
            )
        except RevocationError as exc:
            exc.alert_sent = "bad_certificate_status_response"
            self.failure = exc
            return False
        self.revocation = f"ocsp good (stapled, signed by {status.signer})"
        return True

    def record_chain_error(
        self, errno: int, depth: int, cert: x509.Certificate, leaf: x509.Certificate | None = None
    ) -> None:
        """Keep the first chain error OpenSSL found, explained (with an identity source, a
        leaf of a trust domain we have no bundle for is told so: that is why it failed)."""
        if self.failure is not None:
            return
        if self.trust_bundles is not None and leaf is not None:
            identity = identity_of(leaf)
            domain = _trust_domain(identity.spiffe_id)
            if domain is not None and domain not in self.trust_bundles:
                self.failure = judge_trust_domain(identity, None, self.trust_bundles)
                return
        self.failure = chain_error(self.config, errno, depth, cert)

    def check_leaf(self, leaf: x509.Certificate) -> bool:
        """Judge the verified leaf: revocation, the config's rules, then the authorizer."""
        identity = self.identity = identity_of(leaf)
        if self.checker is not None:
            try:
                self.verdict = self.checker.check(leaf, self.issuer)
                self.revocation = self.verdict.detail
            except RevocationError as exc:
                self.failure = exc
                return False
        if self.leaf_rules:
            refusal = judge_leaf(identity, self.config, self.seen_pins)
            if refusal is None and self.trust_bundles is not None:
                refusal = judge_trust_domain(identity, self.anchor, self.trust_bundles)
            if refusal is not None:
                self.failure = refusal
                return False
        if self.authorize is not None:
            refusal = self.authorize(identity)
            if refusal is not None:
                self.failure = refusal
                return False
        return True
