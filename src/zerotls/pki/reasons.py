"""Revocation reasons (RFC 5280 §5.3.1): one parsed type at every boundary.

A reason arrives as text from the command line, the API or an old index, in whichever spelling
its author knew: the RFC's and OpenSSL's ``keyCompromise``, cryptography's ``key_compromise``,
a shouted ``KEY_COMPROMISE``. :func:`parse_reason` accepts every spelling of every reason and
returns the :class:`cryptography.x509.ReasonFlags` member; whatever it cannot parse is refused
with the list of names. The index stores :func:`canonical_reason`'s form only (the snake name),
so the OCSP responder and the CRL writer never meet a spelling they cannot encode.
"""

from __future__ import annotations

from cryptography import x509

from zerotls.errors import ConfigError

__all__ = ["RFC_NAMES", "canonical_reason", "parse_reason"]

RFC_NAMES: dict[x509.ReasonFlags, str] = {
    x509.ReasonFlags.unspecified: "unspecified",
    x509.ReasonFlags.key_compromise: "keyCompromise",
    x509.ReasonFlags.ca_compromise: "cACompromise",
    x509.ReasonFlags.affiliation_changed: "affiliationChanged",
    x509.ReasonFlags.superseded: "superseded",
    x509.ReasonFlags.cessation_of_operation: "cessationOfOperation",
    x509.ReasonFlags.certificate_hold: "certificateHold",
    x509.ReasonFlags.privilege_withdrawn: "privilegeWithdrawn",
    x509.ReasonFlags.aa_compromise: "aACompromise",
    x509.ReasonFlags.remove_from_crl: "removeFromCRL",
}
"""Each reason as RFC 5280 and ``openssl ca -crl_reason`` spell it."""


def _folded(text: str) -> str:
    return "".join(c for c in text.strip().lower() if c not in "_- ")


_BY_FOLDED: dict[str, x509.ReasonFlags] = {}
for _flag, _rfc in RFC_NAMES.items():
    _BY_FOLDED[_folded(_rfc)] = _flag
    _BY_FOLDED[_folded(_flag.name)] = _flag


def parse_reason(text: str, *, for_revocation: bool = True) -> x509.ReasonFlags:
    """A revocation reason in any spelling (``keyCompromise``, ``key_compromise`` ...).

    Args:
        text: the reason as written; case, ``_``, ``-`` and surrounding spaces do not matter.
        for_revocation: refuse ``removeFromCRL``, which belongs only in delta CRLs
            (RFC 5280 §5.3.1), never in a revocation of a certificate.

    Raises:
        ConfigError: not a reason; the message lists the names that are.
    """
    flag = _BY_FOLDED.get(_folded(text)) if isinstance(text, str) else None
    if flag is x509.ReasonFlags.remove_from_crl and for_revocation:
        raise ConfigError(
            "removeFromCRL only appears in delta CRLs (RFC 5280 §5.3.1) and cannot be the "
            "reason for revoking a certificate; to take a certificate off hold, use a new one"
        )
    if flag is None:
        names = ", ".join(
            f"{n} ({f.name})" if n != f.name else n
            for f, n in RFC_NAMES.items()
            if f is not x509.ReasonFlags.remove_from_crl
        )
        raise ConfigError(f"unknown revocation reason {text!r}; use one of: {names}")
    return flag


def canonical_reason(text: str) -> str:
    """The stored form of a reason: the ``ReasonFlags`` name (``key_compromise``)."""
    return parse_reason(text).name
