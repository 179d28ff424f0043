"""Judge a certificate chain as sent by a server: trust, name, validity, keys, signatures, OCSP.

Pure functions over ``cryptography`` objects with the time injected (``now``), so every verdict
is reproducible in tests. Path building is deliberately simple and explicit, because the
auditor must say *why* a chain fails, not only that it does: from the leaf, follow issuers
through the certificates the server sent, then through the trust store; a chain that only
completes with an intermediate the server did not send is *incomplete* (SSL Labs caps it at
B: browsers that do not fetch AIA fail), one that never reaches a trust anchor is untrusted.
Names are matched on SANs only, never the common name (RFC 6125 §6.4.4).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from zerotls.audit.model import CertificateInfo, CertificateResult, OCSPResult
from zerotls.errors import ConfigError, RevocationError
from zerotls.tls.identity import spki_pin

__all__ = ["TrustStore", "analyze_chain", "describe_certificate", "load_trust_store"]

_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class TrustStore:
    """Trust anchors, plus intermediates known out of band (to recognize incomplete chains)."""

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    source: str = ""


@functools.lru_cache(maxsize=8)
def load_trust_store(ca_file: Path | None = None) -> TrustStore:
    """Load ``ca_file`` (PEM; self-signed certificates are anchors, others intermediates), or
    the system store when None.

    Raises:
        ConfigError: the file is unreadable, holds no certificate, or no system store exists.
    """
    if ca_file is None:
        paths = ssl.get_default_verify_paths()
        candidates = [paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"]
        found = next((Path(p) for p in candidates if p and Path(p).is_file()), None)
        if found is None:
            raise ConfigError(
                "no system trust store found (looked for "
                + ", ".join(str(p) for p in candidates if p)
                + "); pass --ca FILE with the CA certificates to trust"
            )
        ca_file = found
    try:
        data = ca_file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read CA file {ca_file}: {exc.strerror or exc}") from None
    try:
        with warnings.catch_warnings():
            # System bundles still carry a few old roots with a non-positive serial; cryptography
            # warns about each on every load. They are the operator's anchors, not a finding.
            warnings.filterwarnings(
                "ignore", message="Parsed a serial number which wasn't positive"
            )
            certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(
            f"{ca_file} holds no PEM certificate: give a file of '-----BEGIN CERTIFICATE-----' "
            "blocks"
        ) from None
    roots = tuple(c for c in certs if c.issuer == c.subject)
    others = tuple(c for c in certs if c.issuer != c.subject)
    return TrustStore(roots=roots, intermediates=others, source=str(ca_file))


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm
        # cryptography refuses SHA-1 here; the auditor must still follow such a chain to
        # report "signed with SHA-1" rather than a vaguer "untrusted".
        return _verify_legacy_signature(cert, issuer)
    return True


def _verify_legacy_signature(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        algorithm = cert.signature_hash_algorithm
        key = issuer.public_key()
        if not isinstance(algorithm, hashes.SHA1 | hashes.MD5):
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except Exception:  # InvalidSignature, UnsupportedAlgorithm
        return False
    return True


def _key(cert: x509.Certificate) -> tuple[str, int, str | None]:
    try:
        key = cert.public_key()
    except Exception:  # an algorithm cryptography cannot load
        return ("unknown", 0, None)
    if isinstance(key, rsa.RSAPublicKey):
        return ("RSA", key.key_size, None)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ("EC", key.key_size, key.curve.name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ("Ed25519", 256, None)
    if isinstance(key, ed448.Ed448PublicKey):
        return ("Ed448", 456, None)
    if isinstance(key, dsa.DSAPublicKey):
        return ("DSA", key.key_size, None)
    return (type(key).__name__, 0, None)


def _signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string


def _sans(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return (), ()
    return (
        tuple(san.get_values_for_type(x509.DNSName)),
        tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
    )


def describe_certificate(cert: x509.Certificate) -> CertificateInfo:
    """The report's view of one certificate."""
    key_type, bits, curve = _key(cert)
    dns, ips = _sans(cert)
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        is_ca = False
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=f"{cert.serial_number:x}",
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        key_type=key_type,
        key_bits=bits,
        curve=curve,
        signature_algorithm=_signature_name(cert),
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        spki_pin=spki_pin(cert),
        dns_names=dns,
        ip_addresses=ips,
        self_signed=cert.issuer == cert.subject and _signed_by(cert, cert),
        is_ca=is_ca,
    )


