"""A small certificate authority for workloads, in trustme's shape.

``CA.create()`` makes a root, ``ca.create_intermediate()`` an issuing CA under it, and
``ca.issue(...)`` a short-lived leaf with exactly the extensions a TLS workload needs. Time is
injected (``now=``) so tests can mint expired or not-yet-valid certificates without touching
the clock. Keys are ECDSA P-256 by default; Ed25519 and RSA-3072 on request.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from zerotls._util import atomic_write
from zerotls.errors import ConfigError, PKIError
from zerotls.pki.reasons import parse_reason
from zerotls.tls.identity import Identity, parse_spiffe_id, spki_pin

__all__ = ["CA", "IssuedCert", "KeyType", "Usage", "generate_key"]

KeyType = Literal["ec", "ed25519", "rsa"]
Usage = Literal["server", "client", "both"]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

DEFAULT_LEAF_TTL = dt.timedelta(hours=24)
DEFAULT_CA_TTL = dt.timedelta(days=3650)
# Backdate notBefore a little: a peer whose clock runs slightly behind still accepts a
# certificate issued a second ago.
_BACKDATE = dt.timedelta(minutes=5)


def generate_key(key_type: KeyType = "ec") -> PrivateKey:
    """A fresh private key: ECDSA P-256 (default), Ed25519, or RSA-3072."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ConfigError(f"unknown key type {key_type!r}: use 'ec', 'ed25519' or 'rsa'")


def _hash_for(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class IssuedCert:
    """A leaf certificate, its private key and the intermediates that chain it to the root."""

    cert: x509.Certificate
    """The leaf certificate."""
    key: PrivateKey
    """Its private key."""
    chain: tuple[x509.Certificate, ...] = ()
    """Intermediates from the leaf's issuer up to (excluding) the root."""

    @property
    def cert_chain_pem(self) -> bytes:
        """Leaf then intermediates, PEM: what a TLS endpoint presents."""
        return b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.cert, *self.chain)
        )

    @property
    def private_key_pem(self) -> bytes:
        """The private key, PKCS#8 PEM, unencrypted (store it 0600)."""
        return _key_pem(self.key)

    @property
    def pin(self) -> str:
        """The SHA-256 SPKI pin of the leaf (base64)."""
        return spki_pin(self.cert)

    @property
    def identity(self) -> Identity:
        """The identity a peer will see after verifying this certificate."""
        return Identity.from_certificate(self.cert)

    def write(self, cert_path: Path | str, key_path: Path | str) -> None:
        """Write the chain (0644) and the key (0600, never readable by others, even briefly)."""
        atomic_write(Path(cert_path), self.cert_chain_pem, mode=0o644)
        atomic_write(Path(key_path), self.private_key_pem, mode=0o600)


