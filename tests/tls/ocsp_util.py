"""Build OCSP responses for tests, right or wrong on purpose, with ``cryptography``'s builder."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from zerotls.pki import CA


def response(
    leaf: x509.Certificate,
    issuer: CA,
    *,
    status: str = "good",
    signer: tuple[x509.Certificate, Any] | None = None,
    include: list[x509.Certificate] | None = None,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | str | None = "default",
    revoked_at: dt.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
    issuer_cert: x509.Certificate | None = None,
) -> bytes:
    """A DER OCSP response about ``leaf``. Defaults: good, signed by the issuer, valid 1 h."""
    now = dt.datetime.now(dt.UTC)
    this = this_update or now - dt.timedelta(minutes=1)
    nxt = this + dt.timedelta(hours=1) if next_update == "default" else next_update
    assert not isinstance(nxt, str)
    cert_status = {
        "good": ocsp.OCSPCertStatus.GOOD,
        "revoked": ocsp.OCSPCertStatus.REVOKED,
        "unknown": ocsp.OCSPCertStatus.UNKNOWN,
    }[status]
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf,
        issuer=issuer_cert or issuer.cert,
        algorithm=hashes.SHA1(),  # noqa: S303 - the CertID hash RFC 5019 asks for
        cert_status=cert_status,
        this_update=this,
        next_update=nxt,
        revocation_time=(revoked_at or now) if status == "revoked" else None,
        revocation_reason=reason if status == "revoked" else None,
    )
    cert, key = signer or (issuer.cert, issuer.key)
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, cert)
    if include:
        builder = builder.certificates(include)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def tamper_produced_at(der: bytes) -> bytes:
    """Change one digit of producedAt: the signed data changes, the signature does not."""
    parsed = ocsp.load_der_ocsp_response(der)
    stamp = parsed.produced_at_utc.strftime("%Y%m%d%H%M%SZ").encode()
    at = der.index(stamp)
    second = der[at + 13]
    changed = ord("0") + ((second - ord("0") + 1) % 10)
    return der[: at + 13] + bytes([changed]) + der[at + 14 :]
