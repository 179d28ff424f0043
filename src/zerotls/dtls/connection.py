"""The sans-IO DTLS connection: datagrams in, datagrams out, timers, events.

Theory of operation
-------------------
:class:`DTLSConnection` wraps a :class:`~zerotls.tls.engine.TLSConnection` over a DTLS 1.2
pyOpenSSL object, so it has the same checks inside the handshake (chain, SAN name, SPIFFE
identity, pins, CRLs and OCSP, the ``authorize`` hook), the same errors and the same alerts.
What differs is the transport, which is the caller's, as with aioquic's ``QuicConnection``:

1. give every datagram that arrives to :meth:`~DTLSConnection.receive_datagram`;
2. send what :meth:`~DTLSConnection.datagrams_to_send` returns, each item one datagram;
3. call :meth:`~DTLSConnection.handle_timer` when :meth:`~DTLSConnection.get_timer` says;
4. read :meth:`~DTLSConnection.next_event` until it returns None.

The memory BIO is a byte stream: its output is cut on record headers and packed into
datagrams no larger than ``mtu`` (OpenSSL is told the MTU, so it fragments handshake
messages to fit). Application messages keep their boundaries: one :meth:`send` is one
record is one datagram, and a message that cannot fit is refused, never split.

Retransmission is ours, driven by the caller's clock (OpenSSL's own DTLS timer reads the
wall clock and is only driven by socket BIOs): every flight sent during the handshake is
kept and sent again when the timer fires, the timeout doubling from ``initial_retransmit``
up to ``max_retransmit`` (RFC 6347 §4.2.4). Records that fail to decrypt, replays and stray
garbage are dropped by OpenSSL without ending the connection, as DTLS requires.

:class:`DTLSListener` is the server's front door: a first datagram from an unknown address
goes through ``DTLSv1_listen`` with our stateless cookies (``zerotls.tls.cookies``), so a
spoofed source costs one small HelloVerifyRequest and no per-peer state. Only a ClientHello
that returns a valid cookie becomes a :class:`DTLSConnection`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from OpenSSL import SSL

from zerotls._wire.dtls import looks_like_dtls_untrusted, pack_datagrams, split_records_untrusted
from zerotls.errors import ConfigError, LocalProtocolError, ZeroTLSError
from zerotls.tls.context import TLSContext, cookie_peer
from zerotls.tls.engine import Authorizer, Event, HandshakeCompleted, State, TLSConnection
from zerotls.tls.identity import Identity

__all__ = ["Admission", "DTLSConnection", "DTLSListener", "DTLSOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DTLSOptions:
    """Datagram settings (the TLS settings themselves are the usual configs)."""

    version: str = "1.2"
    """DTLS version. Only ``"1.2"`` exists in the bundled OpenSSL; ``"1.3"`` (RFC 9147) will be
    accepted, and become the default, as soon as it does."""
    mtu: int = 1200
    """Largest datagram we send (UDP payload bytes). 1200 passes every IPv6 path and almost
    every IPv4 one (QUIC chose it for that reason)."""
    initial_retransmit: float = 1.0
    """Seconds before a handshake flight is sent again (RFC 6347 §4.2.4.1); doubles each time."""
    max_retransmit: float = 60.0
    """Ceiling of the doubling retransmission timeout."""
    handshake_timeout: float = 30.0
    """Seconds a handshake may take in all, retransmissions included."""

    def __post_init__(self) -> None:
        if self.version == "1.3":
            raise ConfigError(
                "DTLS 1.3 (RFC 9147) is not available in the OpenSSL that zerotls uses yet; "
                "use version = '1.2' (ECDHE + AEAD only, the same checks as TLS)"
            )
        if self.version != "1.2":
            raise ConfigError(f"DTLS version {self.version!r}: only '1.2' is available")
        if not 256 <= self.mtu <= 65507:
            raise ConfigError(f"mtu {self.mtu} must be between 256 and 65507 bytes")
        if not 0 < self.initial_retransmit <= self.max_retransmit:
            raise ConfigError("initial_retransmit must be positive and <= max_retransmit")
        if self.handshake_timeout <= 0:
            raise ConfigError("handshake_timeout must be positive")


class DTLSConnection:
    """One DTLS association with one peer, sans-IO.

    It wraps a :class:`~zerotls.tls.engine.TLSConnection` (the checks, errors and alerts are
    the engine's) and owns only what datagrams add: packing records into datagrams, the
    retransmission timer, message boundaries. The stream methods (``receive_data``,
    ``data_to_send``) are not offered: they would skip the packing.

    Create clients with ``DTLSConnection(TLSContext(client_config, datagram=True))``; servers
    get theirs from :class:`DTLSListener`.
    """

    def __init__(
        self,
        context: TLSContext,
        *,
        options: DTLSOptions | None = None,
        authorize: Authorizer | None = None,
        ssl: SSL.Connection | None = None,
        now: float = 0.0,
    ) -> None:
        if not context.datagram:
            raise ConfigError("a DTLS connection needs TLSContext(config, datagram=True)")
        self.options = options or DTLSOptions()
        self._events: deque[Event] = deque()
        self._flight: list[bytes] = []
        self._resend: list[bytes] = []
        self._rto = self.options.initial_retransmit
        self._timer: float | None = None
        self._started = now
        self.retransmissions = 0
        """How many times a handshake flight was sent again."""
        self._max_message: int | None = None
        self._tls = TLSConnection(context, authorize=authorize, ssl=ssl, mtu=self.options.mtu)
        if ssl is not None:  # adopted from the listener: it holds the ClientHello already
            done = self._tls.advance()
            if done is not None:  # pragma: no cover - a server needs more than one flight
                self._events.append(done)

    # -- what was negotiated, and the state (the engine's) ----------------------------------

    @property
    def context(self) -> TLSContext:
        return self._tls.context

    @property
    def state(self) -> State:
        return self._tls.state

    @property
    def handshake(self) -> HandshakeCompleted | None:
        return self._tls.handshake

    @property
    def identity(self) -> Identity | None:
        """The peer's verified identity, once the handshake completed."""
        return self._tls.identity

    @property
    def error(self) -> ZeroTLSError | None:
        return self._tls.error

    @property
    def peer_closed(self) -> bool:
        return self._tls.peer_closed

    @property
    def local_closed(self) -> bool:
        return self._tls.local_closed

    @property
    def server_name(self) -> str | None:
        return self._tls.server_name

    @property
    def revocation(self) -> str | None:
        return self._tls.revocation

    # -- inputs ----------------------------------------------------------------------------

    def receive_datagram(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Feed one datagram from the peer; then read :meth:`next_event`.

        Raises:
            ZeroTLSError: the handshake failed (refused certificate, policy, no common
                suite...). Send :meth:`datagrams_to_send` first: it holds the alert.
        """
        if self._tls.error is not None or not data:
            return  # a failed association ignores the rest; UDP has no EOF
        was_handshaking = self.state is State.HANDSHAKING
        self._events.extend(self._tls.receive_data(data))
        if was_handshaking and self.state is not State.HANDSHAKING:
            self._timer = None  # done: nothing of ours is awaiting an answer any more
            self._flight = []

    def handle_timer(self, now: float) -> None:
        """Retransmit the last flight if its timer fired (and give up after the timeout).

        Raises:
            HandshakeTimeout: the handshake took longer than ``handshake_timeout``.
        """
        from zerotls.errors import HandshakeTimeout

        if self._timer is None or self.state is not State.HANDSHAKING:
            return
        deadline = self._started + self.options.handshake_timeout
        if now < self._timer and now < deadline:
            return
        if now >= deadline:
            error = HandshakeTimeout(
                f"the DTLS handshake did not complete within {self.options.handshake_timeout:g}"
                f" s ({self.retransmissions} retransmissions): the peer is unreachable, drops "
                "our datagrams (MTU, firewall), or does not speak DTLS"
            )
            self._tls.abort(error)
            self._timer = None
            raise error
        self._resend = list(self._flight)
        self.retransmissions += 1
        self._rto = min(self._rto * 2, self.options.max_retransmit)
        self._timer = now + self._rto

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt one message as one datagram.

        Raises:
            LocalProtocolError: before the handshake, after close, or the message does not
                fit one datagram (see :attr:`max_message_size`).
        """
        limit = self.max_message_size
        if len(data) > limit:
            raise LocalProtocolError(
                f"a message of {len(data)} bytes does not fit one datagram: at most {limit} "
                f"bytes with mtu {self.options.mtu}; split it in the application (DTLS keeps "
                "message boundaries and never fragments application data)"
            )
        self._tls.send(data)

    def close(self) -> None:
        """Queue close_notify (send :meth:`datagrams_to_send`)."""
        self._tls.close()

    def abort(self, error: ZeroTLSError) -> None:
        """Fail the association with ``error`` (its alert, if any, is queued)."""
        self._tls.abort(error)

    # -- outputs ---------------------------------------------------------------------------

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """Everything to send now, each item one datagram of at most ``mtu`` bytes."""
        resend, self._resend = self._resend, []
        data = self._tls.data_to_send()
        if not data:
            return resend
        if len(data) <= self.options.mtu and self.state is not State.HANDSHAKING:
            return [*resend, data]  # whole records that fit one datagram: the common case
        datagrams = pack_datagrams(split_records_untrusted(data), self.options.mtu)
        if self.state is State.HANDSHAKING:
            # A new flight: keep it for retransmission and (re)arm the timer.
            self._flight = datagrams
            self._rto = self.options.initial_retransmit
            self._timer = now + self._rto
        return resend + datagrams

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must be called next (the caller's clock), if at all:
        the next retransmission or the handshake deadline, whichever comes first."""
        if self._timer is None or self.state is not State.HANDSHAKING:
            return None
        return min(self._timer, self._started + self.options.handshake_timeout)

    def next_event(self) -> Event | None:
        """The next event (:class:`HandshakeCompleted`, :class:`DataReceived` — one per
        datagram message —, :class:`ConnectionClosed`), or None."""
        return self._events.popleft() if self._events else None

    @property
    def max_message_size(self) -> int:
        """The largest message :meth:`send` takes (the MTU minus record overhead)."""
        if self._max_message is None:
            if self.handshake is None:
                return self.options.mtu - 64
            self._max_message = self._tls.cleartext_mtu  # fixed once negotiated
        return self._max_message


@dataclass(frozen=True, slots=True)
class Admission:
    """What :meth:`DTLSListener.receive_untrusted` made of a first datagram."""

    datagrams: list[bytes]
    """To send back at once: a HelloVerifyRequest, the first flight, or the alert."""
    connection: DTLSConnection | None = None
    """The new association, when the cookie was valid and the handshake goes on."""
    refusal: ZeroTLSError | None = None
    """Why a peer with a valid cookie was refused in its first flight (no suite, group or
    signature algorithm in common, ...): ``datagrams`` hold its alert. Audit it."""

    def __iter__(self) -> Iterator[Any]:
        """``reply, conn = listener.receive_untrusted(...)`` still reads as it always did."""
        return iter((self.datagrams, self.connection))


class DTLSListener:
    """Turns first datagrams from unknown addresses into connections, without state.

    Args:
        context: a server context built with ``datagram=True``.
        options: datagram settings for the connections it makes.

    Counters (for metrics): :attr:`hello_verify_sent`, :attr:`accepted`, :attr:`refused`,
    :attr:`dropped`.
    """

    def __init__(self, context: TLSContext, options: DTLSOptions | None = None) -> None:
        if not (context.datagram and context.is_server and context.cookies is not None):
            raise ConfigError("a DTLS listener needs TLSContext(server_config, datagram=True)")
        self.context = context
        self.options = options or DTLSOptions()
        self.hello_verify_sent = 0
        self.accepted = 0
        self.refused = 0
        self.dropped = 0

    def receive_untrusted(
        self,
        datagram: bytes,
        address: tuple[str, int],
        now: float,
        *,
        authorize: Authorizer | None = None,
    ) -> Admission:
        """Handle a datagram from an address with no connection yet.

        Returns:
            The HelloVerifyRequest for a ClientHello without a valid cookie; the first flight
            and the connection when the cookie is valid; the alert and the refusal when the
            handshake fails at once (the peer is told why, as over TCP); nothing for anything
            else (dropped and counted).
        """
        if not looks_like_dtls_untrusted(datagram):
            self.dropped += 1
            return Admission([])
        ssl = SSL.Connection(self.context.ssl_context, None)
        ssl.set_accept_state()
        ssl.set_ciphertext_mtu(self.options.mtu)
        cookie_peer(self.context.cookies, f"{address[0]}|{address[1]}".encode())
        try:
            ssl.bio_write(datagram)
            ssl.DTLSv1_listen()
        except SSL.WantReadError:
            reply = _drain(ssl)
            cookie_peer(None, b"")
            if not reply:
                self.dropped += 1
                return Admission([])
            self.hello_verify_sent += 1
            return Admission(pack_datagrams(split_records_untrusted(reply), self.options.mtu))
        except SSL.Error:
            cookie_peer(None, b"")
            self.dropped += 1
            return Admission([])
        try:
            # Valid cookie. OpenSSL checks it once more as the handshake reads the
            # ClientHello, so the connection is made while the peer is still declared.
            conn = DTLSConnection(
                self.context, options=self.options, authorize=authorize, ssl=ssl, now=now
            )
        except ZeroTLSError as exc:
            # A real peer we have nothing in common with: OpenSSL wrote its alert into the
            # BIO (handshake_failure, ...). Send it, and let the caller audit the refusal.
            self.refused += 1
            alert = _drain(ssl)
            return Admission(
                pack_datagrams(split_records_untrusted(alert), self.options.mtu) if alert else [],
                refusal=exc,
            )
        finally:
            cookie_peer(None, b"")
        self.accepted += 1
        return Admission(conn.datagrams_to_send(now), conn)


def _drain(ssl: SSL.Connection) -> bytes:
    out = b""
    while True:
        try:
            out += ssl.bio_read(65536)
        except SSL.WantReadError:
            return out
