"""The one exception tree of zerotls.

Every error zerotls raises is a :class:`ZeroTLSError`. Errors from the libraries below us
(pyOpenSSL, ``cryptography``, ``ssl``, ``OSError``) are translated once, at the boundary where
they happen, with ``raise ... from exc`` so the cause stays visible to a debugger but never
reaches a user as a bare traceback::

    ZeroTLSError
    ├── ConfigError (also ValueError)        bad settings, refused legacy requests
    ├── ProtocolError
    │   ├── LocalProtocolError               we were asked to do something the state forbids
    │   └── RemoteProtocolError              the peer did something wrong
    │       ├── DecodeError                  the only error an *_untrusted parser raises
    │       └── TLSAlert                     the peer sent a fatal alert (carries its description)
    ├── VerificationError                    chain, hostname, identity, expiry
    │   ├── PinMismatch                      chain valid, but the SPKI is not pinned
    │   └── RevocationError                  revoked (CRL or OCSP), or status unknown
    │       ├── StapleMissing                OCSP required, but the server stapled nothing
    │       ├── StapleStale                  the OCSP response is outside its validity window
    │       └── StapleInvalid                bad signature or signer, or about another cert
    ├── PolicyDenied                         carries the decision and its reason
    ├── TransportError
    │   ├── HandshakeTimeout
    │   └── ConnectionBroken                 reset, truncation, or an earlier failure
    ├── IntegrityError                       HMAC envelopes
    │   ├── UnknownKey
    │   ├── BadSignature
    │   ├── MessageExpired
    │   └── ReplayDetected
    ├── PKIError                             the local CA and its store
    └── ProbeError                           the auditor could not conclude

Messages say what was wrong and what to do about it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "alert_of",
    "BadSignature",
    "ConfigError",
    "ConnectionBroken",
    "DecodeError",
    "HandshakeTimeout",
    "IntegrityError",
    "LocalProtocolError",
    "MessageExpired",
    "PKIError",
    "PinMismatch",
    "PolicyDenied",
    "ProbeError",
    "ProtocolError",
    "RemoteProtocolError",
    "ReplayDetected",
    "RevocationError",
    "StapleInvalid",
    "StapleMissing",
    "StapleStale",
    "TLSAlert",
    "TransportError",
    "UnknownKey",
    "VerificationError",
    "ZeroTLSError",
]


class ZeroTLSError(Exception):
    """Root of every error zerotls raises.

    Attributes:
        alert_sent: the TLS alert our side sent to the peer for this refusal (RFC 8446 name),
            when there was one; set where the refusal is made, read by logs and metrics.
    """

    alert_sent: str | None = None


class ConfigError(ZeroTLSError, ValueError):
    """A setting is invalid, inconsistent, or asks for something insecure."""


class ProtocolError(ZeroTLSError):
    """The TLS conversation went wrong."""


class LocalProtocolError(ProtocolError):
    """We were asked to do something the connection's state does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something that breaks the protocol."""


class DecodeError(RemoteProtocolError):
    """Untrusted bytes could not be decoded. The only error an ``*_untrusted`` parser raises."""


class TLSAlert(RemoteProtocolError):
    """The peer ended the handshake or the connection with a fatal TLS alert.

    Attributes:
        description: the alert's RFC 8446 name, for example ``"certificate_required"``.
    """

    def __init__(self, message: str, *, description: str) -> None:
        super().__init__(message)
        self.description = description


class VerificationError(ZeroTLSError):
    """The peer's certificate chain, name, identity or validity period was not acceptable."""


class PinMismatch(VerificationError):
    """The chain was valid but the peer's public key is not one of the pinned keys."""


class RevocationError(VerificationError):
    """The certificate is revoked, or its revocation status could not be established.

    Attributes:
        reason: the revocation reason (a CRL ``ReasonFlags`` name) when it is revoked.
        revoked_at: when it was revoked (UTC), when known.
        pending: see below.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        revoked_at: Any = None,
        pending: bool = False,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.revoked_at = revoked_at
        self.pending = pending
        """Unknown only because a CRL or OCSP fetch it needs is still running (first use):
        a blocking client may wait for it and try again; a server never waits."""


class StapleMissing(RevocationError):
    """OCSP is required (by config or a must-staple certificate) but nothing was stapled."""


class StapleStale(RevocationError):
    """The OCSP response is not yet valid or past its nextUpdate (beyond the clock skew)."""


class StapleInvalid(RevocationError):
    """The OCSP response is malformed, badly signed, from an unauthorized signer, or about
    another certificate."""


class PolicyDenied(ZeroTLSError):
    """A policy decision refused the request.

    Attributes:
        decision: the decision object (rule and reason) that refused it.
    """

    def __init__(self, message: str, *, decision: Any = None) -> None:
        super().__init__(message)
        self.decision = decision


class TransportError(ZeroTLSError):
    """The transport under TLS failed."""


class HandshakeTimeout(TransportError):
    """The handshake did not complete in time."""


class ConnectionBroken(TransportError):
    """The connection was reset, truncated, or is unusable after an earlier failure."""


class IntegrityError(ZeroTLSError):
    """An HMAC envelope could not be verified."""


class UnknownKey(IntegrityError):
    """The envelope names a key id that the key ring does not hold (or no longer holds)."""


class BadSignature(IntegrityError):
    """The envelope's MAC does not match: it was altered, or signed with another key."""


class MessageExpired(IntegrityError):
    """The envelope's timestamp is outside the accepted window."""


class ReplayDetected(IntegrityError):
    """The envelope's nonce was already seen inside the accepted window."""


class PKIError(ZeroTLSError):
    """The local CA or its on-disk store cannot do what was asked."""


class ProbeError(ZeroTLSError):
    """The auditor could not reach a conclusion about a target."""


def alert_of(exc: ZeroTLSError) -> str | None:
    """The TLS alert a failure came with: the peer's (a :class:`TLSAlert`), else the one we
    sent when we refused, else ``"timeout"`` for a handshake that ran out of time; None for
    a failure without an alert. Audit events and metrics name failures by it."""
    if isinstance(exc, TLSAlert):
        return exc.description
    if exc.alert_sent is not None:
        return exc.alert_sent
    if isinstance(exc, HandshakeTimeout):
        return "timeout"
    return None