def _name_matches(name: str, dns: Sequence[str], ips: Sequence[str]) -> bool:
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        return any(ipaddress.ip_address(ip) == address for ip in ips)
    wanted = name.rstrip(".").lower()
    for pattern in (d.rstrip(".").lower() for d in dns):
        if pattern == wanted:
            return True
        # RFC 6125 §6.4.3: a wildcard only as the whole left-most label, matching one label.
        if pattern.startswith("*.") and "." in wanted:
            head, rest = wanted.split(".", 1)
            if head and rest == pattern[2:] and rest.count(".") >= 1:
                return True
    return False


def _weak_key(key_type: str, bits: int) -> bool:
    if key_type in ("RSA", "DSA"):
        return bits < 2048
    if key_type == "EC":
        return bits < 224
    return key_type == "unknown"


def _weak_hash(cert: x509.Certificate) -> bool:
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # an unsupported algorithm: not provably weak
        return False
    return isinstance(algorithm, hashes.SHA1 | hashes.MD5)


def _sct_count(extensions: x509.Extensions, kind: type[x509.ExtensionType]) -> int:
    """SCTs in one extension (``kind``: embedded in a certificate, or in an OCSP response)."""
    try:
        scts = extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return 0
    return len(list(scts))  # type: ignore[call-overload]


def _sct_list_count(data: bytes | None) -> int:
    """SCTs in a SignedCertificateTimestampList (RFC 6962 §3.3: the TLS extension's data);
    0 when absent or malformed (an unreadable list proves nothing)."""
    if not data or len(data) < 2 or int.from_bytes(data[:2], "big") != len(data) - 2:
        return 0
    count, pos = 0, 2
    while pos + 2 <= len(data):
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length == 0 or pos + 2 + length > len(data):
            return 0
        count, pos = count + 1, pos + 2 + length
    return count if pos == len(data) else 0


def _staple_sct_count(der: bytes | None) -> int:
    """SCTs in the stapled OCSP response's single extension (RFC 6962 §3.3)."""
    if not der:
        return 0
    from cryptography.x509 import ocsp

    try:
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return 0
        extensions = response.single_extensions
    except ValueError:
        return 0
    return _sct_count(extensions, x509.SignedCertificateTimestamps)


def _must_staple(cert: x509.Certificate) -> bool:
    try:
        features = cert.extensions.get_extension_for_class(x509.TLSFeature).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return x509.TLSFeatureType.status_request in features


