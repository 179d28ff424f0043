"""Workload identities taken from a verified certificate chain.

Zero trust authorizes by *who* the peer is, never by where it connects from. An
:class:`Identity` is built only from a chain that OpenSSL has already verified, so every field
in it is vouched for by a trusted CA: the SPIFFE ID (a URI SAN, validated against the SPIFFE ID
rules), the DNS, URI and IP SANs, the SPKI pin, the fingerprint, the validity window and the
issuer. The common name is carried for display only; nothing in zerotls decides on it
(RFC 6125 §6.4.4).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from zerotls.errors import ConfigError

__all__ = ["Identity", "SpiffeId", "parse_spiffe_id", "spki_pin"]

_SPIFFE_MAX_LENGTH = 2048
# SPIFFE ID spec §2.1: trust domain is lowercase letters, digits, '.', '-', '_'.
_TRUST_DOMAIN_RE = re.compile(r"[a-z0-9._-]+")
# SPIFFE ID spec §2.2: path segments are letters, digits, '.', '-', '_'; none empty, '.' or '..'.
_PATH_SEGMENT_RE = re.compile(r"[A-Za-z0-9._-]+")
_SHA256 = hashes.SHA256()


@dataclass(frozen=True, slots=True)
class SpiffeId:
    """A syntactically valid SPIFFE ID, ``spiffe://<trust domain>/<path>``."""

    trust_domain: str
    """The trust domain, e.g. ``prod.example``."""
    path: str
    """The workload path with its leading slash, e.g. ``/svc/db``; empty for the domain itself."""

    def __str__(self) -> str:
        return f"spiffe://{self.trust_domain}{self.path}"


def parse_spiffe_id(value: str) -> SpiffeId:
    """Parse and validate a SPIFFE ID against the SPIFFE ID specification.

    Args:
        value: text such as ``spiffe://prod.example/svc/db``.

    Returns:
        The parsed :class:`SpiffeId`.

    Raises:
        ConfigError: the text is not a valid SPIFFE ID; the message says which rule it breaks.
    """
    if len(value) > _SPIFFE_MAX_LENGTH:
        raise ConfigError(f"SPIFFE ID is longer than {_SPIFFE_MAX_LENGTH} bytes")
    prefix = "spiffe://"
    if not value.startswith(prefix):
        raise ConfigError(f"{value!r} is not a SPIFFE ID: it must start with 'spiffe://'")
    rest = value[len(prefix) :]
    trust_domain, slash, path = rest.partition("/")
    if not trust_domain or not _TRUST_DOMAIN_RE.fullmatch(trust_domain):
        raise ConfigError(
            f"{value!r} has an invalid trust domain {trust_domain!r}: use lowercase letters, "
            "digits, '.', '-' and '_' only (no port, no user info)"
        )
    if slash:
        if path == "" or path.endswith("/"):
            raise ConfigError(f"{value!r} must not end with '/'")
        for segment in path.split("/"):
            if segment in {"", ".", ".."} or not _PATH_SEGMENT_RE.fullmatch(segment):
                raise ConfigError(
                    f"{value!r} has an invalid path segment {segment!r}: segments are non-empty, "
                    "not '.' or '..', and use letters, digits, '.', '-' and '_' only"
                )
    return SpiffeId(trust_domain=trust_domain, path=f"/{path}" if slash else "")


def spki_pin(cert: x509.Certificate) -> str:
    """Return the SHA-256 pin of a certificate's SubjectPublicKeyInfo, base64-encoded.

    The pin is the RFC 7469 format (without the ``sha256/`` prefix): it survives certificate
    renewal with the same key, unlike a whole-certificate fingerprint.
    """
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the peer is, as vouched for by its verified certificate chain."""

    spiffe_id: str | None
    """The SPIFFE ID (the certificate's one ``spiffe://`` URI SAN), or None."""
    dns_names: tuple[str, ...]
    """DNS subject alternative names."""
    uris: tuple[str, ...]
    """All URI subject alternative names (the SPIFFE ID among them)."""
    ip_addresses: tuple[str, ...]
    """IP address subject alternative names."""
    common_name: str | None
    """The subject's common name: informational only, never used for a decision."""
    spki_pin: str
    """Base64 SHA-256 of the SubjectPublicKeyInfo (the value to put in ``pins``)."""
    fingerprint_sha256: str
    """Hex SHA-256 of the whole certificate (DER)."""
    serial_number: int
    """The certificate's serial number."""
    subject: str
    """The subject distinguished name (RFC 4514)."""
    issuer: str
    """The issuer distinguished name (RFC 4514)."""
    not_before: dt.datetime
    """Start of validity (UTC)."""
    not_after: dt.datetime
    """End of validity (UTC)."""

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> Identity:
        """Build an identity from a certificate that has already been verified."""
        dns: tuple[str, ...] = ()
        uris: tuple[str, ...] = ()
        ips: tuple[str, ...] = ()
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            pass
        else:
            dns = tuple(san.get_values_for_type(x509.DNSName))
            uris = tuple(san.get_values_for_type(x509.UniformResourceIdentifier))
            ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        spiffe = _spiffe_from_uris(uris)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(cns[0].value) if cns else None
        return cls(
            spiffe_id=spiffe,
            dns_names=dns,
            uris=uris,
            ip_addresses=ips,
            common_name=common_name,
            spki_pin=spki_pin(cert),
            fingerprint_sha256=cert.fingerprint(_SHA256).hex(),
            serial_number=cert.serial_number,
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )

    @property
    def name(self) -> str:
        """The best single name for logs: SPIFFE ID, else first DNS name, else subject."""
        if self.spiffe_id:
            return self.spiffe_id
        if self.dns_names:
            return self.dns_names[0]
        return self.subject

    def remaining(self, now: dt.datetime) -> dt.timedelta:
        """Time left until ``not_after`` at ``now`` (negative once expired)."""
        return self.not_after - now

    def matches_host(self, host: str) -> bool:
        """Whether ``host`` (a DNS name or an IP literal) is one of the SANs."""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return _dns_matches(host, self.dns_names)
        return str(ip) in self.ip_addresses

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly view (for logs and audit events)."""
        return {
            "spiffe_id": self.spiffe_id,
            "dns_names": list(self.dns_names),
            "uris": list(self.uris),
            "ip_addresses": list(self.ip_addresses),
            "common_name": self.common_name,
            "spki_pin": self.spki_pin,
            "fingerprint_sha256": self.fingerprint_sha256,
            "serial_number": f"{self.serial_number:x}",
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
        }


def _spiffe_from_uris(uris: tuple[str, ...]) -> str | None:
    # SPIFFE X.509-SVID §2: exactly one URI SAN that is a SPIFFE ID. A certificate with two
    # is not a valid SVID; it gets no SPIFFE identity rather than an ambiguous one.
    # The scheme is case-insensitive in URIs (RFC 3986 §3.1), so "SPIFFE://" counts as one
    # too: a certificate with SPIFFE://.../evil beside spiffe://.../web is not "web".
    candidates = [u for u in uris if u[:9].lower() == "spiffe://"]
    if len(candidates) != 1:
        return None
    try:
        return str(parse_spiffe_id(candidates[0]))
    except ConfigError:
        return None


def _dns_matches(host: str, names: tuple[str, ...]) -> bool:
    host = host.rstrip(".").lower()
    for raw in names:
        name = raw.rstrip(".").lower()
        if name == host:
            return True
        # RFC 6125 §6.4.3: a wildcard only as the whole left-most label, matching one label.
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False
