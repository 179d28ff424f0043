"""The sans-IO TLS engine: bytes in, bytes out, events.

Theory of operation
-------------------
A :class:`TLSConnection` wraps one pyOpenSSL ``Connection`` over a pair of memory BIOs. It owns
no socket and reads no clock. The I/O layer (``aio``, ``sync``, the tunnel) does four things:

1. feed what arrived from the network to :meth:`TLSConnection.receive_data` (``b""`` for EOF)
   and act on the events it returns: :class:`HandshakeCompleted`, :class:`DataReceived`,
   :class:`ConnectionClosed`;
2. encrypt with :meth:`send` and close with :meth:`close`;
3. after *every* call, write out :meth:`data_to_send`;
4. when a call raises, still write out :meth:`data_to_send` (it holds the TLS alert that tells
   the peer why it was refused), half-close, then close. A refused peer never sees a silent
   close (asyncio's own SSL transport drops that alert: CPython gh-98078).

Certificate chain, hostname (SAN only), SPKI pins, the expected workload identity and expiry
are all checked *inside* the handshake (OpenSSL's verification plus our verify callback), so a
peer that fails any of them gets an alert and never application data.

Failure is sticky: once a call raised, every later call raises the same error (a broken TLS
stream stays broken; nothing may be read or written after a failed MAC or a refused peer).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from OpenSSL import SSL
from OpenSSL._util import ffi as _ffi
from OpenSSL._util import lib as _lib

from zerotls._util import format_duration
from zerotls._wire.alerts import AlertDescription, alert_advice
from zerotls._wire.suites import config_group_name
from zerotls.errors import (
    ConnectionBroken,
    LocalProtocolError,
    PinMismatch,
    PolicyDenied,
    RemoteProtocolError,
    RevocationError,
    StapleInvalid,
    StapleMissing,
    TLSAlert,
    VerificationError,
    ZeroTLSError,
)
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.context import PEER_CHECKS
from zerotls.tls.identity import Identity

if TYPE_CHECKING:
    from zerotls.tls.context import TLSContext
    from zerotls.tls.ocsp import Stapler
    from zerotls.tls.revocation import RevocationChecker, Verdict

__all__ = [
    "ConnectionClosed",
    "DataReceived",
    "Event",
    "HandshakeCompleted",
    "Negotiated",
    "State",
    "TLSConnection",
]

_READ_SIZE = 65536  # plaintext read chunk: below glibc's mmap threshold, so cheap to allocate
_alloc = _ffi.new_allocator(should_clear_after_alloc=False)  # buffers we overwrite at once


@dataclass(frozen=True, slots=True)
class HandshakeCompleted:
    """The handshake finished and the peer passed every check."""

    identity: Identity | None
    """The peer's verified identity (None only for a server that does not require one and a
    client that sent no certificate)."""
    tls_version: str
    """``"TLSv1.3"`` or ``"TLSv1.2"``."""
    cipher: str
    """The negotiated cipher suite, e.g. ``"TLS_AES_256_GCM_SHA384"``."""
    group: str | None
    """The key-exchange group, e.g. ``"X25519MLKEM768"``."""
    alpn: str | None
    """The negotiated ALPN protocol, if any."""
    resumed: bool
    """Whether a session ticket was used (TLS 1.3: still with a fresh ECDHE exchange; TLS 1.2:
    an abbreviated handshake without one, so ``group`` is None)."""
    revocation: str | None = None
    """How the peer's revocation status was established (``"ocsp good (stapled, signed by
    issuer)"``, ``"crl good (file ca.crl)"``, ``"not stapled"``, ``"unknown, soft-fail:
    ..."``); None when nothing was checked."""


@dataclass(frozen=True, slots=True)
class DataReceived:
    """Decrypted application data."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its side cleanly with close_notify (not a mere EOF)."""


Event = HandshakeCompleted | DataReceived | ConnectionClosed

Authorizer = Callable[[Identity], "ZeroTLSError | None"]
"""Called inside the handshake with the peer's verified identity; return an error to refuse
(a :class:`~zerotls.errors.PolicyDenied` is sent as ``certificate_unknown``)."""


class Negotiated:
    """What a completed handshake established, as properties (shared by the stream types)."""

    handshake: HandshakeCompleted

    @property
    def identity(self) -> Identity | None:
        """The peer's verified identity (None only for a certificate-less client that the
        server allowed)."""
        return self.handshake.identity

    @property
    def tls_version(self) -> str:
        return self.handshake.tls_version

    @property
    def cipher(self) -> str:
        return self.handshake.cipher

    @property
    def group(self) -> str | None:
        return self.handshake.group

    @property
    def alpn(self) -> str | None:
        return self.handshake.alpn

    @property
    def revocation(self) -> str | None:
        """How the peer's revocation status was established (see
        :attr:`HandshakeCompleted.revocation`)."""
        return self.handshake.revocation


