"""An OCSP responder for the local PKI (RFC 6960, with RFC 5019's lightweight profile).

:class:`OCSPResponder` answers "is serial N of this CA revoked?" with a signed response. It
signs with the issuing CA's key, or with a *delegated responder* certificate (extendedKeyUsage
id-kp-OCSPSigning plus the ocsp-nocheck extension) so the CA key can stay offline. Answers
come from a status function, which for a :class:`~zerotls.pki.store.PKIStore` reads its index,
so a revocation is visible at the next request.

:func:`serve` puts a responder behind HTTP: ``GET /<base64 request>`` and ``POST`` with
``application/ocsp-request``, as RFC 5019 §5 describes, with the caching headers it asks for.
Requests are untrusted: a malformed one gets the ``malformedRequest`` status, a request about
another CA ``unauthorized``; neither ever raises out of the responder.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, OCSPExtensionOID

from zerotls.errors import ConfigError, PKIError
from zerotls.pki.ca import CA, PrivateKey
from zerotls.pki.reasons import parse_reason
from zerotls.tls.ocsp import HASHES as _HASHES
from zerotls.tls.ocsp import issuer_hashes

__all__ = [
    "CertStatus",
    "DEFAULT_VALIDITY",
    "OCSPResponder",
    "OCSPServer",
    "serve",
]

log = logging.getLogger("zerotls.pki.ocsp")

DEFAULT_VALIDITY = dt.timedelta(hours=4)
"""How long a response is valid (nextUpdate - thisUpdate). Servers refresh their staple at half
of it, so a revocation reaches clients within about half this time."""
MAX_REQUEST_SIZE = 10 * 1024
# How much of a refused request body is read (and how long we wait for it) before answering.
_DISCARD_LIMIT = 256 * 1024
_DISCARD_TIMEOUT = 2.0
"""An OCSP request for one certificate is about 100 bytes; anything near this is not one."""
# Backdate thisUpdate slightly: a client whose clock runs a little behind still accepts it.
_BACKDATE = dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CertStatus:
    """What the CA knows of one serial number."""

    status: Literal["good", "revoked", "unknown"]
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    """A ``ReasonFlags`` name such as ``"key_compromise"`` (None: unspecified)."""


StatusFunction = Callable[[int], CertStatus]


class OCSPResponder:
    """Signs OCSP responses for one issuing CA.

    Args:
        issuer: the CA whose certificates this responder speaks for.
        status_of: serial number -> :class:`CertStatus` (a store's index, a dict lookup...).
        signer: a delegated responder ``(certificate, key)`` issued by ``issuer`` with
            id-kp-OCSPSigning; None signs with the CA key itself.
        validity: nextUpdate - thisUpdate of each response.
    """

    def __init__(
        self,
        issuer: CA,
        status_of: StatusFunction,
        *,
        signer: tuple[x509.Certificate, PrivateKey] | None = None,
        validity: dt.timedelta = DEFAULT_VALIDITY,
    ) -> None:
        if validity < dt.timedelta(minutes=1):
            raise ConfigError("OCSP response validity must be at least a minute")
        if signer is not None:
            _check_delegated(signer[0], issuer.cert)
        self.issuer = issuer
        self.status_of = status_of
        self.signer = signer
        self.validity = validity
        self._hashes = {name: issuer_hashes(issuer.cert, alg()) for name, alg in _HASHES.items()}

    @property
    def signer_certificate(self) -> x509.Certificate:
        """The certificate whose key signs the responses."""
        return self.signer[0] if self.signer else self.issuer.cert

    def respond(self, request_der: bytes, *, now: dt.datetime | None = None) -> bytes:
        """Answer one DER OCSPRequest with a DER OCSPResponse; never raises on bad input."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            log.info("malformed OCSP request: %s", exc)
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        ours = self._hashes.get(algorithm.name)
        if ours is None or (request.issuer_name_hash, request.issuer_key_hash) != ours:
            log.info(
                "OCSP request for serial %x of another CA: unauthorized", request.serial_number
            )
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        nonce = None
        for ext in request.extensions:
            if ext.oid == OCSPExtensionOID.NONCE:
                nonce = ext.value.nonce
        try:
            return self.response(request.serial_number, algorithm=algorithm, nonce=nonce, now=now)
        except Exception as exc:  # a status lookup or signing failed: say so, never hang up
            # RFC 6960 §4.2.1: internalError tells the client to try again later; a dropped
            # connection would leave it guessing (and a soft-fail client letting a revoked
            # certificate in).
            log.error(  # noqa: TRY400  # one line: the reason is in the message
                "cannot answer the OCSP request for serial %x: %s: %s; answered internalError",
                request.serial_number,
                type(exc).__name__,
                exc,
            )
            return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)

    def response(
        self,
        serial: int,
        *,
        algorithm: hashes.HashAlgorithm | None = None,
        nonce: bytes | None = None,
        now: dt.datetime | None = None,
    ) -> bytes:
        """A signed response about ``serial`` (DER), e.g. for a staple file."""
        # RFC 5019 §2.1.1: clients send SHA-1 CertIDs (an identifier, not a signature hash).
        algorithm = algorithm or hashes.SHA1()  # noqa: S303  # zerotls: ignore[HASH001] CertID
        name_hash, key_hash = self._hashes[algorithm.name]
        status = self.status_of(serial)
        start = now or dt.datetime.now(dt.UTC)
        cert_status = {
            "good": ocsp.OCSPCertStatus.GOOD,
            "revoked": ocsp.OCSPCertStatus.REVOKED,
            "unknown": ocsp.OCSPCertStatus.UNKNOWN,
        }[status.status]
        reason = None
        if status.status == "revoked" and status.reason:
            reason = _reason_or_none(status.reason, serial)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=cert_status,
            this_update=start - _BACKDATE,
            next_update=start + self.validity,
            revocation_time=status.revoked_at if status.status == "revoked" else None,
            revocation_reason=reason,
        )
        cert, key = self.signer if self.signer else (self.issuer.cert, self.issuer.key)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, cert)
        if self.signer:
            builder = builder.certificates([cert])  # the client needs it to check the chain
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        signed = builder.sign(key, digest)
        return signed.public_bytes(serialization.Encoding.DER)