def analyze_chain(
    ders: Sequence[bytes],
    *,
    hostname: str | None,
    store: TrustStore,
    now: dt.datetime,
    warn_days: int = 30,
    pins: frozenset[str] = frozenset(),
    ocsp_response: bytes | None = None,
    version: str | None = None,
    sct_extension: bytes | None = None,
) -> CertificateResult:
    """Every verdict on a chain as the server sent it (leaf first).

    Args:
        ders: the DER certificates, leaf first.
        hostname: the name the client asked for (SNI), or the IP address connected to.
        store: trust anchors and known intermediates.
        now: the time to judge validity at.
        warn_days: "expires soon" threshold.
        pins: expected SPKI pins (any certificate of the path may match).
        ocsp_response: the stapled OCSP response (DER), if any.
        version: the protocol the chain came with, for the report.
        sct_extension: the server's signed_certificate_timestamp extension data, if any.
    """
    certs: list[x509.Certificate] = []
    for der in ders:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            return CertificateResult(error=f"the server sent an unparsable certificate: {exc}")
    if not certs:
        return CertificateResult(error="the server sent no certificate")
    leaf = certs[0]
    infos = tuple(describe_certificate(c) for c in certs)

    # -- path building: sent certificates first, then the store --------------------------------
    path = [leaf]
    trusted = False
    complete = True
    error: str | None = None
    current = leaf
    for _ in range(_MAX_DEPTH):
        anchor = next((r for r in store.roots if r == current or _signed_by(current, r)), None)
        if anchor is not None:
            trusted = True
            if anchor != current:
                path.append(anchor)
            break
        issuer = next((c for c in certs[1:] if c not in path and _signed_by(current, c)), None)
        if issuer is None:
            issuer = next(
                (c for c in store.intermediates if c not in path and _signed_by(current, c)),
                None,
            )
            if issuer is not None:
                complete = False
        if issuer is None:
            break
        path.append(issuer)
        current = issuer
    self_signed = infos[0].self_signed
    if not trusted:
        if self_signed:
            error = "the certificate is self-signed and not in the trust store"
        elif current.issuer == current.subject:
            error = f"the chain ends at {current.subject.rfc4514_string()}, which is not trusted"
        else:
            error = (
                f"issuer {current.issuer.rfc4514_string()} not found: an untrusted CA, or an "
                "intermediate the server does not send"
            )
        complete = len(certs) > 1 or self_signed

    # -- the leaf -------------------------------------------------------------------------------
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    days_left = (not_after - now).total_seconds() / 86400
    key_type, bits, _curve = _key(leaf)
    dns, ips = infos[0].dns_names, infos[0].ip_addresses
    matches = _name_matches(hostname, dns, ips) if hostname else None
    below_anchor = path[:-1] if trusted and path[-1] in store.roots else path
    sha1 = any(_weak_hash(c) for c in below_anchor if not (c.issuer == c.subject and c != leaf))
    weak = any(_weak_key(*_key(c)[:2]) for c in below_anchor)
    chain_pins = tuple(dict.fromkeys(spki_pin(c) for c in path + certs[1:]))
    pin_matches = bool(set(chain_pins) & pins) if pins else None

    scts = (
        (
            _sct_count(leaf.extensions, x509.PrecertificateSignedCertificateTimestamps),
            "certificate",
        ),
        (_sct_list_count(sct_extension), "tls extension"),
        (_staple_sct_count(ocsp_response), "ocsp staple"),
    )
    return CertificateResult(
        chain=infos,
        version=version,
        trusted=trusted,
        trust_error=error,
        chain_complete=complete,
        self_signed=self_signed,
        hostname=hostname,
        hostname_matches=matches,
        expired=now > not_after,
        not_yet_valid=now < not_before,
        days_left=round(days_left, 2),
        expires_soon=0 <= days_left < warn_days,
        lifetime_days=round((not_after - not_before).total_seconds() / 86400, 2),
        sha1_signature=sha1,
        weak_key=weak or _weak_key(key_type, bits),
        must_staple=_must_staple(leaf),
        sct_count=sum(n for n, _ in scts),
        sct_sources=tuple(where for n, where in scts if n),
        ocsp=_ocsp(ocsp_response, leaf, path[1] if len(path) > 1 else None, now),
        pins=chain_pins,
        pin_matches=pin_matches,
    )


def _ocsp(
    data: bytes | None, leaf: x509.Certificate, issuer: x509.Certificate | None, now: dt.datetime
) -> OCSPResult:
    if not data:
        return OCSPResult(stapled=False)
    if issuer is None:
        return OCSPResult(
            stapled=True, valid=False, error="cannot check the staple: the leaf's issuer is unknown"
        )
    from zerotls.tls.ocsp import verify_ocsp_response

    try:
        status = verify_ocsp_response(data, leaf, issuer, now=now, what="stapled OCSP response")
    except RevocationError as exc:
        return OCSPResult(stapled=True, valid=False, error=str(exc))
    return OCSPResult(
        stapled=True,
        status=status.status,
        valid=True,
        this_update=status.this_update.isoformat(),
        next_update=status.next_update.isoformat() if status.next_update else None,
    )


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate, hex."""
    return hashlib.sha256(der).hexdigest()