class State(enum.Enum):
    """Where the connection is. Transitions only go forward."""

    HANDSHAKING = "handshaking"
    OPEN = "open"  # at least one direction is still open (TLS 1.3 half-close)
    CLOSED = "closed"  # close_notify sent and received
    FAILED = "failed"


class _PeerCheck:
    """Per-connection state the verify callback writes into (no reference back to us)."""

    __slots__ = (
        "__weakref__",
        "authorize",
        "checker",
        "config",
        "failure",
        "issuer",
        "leaf_checks",
        "now",
        "revocation",
        "seen_pins",
        "stapler",
        "verdict",
    )

    def __init__(
        self,
        config: ClientConfig | ServerConfig,
        authorize: Authorizer | None,
        stapler: Stapler | None = None,
        checker: RevocationChecker | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.now = now
        """Epoch seconds now (the context's wall clock): staples are judged at it."""
        self.authorize = authorize
        self.stapler = stapler
        self.checker = checker
        """Judges the peer's revocation status from CRLs/OCSP (None: not configured)."""
        self.issuer: x509.Certificate | None = None
        """The leaf's issuer, recorded by the verify callback when ``checker`` needs it."""
        self.seen_pins: set[str] = set()
        self.failure: ZeroTLSError | None = None
        self.revocation: str | None = None
        self.verdict: Verdict | None = None
        """The checker's verdict on the peer (CRLs, OCSP queries), when it ran."""
        self.leaf_checks = (
            bool(config.pins)
            or authorize is not None
            or checker is not None
            or (
                config.expect_identity is not None
                if isinstance(config, ClientConfig)
                else bool(config.allowed_identities)
            )
        )

    @property
    def refusal_code(self) -> int:
        """The X.509 error that picks the alert for a refusal made at the leaf."""
        if isinstance(self.failure, RevocationError) and self.failure.reason is not None:
            self.failure.alert_sent = "certificate_revoked"
            return int(_lib.X509_V_ERR_CERT_REVOKED)
        if isinstance(self.failure, PolicyDenied | RevocationError):
            # OpenSSL cannot send access_denied from inside the handshake; an X.509 error
            # outside its alert table yields certificate_unknown, the closest it can say for
            # a policy denial or an unknown revocation status.
            self.failure.alert_sent = "certificate_unknown"
            return int(_lib.X509_V_ERR_NO_EXPLICIT_POLICY)
        if self.failure is not None:
            self.failure.alert_sent = "bad_certificate"
        return int(_lib.X509_V_ERR_CERT_REJECTED)

    def check_staple(self, ssl_ptr: Any) -> bool:
        """Client side: judge the server's stapled OCSP response (see ``tls/ocsp.py``)."""
        from zerotls.tls.context import verified_chain
        from zerotls.tls.ocsp import check_ocsp_response, must_staple

        cfg = self.config
        assert isinstance(cfg, ClientConfig)  # noqa: S101 - servers never call this
        chain = verified_chain(ssl_ptr)
        if not chain:
            return True  # resumed: no certificate, nothing to judge
        leaf = chain[0]
        required = cfg.ocsp == "require" or must_staple(leaf)
        out = _ffi.new("unsigned char **")
        size = _lib.SSL_get_tlsext_status_ocsp_resp(ssl_ptr, out)
        data = _ffi.buffer(out[0], size)[:] if size > 0 and out[0] != _ffi.NULL else b""
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

    def record_chain_error(self, errno: int, depth: int, cert: x509.Certificate) -> None:
        if self.failure is None:
            self.failure = _chain_error(self.config, errno, depth, cert)

    def check_leaf(self, leaf: x509.Certificate) -> bool:
        cfg = self.config
        peer = "server" if isinstance(cfg, ClientConfig) else "client"
        if self.checker is not None:
            try:
                self.verdict = self.checker.check(leaf, self.issuer)
                self.revocation = self.verdict.detail
            except RevocationError as exc:
                self.failure = exc
                return False
        if isinstance(cfg, ClientConfig) and cfg.expect_identity is not None:
            identity = _identity_of(leaf)
            if identity.spiffe_id != cfg.expect_identity:
                self.failure = VerificationError(
                    f"{peer} identity mismatch: expected {cfg.expect_identity}, the certificate "
                    f"carries {_describe(identity)}; check expect_identity or the server's "
                    "certificate"
                )
                return False
        if isinstance(cfg, ServerConfig) and cfg.allowed_identities:
            identity = Identity.from_certificate(leaf)
            if identity.spiffe_id not in cfg.allowed_identities:
                self.failure = VerificationError(
                    f"client identity {_describe(identity)} is not in allowed_identities "
                    f"({', '.join(sorted(cfg.allowed_identities))})"
                )
                return False
        if cfg.pins and not (self.seen_pins & cfg.pins):
            leaf_pin = Identity.from_certificate(leaf).spki_pin
            self.failure = PinMismatch(
                f"{peer} public key is not pinned: its chain is valid but no certificate in it "
                f"matches the {len(cfg.pins)} configured pin(s); the {peer}'s key pin is "
                f"sha256/{leaf_pin}. If the key was rotated on purpose, add the new pin "
                "(`zerotls pki pin CERT`); otherwise this may be an impersonation"
            )
            return False
        if self.authorize is not None:
            refusal = self.authorize(_identity_of(leaf))
            if refusal is not None:
                self.failure = refusal
                return False
        return True


# Certificates hash and compare by their DER bytes, so the same client reconnecting costs one
# dict lookup instead of parsing its extensions again. Bounded: an identity is small.
_identity_of = functools.lru_cache(maxsize=4096)(Identity.from_certificate)


def _describe(identity: Identity) -> str:
    parts = list(identity.uris) + [f"DNS:{d}" for d in identity.dns_names]
    parts += [f"IP:{ip}" for ip in identity.ip_addresses]
    return ", ".join(parts) if parts else f"no SANs (subject {identity.subject})"


def _ago(moment: dt.datetime) -> str:
    """ "3 h ago" or "in 5 min", for messages (reads the wall clock: messages only)."""
    delta = dt.datetime.now(dt.UTC) - moment
    text = format_duration(delta)
    return f"{text} ago" if delta.total_seconds() >= 0 else f"in {text}"


def _chain_error(
    cfg: ClientConfig | ServerConfig, errno: int, depth: int, cert: x509.Certificate
) -> VerificationError:
    """The error for an OpenSSL chain-verification failure, with the alert OpenSSL sent."""
    error = _chain_error_message(cfg, errno, depth, cert)
    error.alert_sent = _CHAIN_ALERTS.get(errno, "bad_certificate")
    return error


# What OpenSSL sends for the verification errors we explain (its x509 error -> alert table).
_CHAIN_ALERTS = {
    _lib.X509_V_ERR_CERT_HAS_EXPIRED: "certificate_expired",
    _lib.X509_V_ERR_CRL_HAS_EXPIRED: "certificate_expired",
    _lib.X509_V_ERR_CERT_REVOKED: "certificate_revoked",
    _lib.X509_V_ERR_UNABLE_TO_GET_CRL: "unknown_ca",
    _lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown_ca",
    _lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: "unknown_ca",
    _lib.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: "unknown_ca",
    _lib.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: "unknown_ca",
    _lib.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unknown_ca",
    _lib.X509_V_ERR_INVALID_PURPOSE: "unsupported_certificate",
}


def _sent(error: ZeroTLSError, alert: str) -> ZeroTLSError:
    error.alert_sent = alert
    return error


def _chain_error_message(
    cfg: ClientConfig | ServerConfig, errno: int, depth: int, cert: x509.Certificate
) -> VerificationError:
    from zerotls.tls.context import x509_error_text

    peer = "server" if isinstance(cfg, ClientConfig) else "client"
    which = f"{peer} certificate" if depth == 0 else f"{peer} chain certificate at depth {depth}"
    subject = cert.subject.rfc4514_string() or "(empty subject)"
    stamp = "%Y-%m-%dT%H:%MZ"
    if errno == _lib.X509_V_ERR_CERT_HAS_EXPIRED:
        na = cert.not_valid_after_utc
        return VerificationError(
            f"{which} {subject} expired {_ago(na)} (notAfter {na.strftime(stamp)}); "
            "renew it (`zerotls pki issue`) and check the clocks"
        )
    if errno == _lib.X509_V_ERR_CERT_NOT_YET_VALID:
        nb = cert.not_valid_before_utc
        return VerificationError(
            f"{which} {subject} is not valid yet (notBefore {nb.strftime(stamp)}, "
            f"{_ago(nb)}); check the clock of this machine and of the issuer"
        )
    if errno in (_lib.X509_V_ERR_HOSTNAME_MISMATCH, _lib.X509_V_ERR_IP_ADDRESS_MISMATCH):
        identity = Identity.from_certificate(cert)
        name = cfg.server_name if isinstance(cfg, ClientConfig) else "?"
        return VerificationError(
            f"{which} is not valid for {name!r}: it names {_describe(identity)} (names are "
            "checked against the SANs only, never the CN); connect with a name the "
            "certificate carries, or reissue it with that name"
        )
    if errno in (
        _lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        _lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
        _lib.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
        _lib.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
        _lib.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
        _lib.X509_V_ERR_CERT_UNTRUSTED,
    ):
        trust = str(cfg.ca) if cfg.ca else "the system trust store"
        return VerificationError(
            f"{which} {subject} (issuer {cert.issuer.rfc4514_string()}) is not issued by a CA "
            f"in {trust}: the {peer} belongs to another PKI or sent an incomplete chain"
        )
    if errno == _lib.X509_V_ERR_CERT_REVOKED:
        return RevocationError(
            f"{which} {subject} (serial {cert.serial_number:x}) is revoked by its CA's CRL; "
            "the holder needs a new certificate"
        )
    if errno in (_lib.X509_V_ERR_UNABLE_TO_GET_CRL, _lib.X509_V_ERR_CRL_HAS_EXPIRED):
        return RevocationError(
            f"revocation status of {which} {subject} is unknown: "
            f"{x509_error_text(errno)}; refresh the CRL files (`zerotls pki crl`)"
        )
    if errno == _lib.X509_V_ERR_INVALID_PURPOSE:
        need = "serverAuth" if peer == "server" else "clientAuth"
        return VerificationError(
            f"{which} {subject} is not allowed for TLS {peer} use (extendedKeyUsage lacks "
            f"{need}); reissue it with --{peer}"
        )
    return VerificationError(f"{which} {subject} failed verification: {x509_error_text(errno)}")


# OpenSSL words a received alert "sslv3 alert bad certificate", "tlsv13 alert certificate
# required", and for the newer alerts without "alert": "tlsv1 bad certificate status response".
_ALERT_RE = re.compile(r"(?:sslv3|tlsv1|tlsv13|tls) alert (.+)")
_ALERT_BARE_RE = re.compile(r"^tlsv1 (.+)")


class TLSConnection:
    """One TLS connection, sans-IO. Create it with :meth:`TLSContext.connection`.

    Over a datagram context (DTLS) it is the engine inside a
    :class:`~zerotls.dtls.connection.DTLSConnection`, which owns the datagram side (packing,
    timers); use that class, not this one, for DTLS.

    Args:
        context: the role and settings.
        authorize: the hook called inside the handshake with the verified identity.
        ssl: an OpenSSL connection that already read its ClientHello (a DTLS listener's);
            continue it with :meth:`advance`.
        mtu: datagrams only: the largest datagram, which OpenSSL sizes records to.
    """

    def __init__(
        self,
        context: TLSContext,
        *,
        authorize: Authorizer | None = None,
        ssl: SSL.Connection | None = None,
        mtu: int | None = None,
    ) -> None:
        self.context = context
        # Answer non-TLS first bytes with a plaintext TLS alert (not for DTLS: another format).
        self._plaintext_alerts = not context.datagram
        # One DataReceived per record (DTLS: a datagram message keeps its boundaries) instead
        # of one per read of the stream.
        self._record_per_event = context.datagram
        self.config = context.config
        self.our_role = "server" if context.is_server else "client"
        self.state = State.HANDSHAKING
        self._error: ZeroTLSError | None = None
        self._check = _PeerCheck(
            self.config, authorize, context.stapler, context.revocation, now=context.wall_clock
        )
        adopted = ssl is not None  # a server connection that already read a ClientHello
        self._ssl = ssl if ssl is not None else SSL.Connection(context.ssl_context, None)
        # OpenSSL's chain verification would read the system clock; it reads ours instead, so
        # the chain, the staple and the CRLs are all judged at the same moment.
        _lib.X509_VERIFY_PARAM_set_time(
            _lib.SSL_get0_param(self._ssl._ssl), int(context.wall_clock())
        )
        PEER_CHECKS[int(_ffi.cast("uintptr_t", self._ssl._ssl))] = self._check
        self.handshake: HandshakeCompleted | None = None
        self.peer_closed = False
        """The peer sent close_notify: it will send nothing more (we still may)."""
        self.local_closed = False
        """We sent close_notify: we may send nothing more (the peer still may)."""
        self._sent_any = False
        self._extra_out = b""
        self._ticket_base: SSL.Session | None = None  # clients: the session tickets replace
        self._tickets_kept = 0
        if mtu is not None:
            self._ssl.set_ciphertext_mtu(mtu)  # records and handshake fragments fit a datagram
        cfg = self.config
        if adopted:
            return
        if isinstance(cfg, ClientConfig):
            if cfg.server_name and not cfg.server_name_is_ip:
                self._ssl.set_tlsext_host_name(cfg.server_name.encode("idna"))  # SNI
            if cfg.ocsp != "off":  # ask for the server's staple (status_request)
                _lib.SSL_set_tlsext_status_type(self._ssl._ssl, _lib.TLSEXT_STATUSTYPE_ocsp)
            if cfg.session_resumption and not context.datagram:
                session = context.take_session()
                if session is not None:
                    self._ssl.set_session(session)
            self._ssl.set_connect_state()
            self._do_handshake()  # queue the ClientHello
        else:
            self._ssl.set_accept_state()

    def advance(self) -> HandshakeCompleted | None:
        """Continue the handshake on what the connection already holds (a server connection
        adopted from a DTLS listener, which read the ClientHello): its first flight is then
        in :meth:`data_to_send`.

        Raises:
            ZeroTLSError: the handshake failed at once (its alert is in :meth:`data_to_send`).
        """
        return self._do_handshake() if self.state is State.HANDSHAKING else None

    @property
    def cleartext_mtu(self) -> int:
        """Datagrams only: the largest message one record (one datagram) can carry."""
        return int(self._ssl.get_cleartext_mtu())

    # -- inputs -------------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes from the network (``b""`` means the peer closed the transport).

        Returns:
            The events these bytes produced, in order.

        Raises:
            ZeroTLSError: the handshake or the stream failed (see the errors module); write
                out :meth:`data_to_send` before closing, it holds our alert.
        """
        self._raise_if_failed()
        if self.peer_closed:
            return []  # after close_notify nothing the peer sends is authenticated data
        if data:
            self._ssl.bio_write(data)
        else:
            self._ssl.bio_shutdown()
        events: list[Event] = []
        if self.state is State.HANDSHAKING:
            done = self._do_handshake()
            if done is None:
                if not data:
                    self._fail(
                        ConnectionBroken(
                            "the peer closed the connection during the handshake: it may not "
                            "speak TLS on this port, or it refused us without an alert"
                        )
                    )
                return events
            events.append(done)
        self._read_into(events)
        if self._ticket_base is not None:
            self._keep_new_ticket()
        return events

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt application data; then write out :meth:`data_to_send`.

        Raises:
            LocalProtocolError: the handshake has not completed, or we already closed.
        """
        self._raise_if_failed()
        if self.state is State.HANDSHAKING:
            raise LocalProtocolError("cannot send application data before the handshake")
        if self.local_closed:
            raise LocalProtocolError("cannot send after close(): close_notify was sent")
        if not data:
            return
        # One SSL_write for the whole buffer (partial writes are off, see the context), no
        # per-record Python round trip; the memory BIO takes everything.
        ssl = self._ssl._ssl
        view = _ffi.from_buffer(data)
        total, done = len(data), 0
        while done < total:
            n = _lib.SSL_write(ssl, view + done, total - done)
            if n <= 0:
                try:
                    self._ssl._raise_ssl_error(ssl, n)
                except SSL.Error as exc:
                    self._fail(self._translate(exc))
                raise LocalProtocolError("SSL_write made no progress")  # pragma: no cover
            done += n

    def close(self) -> None:
        """Send close_notify (idempotent). Write out :meth:`data_to_send` afterwards.

        In TLS 1.3 this closes our direction only: data from the peer may still arrive
        (RFC 8446 §6.1) until it closes too.
        """
        if self.state is State.FAILED or self.local_closed:
            return
        self.local_closed = True
        if self.state is State.OPEN:
            with contextlib.suppress(SSL.Error):  # a peer already gone needs no goodbye
                self._ssl.shutdown()
        if self.peer_closed or self.state is State.HANDSHAKING:
            self.state = State.CLOSED

    def abort(self, error: ZeroTLSError) -> None:
        """Mark the connection failed from the outside (timeout, transport error)."""
        if self._error is None:
            self._error = error
            self.state = State.FAILED

    # -- outputs ------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Drain everything queued for the network (also after a failure: the alert)."""
        # Ask the memory BIO how much it holds and read exactly that: one C call, no
        # exception to end the loop (BIO_CTRL_INFO with a NULL pointer returns the length).
        pending = _lib.BIO_get_mem_data(self._ssl._from_ssl, _ffi.NULL)
        if pending <= 0:
            extra, self._extra_out = self._extra_out, b""
            return extra
        self._sent_any = True
        if pending > _WRITE_BUFFER_SIZE:
            buf = _alloc("char[]", pending)  # rare: more than a megabyte queued
            got = _lib.BIO_read(self._ssl._from_ssl, buf, pending)
            return _ffi.buffer(buf, got)[:] if got > 0 else b""
        scratch, ptr = _write_buffer()  # reused: the bytes() below is the only allocation
        got = _lib.BIO_read(self._ssl._from_ssl, ptr, pending)
        return bytes(scratch[:got]) if got > 0 else b""

    @property
    def resumed(self) -> bool:
        """Whether the handshake resumed a session (a ticket) rather than running in full."""
        return bool(_lib.SSL_session_reused(self._ssl._ssl))

    @property
    def server_name(self) -> str | None:
        """The SNI name: the one the client sent (server side) or asked for (client side)."""
        name = self._ssl.get_servername()
        # SNI carries A-labels (RFC 6066 §3): ASCII; anything else is shown, never trusted.
        return name.decode("ascii", "replace") if name else None

    @property
    def revocation(self) -> str | None:
        """How the peer's revocation status was established (e.g. ``"ocsp good (stapled,
        signed by issuer)"``, ``"not stapled"``), for logs and audit events; None: not checked."""
        return self._check.revocation

    @property
    def resumed_identity(self) -> Identity | None:
        """On a resumed session: the identity of the certificate the ticket remembers (it was
        verified when the ticket was issued), even when the re-check refused it now."""
        if not self.resumed:
            return None
        leaf = self._ssl.get_peer_certificate(as_cryptography=True)
        return _identity_of(leaf) if leaf is not None else None

    @property
    def revocation_verdict(self) -> Verdict | None:
        """The CRL/OCSP checker's verdict on the peer (None: the checker did not run), for
        decisions that depend on it, such as a route's hard revocation rule."""
        return self._check.verdict

    @property
    def alpn_protocol(self) -> str | None:
        """The ALPN protocol agreed on, if any."""
        proto = self._ssl.get_alpn_proto_negotiated()
        return proto.decode("ascii", "replace") if proto else None

    @property
    def error(self) -> ZeroTLSError | None:
        """The error that broke the connection, if any."""
        return self._error

    @property
    def identity(self) -> Identity | None:
        """The peer's verified identity, once the handshake has completed."""
        return self.handshake.identity if self.handshake else None

    # -- internals ----------------------------------------------------------------------------

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise ConnectionBroken(
                f"connection already failed and cannot be used: {self._error}"
            ) from self._error

    def _fail(self, error: ZeroTLSError) -> None:
        self._error = error
        if (
            self._plaintext_alerts
            and self.our_role == "server"
            and self.state is State.HANDSHAKING
            and not self._sent_any
            and _lib.BIO_get_mem_data(self._ssl._from_ssl, _ffi.NULL) <= 0
        ):
            # OpenSSL stays silent when the first bytes are not TLS at all (plaintext HTTP,
            # garbage): it cannot know the peer would understand an alert. Nothing has been
            # encrypted yet, so a plaintext fatal alert is valid TLS (RFC 8446 §6), and it
            # tells a confused client, or a human with a packet capture, what happened.
            self._extra_out = _plaintext_alert(AlertDescription.unexpected_message)
        self.state = State.FAILED
        raise error

    def _do_handshake(self) -> HandshakeCompleted | None:
        try:
            self._ssl.do_handshake()
        except SSL.WantReadError:
            return None
        except SSL.Error as exc:
            self._fail(self._translate(exc))
        handshake = self._completed()
        if handshake.resumed and self._check.leaf_checks:
            self._recheck_resumed()
        self.state = State.OPEN
        self.handshake = handshake
        cfg = self.config
        if isinstance(cfg, ClientConfig) and cfg.session_resumption and not self.context.datagram:
            session = self._ssl.get_session()
            if session is not None and handshake.tls_version != "TLSv1.3":
                self.context.keep_session(session)  # TLS 1.2: resumable as it stands
            else:
                # TLS 1.3 tickets arrive after the handshake, each as a new session object.
                self._ticket_base = session
        return handshake

    def _keep_new_ticket(self) -> None:
        """Clients, TLS 1.3: keep the sessions that NewSessionTicket messages created (two at
        most per connection; OpenSSL servers send two)."""
        base = self._ticket_base
        current = _lib.SSL_get_session(self._ssl._ssl)
        if base is None or current in (_ffi.NULL, base._session):
            return
        session = self._ssl.get_session()
        if session is None:  # pragma: no cover
            return
        self.context.keep_session(session)
        self._tickets_kept += 1
        self._ticket_base = session if self._tickets_kept < 2 else None

    def _recheck_resumed(self) -> None:
        """A resumed session skips certificate verification, and so our verify callback: the
        certificate comes from the ticket. Pins, identity and policy may have changed since
        the ticket was issued, so they are checked again on the remembered certificate. A
        refusal here comes after the handshake, so the peer sees the connection close."""
        leaf = self._ssl.get_peer_certificate(as_cryptography=True)
        if leaf is None:
            return
        check = self._check
        check.seen_pins.add(_identity_of(leaf).spki_pin)
        chain = self._ssl.get_peer_cert_chain(as_cryptography=True) or []
        for cert in chain:
            check.seen_pins.add(_identity_of(cert).spki_pin)
        if check.checker is not None:  # the CRL may have changed since the ticket was issued
            check.issuer = next(
                (c for c in [*chain, *self.context.anchors] if c.subject == leaf.issuer), None
            )
        if not check.check_leaf(leaf):
            self._fail(
                check.failure
                or VerificationError("the resumed session's certificate is no longer accepted")
            )

    def _advice_for(self, alert: AlertDescription | None) -> str:
        """What a refusal by the peer most likely means, with what we know of our side.

        The peer's alert names a category; which member of it applies is often clear from
        here: a certificate of ours that is not valid yet, a TLS 1.2 server that chose its
        parameters (so they were in common) and then refused a client without a certificate.
        """
        if alert is None:
            return "the peer aborted the connection"
        ours = self.context.certificate
        now = dt.datetime.fromtimestamp(self.context.wall_clock(), dt.UTC)
        certificate_alerts = (
            AlertDescription.bad_certificate,
            AlertDescription.certificate_unknown,
        )
        if alert in certificate_alerts and ours is not None and ours.not_valid_before_utc > now:
            start = f"{ours.not_valid_before_utc:%Y-%m-%d %H:%M}Z"
            return (
                f"our certificate is not valid until {start} (its notBefore): the peer "
                "refused it as not yet valid; check the clocks of both machines, or reissue it"
            )
        if alert is AlertDescription.handshake_failure and self._ssl.get_cipher_name():
            # A ServerHello came (a suite was chosen), so parameters were in common: TLS 1.2
            # servers send handshake_failure when a required client certificate is missing.
            if ours is None:
                return (
                    "the peer asked for a client certificate (CertificateRequest) and we have "
                    "none: set cert and key (issue one with `zerotls pki issue NAME --client`)"
                )
            return (
                "the peer refused our client certificate (TLS 1.2 says handshake_failure for "
                "that): check that it trusts our CA and accepts our identity"
            )
        return alert_advice(alert)

    def _completed(self) -> HandshakeCompleted:
        ssl = self._ssl
        peer = ssl.get_peer_certificate(as_cryptography=True)
        alpn = ssl.get_alpn_proto_negotiated()
        resumed = bool(_lib.SSL_session_reused(ssl._ssl))
        version = ssl.get_protocol_version_name()
        return HandshakeCompleted(
            identity=_identity_of(peer) if peer is not None else None,
            tls_version=version,
            cipher=ssl.get_cipher_name() or "",
            # An abbreviated TLS 1.2 handshake has no key exchange: no group to report.
            group=None
            if resumed and version != "TLSv1.3"
            else _canonical_group(ssl.get_group_name()),
            alpn=alpn.decode("ascii", "replace") if alpn else None,
            resumed=resumed,
            revocation=self._check.revocation,
        )

    def _read_into(self, events: list[Event]) -> None:
        # SSL_read returns one record (at most 16 KiB) per call. Decrypt them straight into
        # one reusable per-thread buffer and copy out once, instead of one allocation, one
        # bytes object and one Python exception per record.
        ssl = self._ssl._ssl
        buf, ptr = _read_buffer()
        view = memoryview(buf)  # slices of a view copy once (bytes()), not twice
        cap = len(buf)
        chunks: list[bytes] = []
        used = 0
        closed = False
        while True:
            n = _lib.SSL_read(ssl, ptr + used, cap - used)
            if n > 0:
                if self._record_per_event:
                    events.append(DataReceived(bytes(view[:n])))
                    continue
                used += n
                if used == cap:
                    chunks.append(bytes(buf))
                    used = 0
                continue
            err = _lib.SSL_get_error(ssl, n)
            if err == _lib.SSL_ERROR_WANT_READ:
                break
            if err == _lib.SSL_ERROR_ZERO_RETURN:
                closed = True
                break
            if used:
                chunks.append(bytes(view[:used]))
                used = 0
            if chunks:
                events.append(DataReceived(b"".join(chunks)))
            try:
                self._ssl._raise_ssl_error(ssl, n)
            except SSL.Error as exc:
                self._fail(self._translate(exc))
            raise ConnectionBroken("SSL_read failed without an error")  # pragma: no cover
        if used:
            chunks.append(bytes(view[:used]))
        if chunks:
            events.append(DataReceived(chunks[0] if len(chunks) == 1 else b"".join(chunks)))
        if closed:
            self.peer_closed = True
            if self.local_closed:
                self.state = State.CLOSED
            events.append(ConnectionClosed())

    def _translate(self, exc: SSL.Error) -> ZeroTLSError:
        """Turn an OpenSSL failure into our error, once, here."""
        if self._check.failure is not None:
            return self._check.failure
        if isinstance(exc, SSL.SysCallError):
            if self.state is State.HANDSHAKING:
                return ConnectionBroken(
                    "the peer closed the connection during the handshake without an alert"
                )
            return ConnectionBroken(
                "the peer closed the transport without a TLS close_notify: the data may be "
                "truncated (treat the stream as failed, not as finished)"
            )
        reasons = _reasons(exc)
        for reason in reasons:
            match = _ALERT_RE.search(reason)
            bare = None if match else _ALERT_BARE_RE.search(reason)
            if bare and AlertDescription.from_openssl_text(bare.group(1)):
                match = bare
            if match:
                alert = AlertDescription.from_openssl_text(match.group(1))
                name = alert.name if alert else match.group(1).replace(" ", "_")
                advice = self._advice_for(alert)
                return TLSAlert(
                    f"the peer refused the connection ({name}): {advice}", description=name
                )
        text = " ".join(reasons)
        if "certificate verify failed" in text:
            errno = _lib.SSL_get_verify_result(self._ssl._ssl)
            cert = self._ssl.get_peer_certificate(as_cryptography=True)
            if cert is not None:
                return _chain_error(self.config, errno, 0, cert)
            from zerotls.tls.context import x509_error_text

            return VerificationError(
                f"peer certificate failed verification: {x509_error_text(errno)}"
            )
        if "peer did not return a certificate" in text:
            # TLS 1.3 has an alert for it; TLS 1.2 and DTLS 1.2 say handshake_failure.
            version = self._ssl.get_protocol_version_name()
            sent = "certificate_required" if version == "TLSv1.3" else "handshake_failure"
            return _sent(
                VerificationError(
                    "the client presented no certificate, but this server requires one "
                    f"(mutual TLS); the client was sent the {sent} alert"
                ),
                sent,
            )
        if any(k in text for k in ("unsupported protocol", "no protocols available")):
            return _sent(
                RemoteProtocolError(
                    f"no TLS version in common: this side accepts TLS "
                    f"{self.config.min_version.value} and newer, the peer offered only older "
                    "versions; upgrade the peer (find such peers with `zerotls audit`)"
                ),
                "protocol_version",
            )
        if "http request" in text or "https proxy request" in text:
            return _sent(
                RemoteProtocolError(
                    "the peer sent plaintext HTTP to a TLS port: use https:// or a TLS client"
                ),
                "unexpected_message",  # our plaintext alert (see _fail)
            )
        if "wrong version number" in text or "packet length too long" in text:
            return _sent(
                RemoteProtocolError(
                    "the peer does not speak TLS (garbage or plaintext on a TLS port)"
                ),
                "unexpected_message",
            )
        if any(k in text for k in ("no shared cipher", "no suitable key share", "no shared group")):
            return _sent(
                RemoteProtocolError(
                    f"no cipher suite or key-exchange group in common ({text}); zerotls "
                    "offers only ECDHE with AEAD"
                ),
                "handshake_failure",
            )
        if "unexpected eof" in text:
            return ConnectionBroken(
                "the peer closed the transport without a TLS close_notify (possible truncation)"
            )
        return RemoteProtocolError(f"TLS failed: {text or exc!r}")


def _canonical_group(name: str | None) -> str | None:
    # OpenSSL names classic groups by their curve ("x25519", "secp256r1"); report them as
    # configs spell them, so logs and configs use one vocabulary (_wire/suites.py).
    return config_group_name(name) if name is not None else None


_thread_buffers = threading.local()
_READ_BUFFER_SIZE = 256 * 1024
# Encrypting one 256 KiB read yields a little more than 256 KiB of records: room for several.
_WRITE_BUFFER_SIZE = 1024 * 1024


def _read_buffer() -> tuple[bytearray, Any]:
    """This thread's decryption buffer and a C pointer to it (shared by its connections:
    each read copies out before returning, so idle connections hold no buffer)."""
    pair = getattr(_thread_buffers, "pair", None)
    if pair is None:
        buf = bytearray(_READ_BUFFER_SIZE)
        pair = (buf, _ffi.from_buffer(buf))
        _thread_buffers.pair = pair
    return pair


def _write_buffer() -> tuple[memoryview, Any]:
    """This thread's scratch buffer for draining the outgoing BIO (copied out at once)."""
    pair = getattr(_thread_buffers, "out", None)
    if pair is None:
        buf = bytearray(_WRITE_BUFFER_SIZE)
        pair = (memoryview(buf), _ffi.from_buffer(buf))
        _thread_buffers.out = pair
    return pair


def _plaintext_alert(description: AlertDescription) -> bytes:
    """A fatal alert record sent before any key is agreed (RFC 8446 §5.1, §6)."""
    return bytes([21, 3, 3, 0, 2, 2, int(description)])


def _reasons(exc: SSL.Error) -> list[str]:
    out: list[str] = []
    for arg in exc.args:
        if isinstance(arg, list):
            for item in arg:
                if isinstance(item, tuple) and item:
                    out.append(str(item[-1]))
        elif isinstance(arg, str):
            out.append(arg)
    return out
