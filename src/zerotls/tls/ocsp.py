"""OCSP for TLS: validating responses, fetching them, and keeping a staple fresh.

OpenSSL hands a client the stapled OCSP response as opaque bytes and checks nothing in it;
``cryptography`` parses it but has no validation helper. So the checks are ours, all of them
(RFC 6960 §3.2), in :func:`verify_ocsp_response`:

1. the response parses and its status is ``successful``;
2. one of its single responses is about *this* certificate: serial number, issuer name hash
   and issuer key hash all match the leaf and the issuer from the verified chain;
3. it is signed by the issuer itself, or by a delegated responder certificate that the issuer
   signed and that carries id-kp-OCSPSigning and is valid now;
4. the signature verifies over the response data;
5. thisUpdate is not in the future and nextUpdate not in the past, beyond a clock-skew
   tolerance (a response without nextUpdate is accepted for :data:`MAX_AGE_WITHOUT_NEXT`).

Each failure has its own error (:class:`~zerotls.errors.StapleInvalid`,
:class:`~zerotls.errors.StapleStale`); a valid response that says "revoked" is a
:class:`~zerotls.errors.RevocationError` carrying the reason and time.

:class:`Stapler` is the server side: it keeps the response for our own certificate, from a
file or from the responder (the certificate's authorityInfoAccess URL or a configured one),
validates it with the same function before ever stapling it, refreshes it at half its
validity in a background thread, and serves the last good response until its nextUpdate.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from zerotls._util import format_duration, http_fetch
from zerotls.errors import (
    DecodeError,
    RevocationError,
    StapleInvalid,
    StapleStale,
    TransportError,
)

__all__ = [
    "DEFAULT_SKEW",
    "HASHES",
    "MAX_AGE_WITHOUT_NEXT",
    "OCSPStatus",
    "Stapler",
    "check_ocsp_response",
    "fetch_ocsp_response",
    "issuer_hashes",
    "must_staple",
    "ocsp_url_of",
    "parse_ocsp_response_untrusted",
    "verify_ocsp_response",
]

log = logging.getLogger("zerotls.tls.ocsp")

DEFAULT_SKEW = dt.timedelta(minutes=5)
"""How far thisUpdate may lie in the future, and nextUpdate in the past, before a response is
stale: clocks of servers, responders and clients differ a little."""
MAX_AGE_WITHOUT_NEXT = dt.timedelta(days=1)
"""A response without nextUpdate says "newer information is always available" (RFC 6960
§4.2.2.1); we accept one that is at most this old."""
MAX_RESPONSE_SIZE = 64 * 1024
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class OCSPStatus:
    """A verified OCSP response about one certificate."""

    status: Literal["good", "revoked", "unknown"]
    this_update: dt.datetime
    next_update: dt.datetime | None
    signer: str
    """``"issuer"`` or the subject of the delegated responder certificate."""
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    der: bytes = b""
    """The response itself (what a server staples)."""

    def refresh_at(self) -> dt.datetime:
        """When a holder should fetch a newer one: half-way through its validity."""
        end = self.next_update or (self.this_update + MAX_AGE_WITHOUT_NEXT)
        return self.this_update + (end - self.this_update) / 2

    def usable_until(self, skew: dt.timedelta = DEFAULT_SKEW) -> dt.datetime:
        end = self.next_update or (self.this_update + MAX_AGE_WITHOUT_NEXT)
        return end + skew


HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
"""The CertID hash algorithms an OCSP request may use (RFC 6960 §4.1.1)."""


def _hash(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    return hashlib.new(algorithm.name, data).digest()


def issuer_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """The CertID's issuerNameHash and issuerKeyHash (RFC 6960 §4.1.1) for ``issuer``."""
    return _issuer_hashes(issuer, algorithm.name)


@functools.lru_cache(maxsize=256)  # a handful of issuers, asked about on every staple
def _issuer_hashes(issuer: x509.Certificate, algorithm_name: str) -> tuple[bytes, bytes]:
    algorithm = HASHES[algorithm_name]()
    name_der = issuer.subject.public_bytes()
    key_bits = _public_key_bits(issuer)
    return _hash(algorithm, name_der), _hash(algorithm, key_bits)


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents (not the whole SPKI): what CertID hashes."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return _spki_bit_string(spki)


