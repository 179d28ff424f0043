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
peer that fails any of them gets an alert and never application data. The policy lives in
``tls/_verify.py``, the C callbacks that apply it in ``tls/_callbacks.py``, the translation of
OpenSSL's failures in ``tls/_errors.py``, and every private pyOpenSSL access in ``tls/_ossl.py``.

Failure is sticky: once a call raised, every later call raises the same error (a broken TLS
stream stays broken; nothing may be read or written after a failed MAC or a refused peer).
"""

from __future__ import annotations

import contextlib
import enum
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from OpenSSL import SSL

from zerotls._wire.alerts import AlertDescription
from zerotls._wire.suites import config_group_name
from zerotls.errors import (
    ConnectionBroken,
    LocalProtocolError,
    VerificationError,
    ZeroTLSError,
)
from zerotls.tls import _callbacks, _ossl
from zerotls.tls._errors import translate
from zerotls.tls._ossl import ffi as _ffi
from zerotls.tls._ossl import lib as _lib
from zerotls.tls._verify import Authorizer, PeerCheck, identity_of
from zerotls.tls.config import ClientConfig
from zerotls.tls.identity import Identity

if TYPE_CHECKING:
    from zerotls.tls.context import TLSContext
    from zerotls.tls.revocation import Verdict

__all__ = [
    "Authorizer",
    "ConnectionClosed",
    "DataReceived",
    "Event",
    "HandshakeCompleted",
    "Negotiated",
    "State",
    "TLSConnection",
]


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
        adopted = ssl is not None  # a server connection that already read a ClientHello
        # The OpenSSL context first: with an identity source, reading it may rebuild it (a
        # rotated SVID), and the trust bundles the peer is judged by come with that build.
        conn = ssl if ssl is not None else SSL.Connection(context.ssl_context, None)
        self._check = PeerCheck(
            self.config,
            authorize,
            context.stapler,
            context.revocation,
            now=context.wall_clock,
            trust_bundles=context.trust_bundles,
        )
        self._conn = conn
        # The C pointers the hot paths use, fetched once (fixed for the connection's life).
        self._ssl_ptr = _ossl.ssl_ptr(conn)
        self._out_bio = _ossl.out_bio(conn)
        self._in_bio = _ossl.in_bio(conn)
        # OpenSSL's chain verification would read the system clock; it reads ours instead, so
        # the chain, the staple and the CRLs are all judged at the same moment.
        _ossl.set_verify_time(conn, context.wall_clock())
        _callbacks.register(conn, self._check)
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
            self._conn.set_ciphertext_mtu(mtu)  # records and handshake fragments fit a datagram
        cfg = self.config
        if adopted:
            return
        if isinstance(cfg, ClientConfig):
            if cfg.server_name and not cfg.server_name_is_ip:
                self._conn.set_tlsext_host_name(cfg.server_name.encode("idna"))  # SNI
            if cfg.ocsp != "off":  # ask for the server's staple (status_request)
                _ossl.request_ocsp_staple(conn)
            if cfg.session_resumption and not context.datagram:
                session = context.take_session()
                if session is not None:
                    self._conn.set_session(session)
            self._conn.set_connect_state()
            self._do_handshake()  # queue the ClientHello
        else:
            self._conn.set_accept_state()

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
        return int(self._conn.get_cleartext_mtu())

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
        if not data:
            self._conn.bio_shutdown()
        elif _lib.BIO_write(self._in_bio, _ffi.from_buffer(data), len(data)) <= 0:
            # A memory BIO takes all of it (one C call, no pyOpenSSL wrapper) unless it
            # cannot grow.
            raise MemoryError("the TLS input buffer cannot grow: out of memory")  # pragma: no cover
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
        ssl = self._ssl_ptr
        view = _ffi.from_buffer(data)
        total, done = len(data), 0
        while done < total:
            n = _lib.SSL_write(ssl, view + done, total - done)
            if n <= 0:
                try:
                    _ossl.raise_ssl_error(self._conn, ssl, n)
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
                self._conn.shutdown()
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
        bio = self._out_bio
        pending = _lib.BIO_get_mem_data(bio, _ffi.NULL)
        if pending <= 0:
            extra, self._extra_out = self._extra_out, b""
            return extra
        self._sent_any = True
        if pending > _WRITE_BUFFER_SIZE:
            return _ossl.bio_read(bio, pending)  # rare: more than a megabyte queued
        scratch, ptr = _write_buffer()  # reused: the bytes() below is the only allocation
        got = _lib.BIO_read(bio, ptr, pending)
        return bytes(scratch[:got]) if got > 0 else b""

    @property
    def resumed(self) -> bool:
        """Whether the handshake resumed a session (a ticket) rather than running in full."""
        return _ossl.session_reused(self._conn)

    @property
    def server_name(self) -> str | None:
        """The SNI name: the one the client sent (server side) or asked for (client side)."""
        name = self._conn.get_servername()
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
        leaf = self._conn.get_peer_certificate(as_cryptography=True)
        return identity_of(leaf) if leaf is not None else None

    @property
    def revocation_verdict(self) -> Verdict | None:
        """The CRL/OCSP checker's verdict on the peer (None: the checker did not run), for
        decisions that depend on it, such as a route's hard revocation rule."""
        return self._check.verdict

    @property
    def alpn_protocol(self) -> str | None:
        """The ALPN protocol agreed on, if any."""
        proto = self._conn.get_alpn_proto_negotiated()
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
        _drop_frames(error, sys.exc_info()[1])
        if (
            self._plaintext_alerts
            and self.our_role == "server"
            and self.state is State.HANDSHAKING
            and not self._sent_any
            and _ossl.bio_pending(self._out_bio) <= 0
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
            self._conn.do_handshake()
        except SSL.WantReadError:
            return None
        except SSL.Error as exc:
            self._fail(self._translate(exc))
        # A resumed session's certificate is judged again first: that sets the identity the
        # handshake result reports, so the certificate is converted once, not twice.
        if self._check.leaf_checks and _ossl.session_reused(self._conn):
            self._recheck_resumed()
        handshake = self._completed()
        self.state = State.OPEN
        self.handshake = handshake
        cfg = self.config
        if isinstance(cfg, ClientConfig) and cfg.session_resumption and not self.context.datagram:
            session = self._conn.get_session()
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
        if base is None or not _ossl.has_new_session(self._conn, base):
            return
        session = self._conn.get_session()
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
        leaf = self._conn.get_peer_certificate(as_cryptography=True)
        if leaf is None:
            return
        check = self._check
        # The chain is converted only when something reads it: pins on any of its keys, or
        # the issuer a CRL or OCSP answer is checked against.
        if check.config.pins or check.checker is not None:
            chain = self._conn.get_peer_cert_chain(as_cryptography=True) or []
            for cert in (leaf, *chain) if check.config.pins else ():
                check.seen_pins.add(identity_of(cert).spki_pin)
            if check.checker is not None:  # the CRL may have changed since the ticket
                check.issuer = next(
                    (c for c in [*chain, *self.context.anchors] if c.subject == leaf.issuer),
                    None,
                )
        if not check.check_leaf(leaf):
            self._fail(
                check.failure
                or VerificationError("the resumed session's certificate is no longer accepted")
            )

    def _completed(self) -> HandshakeCompleted:
        ssl = self._conn
        # The identity the verify callback (or the resumption re-check) judged: converting
        # the peer's certificate again would cost a parse and a hash per handshake.
        identity = self._check.identity
        if identity is None:
            peer = ssl.get_peer_certificate(as_cryptography=True)
            identity = identity_of(peer) if peer is not None else None
        alpn = ssl.get_alpn_proto_negotiated()
        resumed = _ossl.session_reused(ssl)
        version = ssl.get_protocol_version_name()
        return HandshakeCompleted(
            identity=identity,
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
        ssl, in_bio = self._ssl_ptr, self._in_bio
        buf, ptr = _read_buffer()
        view = memoryview(buf)  # slices of a view copy once (bytes()), not twice
        cap = len(buf)
        chunks: list[bytes] = []
        used = 0
        closed = False
        while True:
            n = _lib.SSL_read(ssl, ptr + used, cap - used)
            if n > 0:
                if self._record_per_event:  # datagrams: one event each, boundaries kept
                    events.append(DataReceived(bytes(view[:n])))
                    continue
                used += n
                if used == cap:
                    chunks.append(bytes(buf))
                    used = 0
                if _lib.SSL_pending(ssl) <= 0 and _lib.BIO_get_mem_data(in_bio, _ffi.NULL) <= 0:
                    break  # nothing left to decrypt: skip the SSL_read that would say so
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
                _ossl.raise_ssl_error(self._conn, ssl, n)
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
        """Turn an OpenSSL failure into our error, once, here (our own refusal first)."""
        if self._check.failure is not None:
            return self._check.failure
        return translate(
            exc,
            self._conn,
            self.config,
            handshaking=self.state is State.HANDSHAKING,
            ours=self.context.certificate,
            wall_clock=self.context.wall_clock,
        )


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
        pair = (buf, _ossl.c_buffer(buf))
        _thread_buffers.pair = pair
    return pair


def _write_buffer() -> tuple[memoryview, Any]:
    """This thread's scratch buffer for draining the outgoing BIO (copied out at once)."""
    pair = getattr(_thread_buffers, "out", None)
    if pair is None:
        buf = bytearray(_WRITE_BUFFER_SIZE)
        pair = (memoryview(buf), _ossl.c_buffer(buf))
        _thread_buffers.out = pair
    return pair


def _plaintext_alert(description: AlertDescription) -> bytes:
    """A fatal alert record sent before any key is agreed (RFC 8446 §5.1, §6)."""
    return bytes([21, 3, 3, 0, 2, 2, int(description)])


def _drop_frames(error: BaseException, handled: BaseException | None) -> None:
    """Drop the tracebacks of the exceptions chained to ``error``: the OpenSSL error it
    translates (which becomes its ``__context__`` when it is raised) and their causes. The
    connection keeps ``error``, and a traceback's frames hold their callers' locals: the
    connection's owner would then live in a reference cycle until the cyclic GC found it.
    The messages stay; only the frames inside pyOpenSSL go."""
    seen: set[int] = set()
    links: list[BaseException | None] = [handled, error.__cause__, error.__context__]
    while links:
        exc = links.pop()
        if exc is None or exc is error or id(exc) in seen:
            continue
        seen.add(id(exc))
        exc.__traceback__ = None
        links += (exc.__cause__, exc.__context__)