def _reason_or_none(text: str, serial: int) -> x509.ReasonFlags | None:
    """The reason to encode; an unreadable one still answers "revoked", without a reason."""
    try:
        flag = parse_reason(text, for_revocation=False)
    except ConfigError:
        log.warning(
            "serial %x is revoked with an unknown reason %r: answering revoked without a reason",
            serial,
            text,
        )
        return None
    return None if flag is x509.ReasonFlags.unspecified else flag


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def _check_delegated(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """A delegated responder must be issued by the CA and carry id-kp-OCSPSigning (§4.2.2.2)."""
    if cert.issuer != issuer.subject:
        raise PKIError(
            f"the OCSP signer {cert.subject.rfc4514_string()} is not issued by "
            f"{issuer.subject.rfc4514_string()}; clients would refuse its responses"
        )
    try:
        ekus = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        ekus = x509.ExtendedKeyUsage([])
    if ExtendedKeyUsageOID.OCSP_SIGNING not in ekus:
        raise PKIError(
            "the OCSP signer certificate lacks extendedKeyUsage id-kp-OCSPSigning; issue it "
            "with `zerotls pki ocsp serve --delegated` (done automatically)"
        )


# -- HTTP ----------------------------------------------------------------------------------


class OCSPServer(ThreadingHTTPServer):
    """An HTTP server around one responder (a thread per request; requests are tiny)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], responder: OCSPResponder) -> None:
        self.responder = responder
        self.requests_served = 0
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def count(self) -> None:
        with self._lock:
            self.requests_served += 1


class _Handler(BaseHTTPRequestHandler):
    server: OCSPServer
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds a client may take to send its request: a silent one is dropped
    server_version = "zerotls-ocsp"
    sys_version = ""

    def version_string(self) -> str:
        return "zerotls-ocsp"

    def do_GET(self) -> None:
        # RFC 5019 §5: GET {url}/{url-encoding of base64 of the DER request}
        encoded = urllib.parse.unquote(self.path.rsplit("/", 1)[-1])
        if len(encoded) > MAX_REQUEST_SIZE * 2:
            self._plain(HTTPStatus.REQUEST_URI_TOO_LONG, "request too long")
            return
        try:
            der = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            der = b""
        self._answer(der)

    def do_POST(self) -> None:
        ctype = self.headers.get("Content-Type", "")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._discard_chunked()
            self._plain(
                HTTPStatus.LENGTH_REQUIRED,
                "send the OCSP request with a Content-Length (RFC 5019 §5); chunked request "
                "bodies are not accepted",
            )
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length < 0:
            self._plain(
                HTTPStatus.LENGTH_REQUIRED, "send the OCSP request with a valid Content-Length"
            )
            self.close_connection = True
            return
        if length > MAX_REQUEST_SIZE:
            self._discard(length)
            self._plain(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"an OCSP request is under 10 KiB; this one says {length} bytes",
            )
            self.close_connection = True
            return
        body = self.rfile.read(length)
        if ctype.split(";")[0].strip().lower() != "application/ocsp-request":
            self._plain(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/ocsp-request")
            return
        self._answer(body)

    def _discard(self, length: int) -> None:
        """Read (a bounded part of) a body we refuse, so the client reads our answer.

        Closing with unread bytes in the kernel's buffer makes it send a reset, and a client still
        sending its body then sees a broken pipe instead of the status that says what to fix.
        """
        self.connection.settimeout(_DISCARD_TIMEOUT)
        try:
            remaining = min(length, _DISCARD_LIMIT)
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    return
                remaining -= len(chunk)
        except OSError:
            return

    def _discard_chunked(self) -> None:
        """Read a chunked body we refuse up to its last chunk (bounded in bytes and time)."""
        self.connection.settimeout(_DISCARD_TIMEOUT)
        budget = _DISCARD_LIMIT
        try:
            while budget > 0:
                line = self.rfile.readline(64)
                size = int(line.split(b";", 1)[0].strip() or b"x", 16)
                if size == 0:
                    self.rfile.readline(1024)  # the final CRLF (no trailers expected)
                    return
                if size > budget:
                    return
                self.rfile.read(size + 2)
                budget -= size
        except (OSError, ValueError):
            return

    def _answer(self, der: bytes) -> None:
        self.server.count()
        body = self.server.responder.respond(der)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(body)))
        parsed = ocsp.load_der_ocsp_response(body)
        if parsed.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
            # RFC 5019 §6.2: let HTTP caches keep the response until nextUpdate.
            this_update, next_update = parsed.this_update_utc, parsed.next_update_utc
            now = dt.datetime.now(dt.UTC)
            if next_update is not None and not parsed.extensions:  # nonce: not cacheable
                max_age = max(0, int((next_update - now).total_seconds()))
                self.send_header(
                    "Cache-Control", f"max-age={max_age}, public, no-transform, must-revalidate"
                )
                self.send_header("Expires", _http_date(next_update))
            self.send_header("Last-Modified", _http_date(this_update))
            self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()[:32]}"')
        self.end_headers()
        self.wfile.write(body)

    def _plain(self, status: HTTPStatus, text: str) -> None:
        data = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def _http_date(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def serve(responder: OCSPResponder, host: str = "127.0.0.1", port: int = 0) -> OCSPServer:
    """Bind an :class:`OCSPServer` (call ``serve_forever()``; ``port=0`` picks a free port)."""
    try:
        return OCSPServer((host, port), responder)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} for OCSP: {exc.strerror}") from None