def _spki_bit_string(spki: bytes) -> bytes:
    """Extract the BIT STRING payload from a DER SubjectPublicKeyInfo (trusted input)."""

    def header(data: bytes, pos: int) -> tuple[int, int]:
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        return pos, length

    body, _ = header(spki, 0)  # SEQUENCE
    alg_body, alg_len = header(spki, body)  # AlgorithmIdentifier
    bits_start, bits_len = header(spki, alg_body + alg_len)  # BIT STRING
    return spki[bits_start + 1 : bits_start + bits_len]  # skip the unused-bits byte


def parse_ocsp_response_untrusted(data: bytes) -> ocsp.OCSPResponse:
    """Parse DER bytes from the network as an OCSP response.

    Raises:
        DecodeError: not an OCSP response (the only error this raises).
    """
    if not data:
        raise DecodeError("empty OCSP response")
    if len(data) > MAX_RESPONSE_SIZE:
        raise DecodeError(f"OCSP response of {len(data)} bytes exceeds {MAX_RESPONSE_SIZE}")
    try:
        return ocsp.load_der_ocsp_response(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise DecodeError(f"not a DER OCSP response: {exc}") from None


@functools.lru_cache(maxsize=1024)
def must_staple(cert: x509.Certificate) -> bool:
    """Whether the certificate carries the TLS Feature status_request (RFC 7633)."""
    try:
        features = cert.extensions.get_extension_for_class(x509.TLSFeature).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return x509.TLSFeatureType.status_request in features


def ocsp_url_of(cert: x509.Certificate) -> str | None:
    """The OCSP responder URL from the certificate's authorityInfoAccess, if any."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    for desc in aia:
        if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            desc.access_location, x509.UniformResourceIdentifier
        ):
            return desc.access_location.value
    return None


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string() or '(empty subject)'} (serial {cert.serial_number:x})"


def verify_ocsp_response(
    data: bytes,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: dt.datetime,
    skew: dt.timedelta = DEFAULT_SKEW,
    what: str = "OCSP response",
) -> OCSPStatus:
    """Check that ``data`` is a fresh response, properly signed, about ``leaf``.

    Returns the status it carries (good, revoked or unknown) without judging it; see
    :func:`check_ocsp_response` for the version that refuses revoked and unknown.

    The time-independent checks (parsing, cert id, signer, signature) of a response that
    passed them are remembered, keyed by its exact bytes and both certificates: a client
    that meets the same staple again pays only the freshness checks, which always run.

    Raises:
        StapleInvalid: malformed, unsuccessful, about another certificate, unauthorized
            signer, or a signature that does not verify.
        StapleStale: thisUpdate in the future or nextUpdate in the past (beyond ``skew``),
            or a delegated signer certificate outside its validity.
    """
    key = (data, leaf, issuer)
    with _CHECKED_LOCK:
        checked = _CHECKED.get(key)
        if checked is not None:
            _CHECKED.move_to_end(key)
    if checked is None:
        checked = _check_static(data, leaf, issuer, what)
        with _CHECKED_LOCK:
            _CHECKED[key] = checked
            if len(_CHECKED) > _CHECKED_MAX:
                _CHECKED.popitem(last=False)
    status, window = checked
    if window is not None and not (window[0] - skew <= now <= window[1] + skew):
        raise StapleStale(
            f"the {what} is signed by the responder certificate {status.signer}, which is not "
            f"valid now (valid {window[0]:{_STAMP}} to {window[1]:{_STAMP}})"
        )
    this_update, next_update = status.this_update, status.next_update
    if this_update > now + skew:
        raise StapleStale(
            f"the {what} for {_describe(leaf)} is from the future (thisUpdate "
            f"{this_update:{_STAMP}}, {format_duration(this_update - now)} ahead): check the "
            "clocks here and at the responder"
        )
    if next_update is not None and next_update < now - skew:
        raise StapleStale(
            f"the {what} for {_describe(leaf)} expired {format_duration(now - next_update)} "
            f"ago (nextUpdate {next_update:{_STAMP}}): the server is stapling an old response; "
            "its responder may be down"
        )
    if next_update is None and this_update < now - MAX_AGE_WITHOUT_NEXT - skew:
        raise StapleStale(
            f"the {what} for {_describe(leaf)} has no nextUpdate and is "
            f"{format_duration(now - this_update)} old (thisUpdate {this_update:{_STAMP}})"
        )
    return status


_Checked = tuple[OCSPStatus, "tuple[dt.datetime, dt.datetime] | None"]
_CHECKED: OrderedDict[tuple[bytes, x509.Certificate, x509.Certificate], _Checked] = OrderedDict()
_CHECKED_LOCK = threading.Lock()
_CHECKED_MAX = 512


def _check_static(
    data: bytes, leaf: x509.Certificate, issuer: x509.Certificate, what: str
) -> _Checked:
    """Everything about a response that does not depend on the time."""
    try:
        resp = parse_ocsp_response_untrusted(data)
    except DecodeError as exc:
        raise StapleInvalid(f"the {what} is malformed ({exc}); the responder is broken") from None
    if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise StapleInvalid(
            f"the {what} carries no status, only the error "
            f"{resp.response_status.name.lower()}: the responder could not answer for "
            f"{_describe(leaf)}"
        )
    single = _matching_single(resp, leaf, issuer, what)
    signer, signer_name = _signer(resp, issuer, what)
    _check_signature(resp, signer, signer_name, what)
    window = None if signer is issuer else (signer.not_valid_before_utc, signer.not_valid_after_utc)
    this_update = single.this_update_utc
    next_update = single.next_update_utc
    status = single.certificate_status
    if status is ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason
        result = OCSPStatus(
            "revoked",
            this_update,
            next_update,
            signer_name,
            revoked_at=single.revocation_time_utc,
            reason=reason.name if reason is not None else "unspecified",
            der=data,
        )
    else:
        kind: Literal["good", "unknown"] = (
            "good" if status is ocsp.OCSPCertStatus.GOOD else "unknown"
        )
        result = OCSPStatus(kind, this_update, next_update, signer_name, der=data)
    return result, window


def check_ocsp_response(
    data: bytes,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: dt.datetime,
    skew: dt.timedelta = DEFAULT_SKEW,
    what: str = "OCSP response",
) -> OCSPStatus:
    """:func:`verify_ocsp_response`, then refuse anything but "good".

    Raises:
        RevocationError: the certificate is revoked (with ``reason`` and ``revoked_at``) or
            unknown to the responder; or any error of :func:`verify_ocsp_response`.
    """
    result = verify_ocsp_response(data, leaf, issuer, now=now, skew=skew, what=what)
    if result.status == "revoked":
        when = result.revoked_at
        raise RevocationError(
            f"{_describe(leaf)} is revoked (reason {result.reason}, since "
            f"{when:{_STAMP}}) according to its {what}; the holder needs a new certificate"
            if when
            else f"{_describe(leaf)} is revoked according to its {what}",
            reason=result.reason,
            revoked_at=when,
        )
    if result.status == "unknown":
        raise RevocationError(
            f"the {what} says the responder does not know {_describe(leaf)}: it was not "
            "issued by this CA, or the responder serves another PKI"
        )
    return result


def _matching_single(
    resp: ocsp.OCSPResponse, leaf: x509.Certificate, issuer: x509.Certificate, what: str
) -> ocsp.OCSPSingleResponse:
    seen: list[str] = []
    for single in resp.responses:
        try:
            algorithm = single.hash_algorithm
        except UnsupportedAlgorithm:
            continue
        if single.serial_number != leaf.serial_number:
            seen.append(f"serial {single.serial_number:x}")
            continue
        if (single.issuer_name_hash, single.issuer_key_hash) != issuer_hashes(issuer, algorithm):
            seen.append(f"serial {single.serial_number:x} of another issuer")
            continue
        return single
    raise StapleInvalid(
        f"the {what} is about another certificate ({', '.join(seen) or 'none'}), not "
        f"{_describe(leaf)} issued by {issuer.subject.rfc4514_string()}: the server staples "
        "the wrong response (stale after a certificate change?)"
    )


def _signer(
    resp: ocsp.OCSPResponse, issuer: x509.Certificate, what: str
) -> tuple[x509.Certificate, str]:
    """The certificate that signed the response, if the issuer authorized it (§4.2.2.2)."""
    if _responder_is(resp, issuer):
        return issuer, "issuer"
    for cert in resp.certificates:
        if not _responder_is(resp, cert):
            continue
        name = cert.subject.rfc4514_string()
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise StapleInvalid(
                f"the {what} is signed by {name}, which the certificate's issuer "
                f"{issuer.subject.rfc4514_string()} did not certify: a forged response"
            ) from None
        try:
            ekus = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            ekus = x509.ExtendedKeyUsage([])
        if ExtendedKeyUsageOID.OCSP_SIGNING not in ekus:
            raise StapleInvalid(
                f"the {what} is signed by {name}, which its issuer did not authorize to sign "
                "OCSP responses (no id-kp-OCSPSigning)"
            )
        return cert, name
    raise StapleInvalid(
        f"the {what} is signed by a responder that is neither the certificate's issuer "
        f"{issuer.subject.rfc4514_string()} nor a responder it certified"
    )


def _responder_is(resp: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    key_hash = resp.responder_key_hash
    if key_hash is not None:
        # RFC 6960 §4.2.1 defines ResponderID's KeyHash as SHA-1: an identifier, not a digest
        # anything is signed over.
        sha1 = hashes.SHA1()  # noqa: S303  # zerotls: ignore[HASH001] RFC 6960 KeyHash
        return key_hash == issuer_hashes(cert, sha1)[1]
    return resp.responder_name == cert.subject


def _check_signature(
    resp: ocsp.OCSPResponse, signer: x509.Certificate, name: str, what: str
) -> None:
    key = signer.public_key()
    data, sig = resp.tbs_response_bytes, resp.signature
    try:
        algorithm = resp.signature_hash_algorithm
        if isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(sig, data, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(sig, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(sig, data)
        else:
            raise StapleInvalid(f"the {what} uses a signature algorithm zerotls does not accept")
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        raise StapleInvalid(
            f"the {what}'s signature does not verify with the key of {name}: the response "
            "was altered or forged"
        ) from None


# -- fetching --------------------------------------------------------------------------------


def ocsp_request(leaf: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """A DER OCSP request for ``leaf`` (SHA-1 CertID, as RFC 5019 §2.1.1 asks; no nonce, so
    responders and caches can answer with a pre-signed response)."""
    sha1 = hashes.SHA1()  # noqa: S303  # zerotls: ignore[HASH001] RFC 5019 CertID hash
    builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, sha1)
    return builder.build().public_bytes(serialization.Encoding.DER)


def fetch_ocsp_response(
    url: str, leaf: x509.Certificate, issuer: x509.Certificate, *, timeout: float = 5.0
) -> bytes:
    """POST an OCSP request for ``leaf`` to ``url`` and return the raw response (unchecked).

    Raises:
        TransportError: the responder is unreachable, slow, or answers with an HTTP error.
    """
    return http_fetch(
        url,
        what="OCSP responder",
        limit=MAX_RESPONSE_SIZE,
        timeout=timeout,
        data=ocsp_request(leaf, issuer),
        content_type="application/ocsp-request",
    )


# -- the server's staple ----------------------------------------------------------------------

Fetcher = Callable[[str, x509.Certificate, x509.Certificate], bytes]


class Stapler:
    """The OCSP response a server staples for its own certificate, kept fresh.

    Args:
        leaf: our certificate.
        issuer: its issuer (from our chain file or the CA bundle).
        url: the responder to ask (None: only ``staple_file``).
        staple_file: a DER response kept up to date by someone else (re-read when it changes).
        clock: wall clock (injected for tests).
        fetch: how to fetch (injected for tests of failure handling; defaults to HTTP).

    :meth:`current` is what the TLS callback calls: it never blocks; when a refresh is due it
    starts one in a background thread (per process: a forked worker starts its own).
    """

    def __init__(
        self,
        leaf: x509.Certificate,
        issuer: x509.Certificate,
        *,
        url: str | None = None,
        staple_file: Path | None = None,
        skew: dt.timedelta = DEFAULT_SKEW,
        clock: Callable[[], float] = time.time,
        fetch: Fetcher | None = None,
    ) -> None:
        self.leaf = leaf
        self.issuer = issuer
        self.url = url
        self.staple_file = staple_file
        self.skew = skew
        self._clock = clock
        self._fetch: Fetcher = fetch or fetch_ocsp_response
        self._lock = threading.Lock()
        self._status: OCSPStatus | None = None
        self._staple = b""
        self._until = 0.0  # serve _staple until this time (nextUpdate + skew)
        self._due = 0.0  # refresh at this time
        self._retry = 10.0
        self._running_in: int | None = None  # pid of the process whose thread is refreshing
        self._file_stamp: tuple[int, int] | None = None
        self.last_error: str | None = None
        """Why the last refresh failed (None after a success)."""

    @property
    def status(self) -> OCSPStatus | None:
        """The response being stapled, if any."""
        return self._status if self._staple else None

    def current(self) -> bytes:
        """The DER response to staple now (``b""`` if none is valid). Never blocks on the
        network: a file is re-checked inline (a stat per second), a responder is asked from a
        background thread."""
        now = self._clock()
        if now >= self._due:
            if self.url is None:
                self._refresh_logged()
            elif self._running_in != os.getpid():
                self._start_refresh()
        if self._staple and now >= self._until:
            with self._lock:
                if self._staple and now >= self._until:
                    log.error(
                        "OCSP staple for %s expired and no fresh one could be obtained (%s); "
                        "stapling nothing",
                        _describe(self.leaf),
                        self.last_error or "no refresh succeeded",
                    )
                    self._staple = b""
        return self._staple

    def refresh(self) -> OCSPStatus:
        """Obtain, validate and install a new response now (blocking).

        Raises:
            ZeroTLSError: it could not be obtained or is not valid (the old one stays).
        """
        try:
            status = self._obtain()
        except Exception as exc:
            self.last_error = str(exc)
            with self._lock:
                if self.url is None:  # a local file: look again in a second, it is cheap
                    self._due = self._clock() + 1.0
                else:  # a responder: back off, 10 s doubling to 5 min
                    self._due = self._clock() + self._retry
                    self._retry = min(self._retry * 2, 300.0)
            raise
        with self._lock:
            self._status = status
            self._staple = status.der
            self._until = status.usable_until(self.skew).timestamp()
            due = status.refresh_at().timestamp()
            self._due = due if self.staple_file is None else min(due, self._clock() + 1.0)
            self._retry = 10.0
            self.last_error = None
        if status.status == "revoked":
            log.error(
                "our certificate %s is REVOKED (reason %s): stapling the response so clients "
                "refuse it honestly; replace the certificate",
                _describe(self.leaf),
                status.reason,
            )
        return status

    def _obtain(self) -> OCSPStatus:
        now = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
        if self.staple_file is not None:
            try:
                st = self.staple_file.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                if stamp == self._file_stamp and self._status is not None:
                    return self._status
                data = self.staple_file.read_bytes()
            except OSError as exc:
                raise TransportError(
                    f"cannot read the OCSP staple file {self.staple_file}: {exc.strerror}"
                ) from None
            what = f"OCSP response in {self.staple_file}"
        elif self.url is not None:
            data = self._fetch(self.url, self.leaf, self.issuer)
            stamp = None
            what = f"OCSP response from {self.url}"
        else:
            raise TransportError("no OCSP source: the certificate names no responder")
        status = verify_ocsp_response(
            data, self.leaf, self.issuer, now=now, skew=self.skew, what=what
        )
        if status.status == "unknown":
            raise StapleInvalid(f"the {what} says the responder does not know our certificate")
        self._file_stamp = stamp
        return status

    def _refresh_logged(self) -> None:
        try:
            self.refresh()
        except Exception as exc:
            log.warning(
                "OCSP staple refresh for %s failed: %s; %s",
                _describe(self.leaf),
                exc,
                "keeping the previous response until its nextUpdate"
                if self._staple
                else "stapling nothing",
            )

    def _start_refresh(self) -> None:
        with self._lock:
            if self._running_in == os.getpid():
                return
            self._running_in = os.getpid()

        def run() -> None:
            try:
                self._refresh_logged()
            finally:
                self._running_in = None

        threading.Thread(target=run, name="zerotls-ocsp-staple", daemon=True).start()