@dataclass(slots=True)
class CA:
    """A certificate authority: a CA certificate, its key, and its own chain to the root."""

    cert: x509.Certificate
    key: PrivateKey
    parents: tuple[x509.Certificate, ...] = field(default=())
    """Intermediates above this CA, excluding the root (empty for a root CA)."""

    @classmethod
    def create(
        cls,
        name: str = "zerotls root CA",
        *,
        key_type: KeyType = "ec",
        ttl: dt.timedelta = DEFAULT_CA_TTL,
        path_length: int | None = 1,
        now: dt.datetime | None = None,
    ) -> CA:
        """Create a self-signed root CA.

        Args:
            name: the CA's common name.
            key_type: ``"ec"`` (P-256), ``"ed25519"`` or ``"rsa"`` (3072 bits).
            ttl: validity period.
            path_length: how many intermediates may sit below it (None: unlimited).
            now: the issuing time (injected for tests).
        """
        key = generate_key(key_type)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zerotls"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        start = _now(now)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - _BACKDATE)
            .not_valid_after(start + ttl)
            # A CA, and only a CA: may sign certificates and CRLs, nothing else.
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, _hash_for(key))
        )
        return cls(cert=cert, key=key)

    @property
    def cert_pem(self) -> bytes:
        """This CA's certificate, PEM (for a root, the trust anchor to distribute)."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """This CA's private key, PEM (store it 0600, ideally offline for a root)."""
        return _key_pem(self.key)

    @property
    def name(self) -> str:
        """The CA's common name."""
        cns = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(cns[0].value) if cns else self.cert.subject.rfc4514_string()

    def create_intermediate(
        self,
        name: str = "zerotls intermediate CA",
        *,
        key_type: KeyType = "ec",
        ttl: dt.timedelta = dt.timedelta(days=365),
        now: dt.datetime | None = None,
    ) -> CA:
        """Create an issuing CA signed by this one (path length 0: it issues leaves only)."""
        key = generate_key(key_type)
        start = _now(now)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zerotls"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        cert = (
            self._builder(subject, key, start, ttl)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .sign(self.key, _hash_for(self.key))
        )
        parents = () if _is_root(self.cert) else (self.cert, *self.parents)
        return CA(cert=cert, key=key, parents=parents)

    def issue(
        self,
        name: str,
        *,
        spiffe_id: str | None = None,
        dns: Sequence[str] = (),
        ips: Sequence[str] = (),
        usage: Usage = "both",
        ttl: dt.timedelta = DEFAULT_LEAF_TTL,
        key_type: KeyType = "ec",
        now: dt.datetime | None = None,
        ocsp_url: str | None = None,
        crl_url: str | None = None,
        must_staple: bool = False,
    ) -> IssuedCert:
        """Issue a leaf certificate for a workload.

        Args:
            name: a label (the subject CN: informational; names are checked on SANs only).
            spiffe_id: the workload identity, a URI SAN (``spiffe://domain/path``).
            dns: DNS SANs. When no SAN at all is given, ``name`` itself becomes the DNS SAN.
            ips: IP address SANs.
            usage: ``"server"``, ``"client"`` or ``"both"`` (sets extendedKeyUsage).
            ttl: validity; short by default (24 h): short-lived certificates bound a leak.
            key_type: ``"ec"``, ``"ed25519"`` or ``"rsa"``.
            now: the issuing time (injected for tests: pass a past time to mint an expired
                certificate).
            ocsp_url: the OCSP responder's URL, written to authorityInfoAccess: where
                servers fetch their staple and relying parties ask about this certificate.
            crl_url: a CRL distribution point (an http:// URL serving the issuer's CRL).
            must_staple: add the TLS Feature extension status_request (RFC 7633): clients
                then refuse this certificate without a valid stapled OCSP response.

        Raises:
            ConfigError: an invalid SPIFFE ID, DNS name or IP, URL, or no identity at all.
        """
        sans: list[x509.GeneralName] = []
        if spiffe_id is not None:
            sans.append(x509.UniformResourceIdentifier(str(parse_spiffe_id(spiffe_id))))
        for d in dns:
            sans.append(x509.DNSName(_check_dns(d)))
        for ip in ips:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(ip)))
            except ValueError:
                raise ConfigError(f"{ip!r} is not an IP address") from None
        if not sans:
            sans.append(x509.DNSName(_check_dns(name)))
        if usage not in ("server", "client", "both"):
            raise ConfigError(f"usage must be server, client or both, not {usage!r}")
        key = generate_key(key_type)
        start = _now(now)
        ekus = {
            "server": [ExtendedKeyUsageOID.SERVER_AUTH],
            "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
            "both": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        }[usage]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])])
        cert = (
            self._builder(subject, key, start, ttl)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # TLS 1.3 signs with the key (digitalSignature); RSA key exchange does not exist
            # in our suites, so keyEncipherment is never needed.
            .add_extension(_signing_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        )
        if ocsp_url is not None:
            access = x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(_check_url(ocsp_url, "ocsp_url")),
            )
            cert = cert.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
        if crl_url is not None:
            point = x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(_check_url(crl_url, "crl_url"))],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
            cert = cert.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        if must_staple:
            cert = cert.add_extension(
                x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False
            )
        signed = cert.sign(self.key, _hash_for(self.key))
        chain = (self.cert, *self.parents) if not _is_root(self.cert) else ()
        return IssuedCert(cert=signed, key=key, chain=chain)

    def issue_ocsp_responder(
        self,
        name: str = "zerotls OCSP responder",
        *,
        ttl: dt.timedelta = dt.timedelta(days=7),
        now: dt.datetime | None = None,
    ) -> IssuedCert:
        """Issue a delegated OCSP responder certificate (RFC 6960 §4.2.2.2).

        It may sign OCSP responses for this CA and nothing else (extendedKeyUsage
        id-kp-OCSPSigning), and carries id-pkix-ocsp-nocheck: clients do not ask about the
        responder's own status, so it is kept short-lived instead.
        """
        key = generate_key("ec")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])])
        cert = (
            self._builder(subject, key, _now(now), ttl)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_signing_key_usage(), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
            )
            .add_extension(x509.OCSPNoCheck(), critical=False)
            .sign(self.key, _hash_for(self.key))
        )
        return IssuedCert(cert=cert, key=key, chain=())

    def crl(
        self,
        revoked: Iterable[tuple[int, dt.datetime, str | None]] = (),
        *,
        now: dt.datetime | None = None,
        next_update: dt.timedelta = dt.timedelta(days=1),
    ) -> x509.CertificateRevocationList:
        """Sign a CRL listing ``(serial, revoked_at, reason)`` entries.

        Args:
            revoked: the revoked certificates; ``reason`` is a ``ReasonFlags`` name such as
                ``"key_compromise"`` or None.
            now: lastUpdate (injected for tests).
            next_update: how long the CRL is valid; relying parties refuse it afterwards.
        """
        start = _now(now)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(start)
            .next_update(start + next_update)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .add_extension(x509.CRLNumber(int(start.timestamp())), critical=False)
        )
        for serial, when, reason in revoked:
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            flag = _crl_reason(reason)
            if flag is not None:
                entry = entry.add_extension(x509.CRLReason(flag), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(self.key, _hash_for(self.key))

    def _builder(
        self, subject: x509.Name, key: PrivateKey, start: dt.datetime, ttl: dt.timedelta
    ) -> x509.CertificateBuilder:
        if start + ttl > self.cert.not_valid_after_utc:
            raise PKIError(
                f"a certificate valid until {(start + ttl):%Y-%m-%d} would outlive its CA "
                f"{self.name} (valid until {self.cert.not_valid_after_utc:%Y-%m-%d}); "
                "shorten --ttl or rotate the CA"
            )
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - _BACKDATE)
            .not_valid_after(start + ttl)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )


def _crl_reason(reason: str | None) -> x509.ReasonFlags | None:
    """The CRLReason to encode (any spelling; an unknown one is a ConfigError, raised before
    anything is signed). None and ``unspecified`` are encoded as no reason (RFC 5280 §5.3.1)."""
    if not reason:
        return None
    flag = parse_reason(reason)
    return None if flag is x509.ReasonFlags.unspecified else flag


def _check_url(url: str, what: str) -> str:
    if (
        not url.startswith(("http://", "https://"))
        or len(url) > 2048
        or any(c.isspace() for c in url)
    ):
        raise ConfigError(f"{what} {url!r} must be an http:// URL (OCSP and CRLs are signed)")
    return url


def _signing_key_usage() -> x509.KeyUsage:
    """digitalSignature only: what a TLS 1.3 leaf and an OCSP responder need."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _is_root(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


def _check_dns(name: str) -> str:
    text = name.strip().rstrip(".").lower()
    if not text.isascii():
        # An internationalized name goes into the certificate as its A-label (RFC 5890),
        # which is what a client compares: "bücher.example" -> "xn--bcher-kva.example".
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise ConfigError(
                f"{name!r} is not a valid internationalized DNS name; give its A-label "
                "(xn--...) instead"
            ) from None
    labels = text.split(".")
    ok = bool(text) and len(text) <= 253 and all(labels)
    for i, label in enumerate(labels):
        if label == "*" and i == 0 and len(labels) > 2:
            continue
        if len(label) > 63 or not all(c.isalnum() or c == "-" for c in label):
            ok = False
        if label.startswith("-") or label.endswith("-"):
            ok = False
    if not ok:
        raise ConfigError(f"{name!r} is not a valid DNS name")
    return text
