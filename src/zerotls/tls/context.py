"""The one context factory: a pyOpenSSL ``Context`` built from a config, reason beside each option.

:class:`TLSContext` owns the pyOpenSSL context for one config and role and hands out sans-IO
:class:`~zerotls.tls.engine.TLSConnection` objects. Certificates, keys, CA bundles and CRLs are
read here (and only here); a missing or malformed file raises ``ConfigError`` naming the file.

Servers rebuild their pyOpenSSL context every ``ticket_key_lifetime`` seconds: OpenSSL draws
fresh session-ticket keys for each context, so this is how ticket keys rotate. A client holding
a ticket from an older context simply gets a full handshake.
"""

from __future__ import annotations

import collections
import datetime as dt
import ipaddress
import logging
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto
from OpenSSL._util import ffi as _ffi
from OpenSSL._util import lib as _lib

from zerotls.errors import ConfigError, ZeroTLSError
from zerotls.tls.config import (
    TLS12_CIPHERS,
    TLS13_CIPHERSUITES,
    ClientConfig,
    ServerConfig,
    TLSVersion,
)
from zerotls.tls.identity import spki_pin

if TYPE_CHECKING:
    from zerotls.tls.cookies import CookieJar
    from zerotls.tls.engine import Authorizer, TLSConnection
    from zerotls.tls.ocsp import Stapler
    from zerotls.tls.revocation import RevocationChecker

__all__ = ["TLSContext"]

log = logging.getLogger("zerotls.tls")

_VERSION = {TLSVersion.TLSv1_2: SSL.TLS1_2_VERSION, TLSVersion.TLSv1_3: SSL.TLS1_3_VERSION}
_DTLS1_2_VERSION = 0xFEFD  # DTLS1_2_VERSION (RFC 6347: 254.253), not exported by pyOpenSSL


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_pem_certificates(path: Path, what: str = "certificate file") -> list[x509.Certificate]:
    """Read every certificate of a PEM file, refusing an empty or malformed one."""
    data = _read(path, what)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(f"{what} {path} holds no valid PEM certificate") from None
    return certs


class TLSContext:
    """A configured TLS context for one role; makes :class:`TLSConnection` objects.

    Args:
        config: a :class:`ClientConfig` or :class:`ServerConfig`.
        clock: monotonic clock (injected for tests of ticket-key rotation).
        wall_clock: the time, in epoch seconds, at which certificates, staples and CRLs are
            judged: OpenSSL's chain verification, the staple check and the revocation checker
            all read it, so a handshake can be replayed at any moment in tests.

    Raises:
        ConfigError: a file cannot be read or does not fit (e.g. key does not match cert).
    """

    def __init__(
        self,
        config: ClientConfig | ServerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        datagram: bool = False,
    ) -> None:
        self.config = config
        self.is_server = isinstance(config, ServerConfig)
        self._clock = clock
        self.wall_clock = wall_clock
        """Epoch seconds now: the one time a handshake's checks are made at."""
        self.datagram = datagram
        """DTLS 1.2 over datagrams instead of TLS over a stream (see ``zerotls.dtls``)."""
        self.cookies: CookieJar | None = None
        """DTLS servers: the stateless cookie maker and checker (HelloVerifyRequest)."""
        if datagram and self.is_server:
            from zerotls.tls.cookies import CookieJar

            self.cookies = CookieJar()
        # Clients: tickets from earlier connections, newest last, each offered once.
        self._sessions: collections.deque[SSL.Session] = collections.deque(maxlen=8)
        self.certificate: x509.Certificate | None = None
        """The certificate we present (the leaf of ``config.cert``), once loaded."""
        self.chain: list[x509.Certificate] = []
        """Our certificate chain as presented: leaf first, then intermediates."""
        self.stapler: Stapler | None = None
        """Servers: the OCSP response stapled for our certificate, kept fresh."""
        self.anchors: list[x509.Certificate] = []
        """The certificates of ``config.ca``."""
        self.revocation: RevocationChecker | None = None
        """Checks the peer's certificate against CRLs and OCSP, when configured."""
        query_ocsp = isinstance(config, ServerConfig) and config.query_ocsp
        if config.crls or config.crl_urls or config.fetch_crls or query_ocsp:
            from zerotls.tls.revocation import RevocationChecker

            self.revocation = RevocationChecker(
                config.crls,
                crl_urls=config.crl_urls,
                fetch_crls=config.fetch_crls,
                query_ocsp=query_ocsp,
                mode=config.revocation,
                refresh=config.crl_refresh,
                skew=dt.timedelta(seconds=config.ocsp_skew),
                state_file=config.crl_state,
                clock=wall_clock,
            )
        # Validate the files once, eagerly, so a bad config fails at start, not at accept.
        self._ssl_context = self._build()
        self._built_at = clock()
        if isinstance(config, ServerConfig) and config.ocsp_stapling:
            self.stapler = self._make_stapler(config)

    @classmethod
    def of(cls, config: ClientConfig | ServerConfig | TLSContext) -> TLSContext:
        """The context for ``config`` (a prebuilt context is returned as it is)."""
        return config if isinstance(config, TLSContext) else cls(config)

    @property
    def ssl_context(self) -> SSL.Context:
        """The current pyOpenSSL context (servers replace it as ticket keys rotate)."""
        if self.is_server:
            lifetime = self.config.ticket_key_lifetime  # type: ignore[union-attr]
            now = self._clock()
            if now - self._built_at >= lifetime:
                self._built_at = now
                try:
                    self._ssl_context = self._build()
                except ConfigError as exc:
                    # A file caught mid-rotation must not break accepts: keep the context in
                    # service (and its ticket keys) and try again next period.
                    log.error(  # noqa: TRY400 - expected: one line, no traceback
                        "keeping the current TLS context: rebuilding it failed: %s", exc
                    )
        return self._ssl_context

    def take_session(self) -> SSL.Session | None:
        """A session ticket to resume with (clients), removed so it is used only once."""
        try:
            return self._sessions.pop()
        except IndexError:
            return None

    def keep_session(self, session: SSL.Session) -> None:
        """Remember a session ticket for a later connection of this context."""
        self._sessions.append(session)

    def connection(self, *, authorize: Authorizer | None = None) -> TLSConnection:
        """A new sans-IO connection in this context's role.

        Args:
            authorize: called inside the handshake with the peer's verified identity; an
                error it returns refuses the peer (see :data:`~zerotls.tls.engine.Authorizer`).
        """
        from zerotls.tls.engine import TLSConnection

        return TLSConnection(self, authorize=authorize)

    # -- building ---------------------------------------------------------------------------

    def _make_stapler(self, cfg: ServerConfig) -> Stapler | None:
        """The staple source for our certificate, with a first response fetched now."""
        from zerotls.tls.ocsp import Stapler, must_staple, ocsp_url_of

        leaf = self.certificate
        assert leaf is not None  # noqa: S101 - a ServerConfig always has cert
        url = cfg.ocsp_responder or ocsp_url_of(leaf)
        explicit = cfg.ocsp_staple_file is not None or cfg.ocsp_responder is not None
        if cfg.ocsp_staple_file is None and url is None:
            if must_staple(leaf):
                log.error(
                    "certificate %s is marked must-staple but has no OCSP responder URL and no "
                    "ocsp_staple_file is set: every client will refuse it",
                    cfg.cert,
                )
            return None
        issuer = self._issuer_of(leaf)
        if issuer is None:
            message = (
                f"cannot staple OCSP for {cfg.cert}: its issuer certificate is needed to check "
                "responses; append the issuing CA's certificate to the cert file (after the "
                "leaf) or add it to the ca bundle"
            )
            if explicit:
                raise ConfigError(message)
            log.warning("%s", message)
            return None
        stapler = Stapler(
            leaf,
            issuer,
            url=None if cfg.ocsp_staple_file is not None else url,
            staple_file=cfg.ocsp_staple_file,
            skew=dt.timedelta(seconds=cfg.ocsp_skew),
        )
        try:
            stapler.refresh()  # the first handshakes get a staple too
        except ZeroTLSError as exc:
            log.warning("no OCSP staple for %s yet: %s; retrying in the background", cfg.cert, exc)
        return stapler

    def _issuer_of(self, leaf: x509.Certificate) -> x509.Certificate | None:
        for cert in [*self.chain[1:], *self.anchors]:
            if cert.subject == leaf.issuer:
                try:
                    leaf.verify_directly_issued_by(cert)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                return cert
        return None

    def _build(self) -> SSL.Context:
        cfg = self.config
        if self.datagram:
            return self._build_datagram()
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD if self.is_server else SSL.TLS_CLIENT_METHOD)
        ctx.set_min_proto_version(_VERSION[cfg.min_version])  # RFC 8996: nothing below 1.2
        ctx.set_max_proto_version(SSL.TLS1_3_VERSION)
        return self._configure(ctx, cfg.groups)

    def _build_datagram(self) -> SSL.Context:
        """DTLS 1.2: the same checks and suites as the TLS 1.2 floor (ECDHE + AEAD).

        DTLS 1.3 (RFC 9147) is not in the bundled OpenSSL yet; when it is, it becomes the
        default here as TLS 1.3 is for streams. The post-quantum hybrid groups exist only in
        (D)TLS 1.3, so they are left out of the DTLS 1.2 group list.
        """
        ctx = SSL.Context(SSL.DTLS_SERVER_METHOD if self.is_server else SSL.DTLS_CLIENT_METHOD)
        ctx.set_min_proto_version(_DTLS1_2_VERSION)
        ctx.set_max_proto_version(_DTLS1_2_VERSION)
        # We tell each connection its MTU; OpenSSL must not ask a socket it does not have.
        ctx.set_options(SSL.OP_NO_QUERY_MTU)
        groups = tuple(g for g in self.config.groups if "MLKEM" not in g)
        if not groups:
            raise ConfigError(
                "DTLS 1.2 needs a classic ECDHE group: add X25519 or P-256 to groups "
                "(the ML-KEM hybrids exist only in TLS 1.3)"
            )
        ctx = self._configure(ctx, groups)
        if self.cookies is not None:
            ctx.set_cookie_generate_callback(_cookie_generate)
            ctx.set_cookie_verify_callback(_cookie_verify)
        return ctx

    def _configure(self, ctx: SSL.Context, group_list: tuple[str, ...]) -> SSL.Context:
        cfg = self.config
        ctx.set_options(
            SSL.OP_NO_COMPRESSION  # CRIME
            | SSL.OP_NO_RENEGOTIATION  # renegotiation DoS and injection (CVE-2009-3555)
            | SSL.OP_CIPHER_SERVER_PREFERENCE  # the server's AEAD order wins
        )
        # Idle connections keep no 16 KiB record buffers (DESIGN: small until data flows).
        ctx.set_mode(SSL.MODE_RELEASE_BUFFERS)
        # pyOpenSSL turns partial writes on; over a memory BIO a write always completes, and
        # one SSL_write per buffer (not per 16 KiB record) saves a Python round trip each.
        _lib.SSL_CTX_clear_mode(ctx._context, _lib.SSL_MODE_ENABLE_PARTIAL_WRITE)
        ctx.set_tls13_ciphersuites(TLS13_CIPHERSUITES.encode())
        # TLS 1.2 floor only: ECDHE + AEAD. Harmless (unused) when the floor is 1.3.
        ctx.set_cipher_list(TLS12_CIPHERS.encode())
        groups = _group_spec(group_list, client=not self.is_server and not self.datagram)
        if _lib.SSL_CTX_set1_curves_list(ctx._context, groups.encode()) != 1:
            raise ConfigError(
                f"this OpenSSL ({SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()}) supports "
                f"none or not all of the groups {group_list}"
            )
        self._load_identity(ctx)
        self._load_trust(ctx)
        if cfg.ocsp_stapling if isinstance(cfg, ServerConfig) else cfg.ocsp != "off":
            # One C-level status callback for both roles (see _status): the server hands over
            # its staple, the client checks what it got.
            _lib.SSL_CTX_set_tlsext_status_cb(ctx._context, _STATUS_CALLBACK)
        if isinstance(cfg, ServerConfig):
            self._configure_server(ctx, cfg)
        else:
            self._configure_client(ctx, cfg)
        return ctx

    def _load_identity(self, ctx: SSL.Context) -> None:
        cfg = self.config
        if cfg.cert is None or cfg.key is None:
            return
        chain = load_pem_certificates(cfg.cert)
        self.certificate = chain[0]
        self.chain = chain
        key_data = _read(cfg.key, "private key")
        try:
            key = serialization.load_pem_private_key(key_data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"private key {cfg.key} cannot be loaded ({exc}); zerotls expects an "
                "unencrypted PEM key readable only by its owner (chmod 600)"
            ) from None
        ctx.use_certificate(chain[0])
        for extra in chain[1:]:
            ctx.add_extra_chain_cert(extra)
        try:
            ctx.use_privatekey(key)  # type: ignore[arg-type]
            ctx.check_privatekey()
        except SSL.Error:
            raise ConfigError(
                f"private key {cfg.key} does not belong to certificate {cfg.cert}"
            ) from None

    def _load_trust(self, ctx: SSL.Context) -> None:
        cfg = self.config
        if cfg.ca is None:
            if isinstance(cfg, ServerConfig):
                # No client CA named (client certificates optional): request none, rather
                # than trusting every publicly trusted certificate as a client identity.
                _lib.SSL_CTX_set_verify(ctx._context, SSL.VERIFY_NONE, _ffi.NULL)
                return
            ctx.set_default_verify_paths()  # a client with no ca: the system trust store
        else:
            store = ctx.get_cert_store()
            assert store is not None  # noqa: S101 - pyOpenSSL types it optional; never None
            anchors = load_pem_certificates(cfg.ca, "CA bundle")
            self.anchors = anchors
            for cert in anchors:
                store.add_cert(crypto.X509.from_cryptography(cert))
                if isinstance(cfg, ServerConfig):
                    # Tell clients which CAs we accept (helps them pick the right cert).
                    ctx.add_client_ca(cert)
        # CRLs and OCSP queries are checked by our verify callback (tls/revocation.py), not by
        # OpenSSL's CRL_CHECK: an OpenSSL store cannot replace a CRL once loaded.
        mode = SSL.VERIFY_PEER  # verify the peer's certificate (a client's if it offers one)
        if isinstance(cfg, ServerConfig) and cfg.require_client_cert:
            mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
        # Our own C-level verify callback (not pyOpenSSL's set_verify wrapper) so that a
        # refusal can set the X.509 error code, which picks the alert the peer receives.
        _lib.SSL_CTX_set_verify(ctx._context, mode, _VERIFY_CALLBACK)
        ctx.set_verify_depth(8)

    def _configure_server(self, ctx: SSL.Context, cfg: ServerConfig) -> None:
        # A session id context is required to resume sessions that carried a client cert.
        ctx.set_session_id(b"zerotls")
        if cfg.session_tickets and not cfg.pins:
            ctx.set_session_cache_mode(SSL.SESS_CACHE_SERVER)
        else:
            # Off by request, or because client keys are pinned: a ticket remembers only the
            # client's leaf, so a pin on its CA could not be checked again on resumption.
            ctx.set_options(SSL.OP_NO_TICKET)
            ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        if cfg.alpn:
            offered = [p.encode() for p in cfg.alpn]

            def select(_conn: SSL.Connection, protos: list[bytes]) -> bytes:
                for proto in offered:  # our preference order
                    if proto in protos:
                        return proto
                return SSL.NO_OVERLAPPING_PROTOCOLS  # type: ignore[return-value]

            ctx.set_alpn_select_callback(select)

    def _configure_client(self, ctx: SSL.Context, cfg: ClientConfig) -> None:
        if cfg.alpn:
            ctx.set_alpn_protos([p.encode() for p in cfg.alpn])
        if cfg.server_name is not None:
            # Hostname verification inside the handshake, on SANs only (RFC 6125 §6.4.4):
            # NEVER_CHECK_SUBJECT keeps OpenSSL from falling back to the common name, and
            # NO_PARTIAL_WILDCARDS refuses "f*.example.com".
            param = _lib.SSL_CTX_get0_param(ctx._context)
            _lib.X509_VERIFY_PARAM_set_hostflags(
                param,
                _lib.X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
                | _lib.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
            )
            if cfg.server_name_is_ip:
                packed = ipaddress.ip_address(cfg.server_name).packed
                ok = _lib.X509_VERIFY_PARAM_set1_ip(param, packed, len(packed))
            else:
                name = cfg.server_name.encode("idna")
                ok = _lib.X509_VERIFY_PARAM_set1_host(param, name, len(name))
            if ok != 1:
                raise ConfigError(f"cannot verify against server_name {cfg.server_name!r}")


# SSL* address -> the per-connection check state (registered by TLSConnection).
PEER_CHECKS: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_SSL_EX_INDEX = _lib.SSL_get_ex_data_X509_STORE_CTX_idx()


def _verify(ok: int, store_ctx: Any) -> int:
    """Checks that OpenSSL's chain verification does not do: pins and workload identity.

    Called by OpenSSL inside the handshake for each certificate of the chain, root first, and
    for each error it finds. A peer that fails here receives an alert chosen from the X.509
    error we set (``bad_certificate`` for a pin or identity refusal) and never sees
    application data. Exceptions must not escape into C: any bug refuses the peer.
    """
    try:
        ssl_ptr = _lib.X509_STORE_CTX_get_ex_data(store_ctx, _SSL_EX_INDEX)
        state = PEER_CHECKS.get(int(_ffi.cast("uintptr_t", ssl_ptr)))
        if state is None:  # not one of ours: refuse rather than guess
            return 0
        depth = _lib.X509_STORE_CTX_get_error_depth(store_ctx)
        if not ok:
            errno = _lib.X509_STORE_CTX_get_error(store_ctx)
            state.record_chain_error(errno, depth, _current_cert(store_ctx))
            return 0
        if state.config.pins:
            state.seen_pins.add(spki_pin(_current_cert(store_ctx)))
        if depth == 1 and state.checker is not None:
            state.issuer = _current_cert(store_ctx)  # the leaf's issuer, for its CRL/OCSP
        if depth != 0 or not state.leaf_checks:
            return 1
        if state.check_leaf(_current_cert(store_ctx)):
            return 1
        _lib.X509_STORE_CTX_set_error(store_ctx, state.refusal_code)
        return 0
    except Exception:  # pragma: no cover - a bug must fail closed, never open
        _lib.X509_STORE_CTX_set_error(store_ctx, _lib.X509_V_ERR_APPLICATION_VERIFICATION)
        return 0


def _current_cert(store_ctx: Any) -> x509.Certificate:
    ptr = _lib.X509_STORE_CTX_get_current_cert(store_ctx)
    _lib.X509_up_ref(ptr)  # the wrapper below frees its reference when collected
    return crypto.X509._from_raw_x509_ptr(ptr).to_cryptography()


_VERIFY_CALLBACK = _ffi.callback("int (*)(int, X509_STORE_CTX *)", _verify)


def _status(ssl_ptr: Any, _arg: Any) -> int:
    """OpenSSL's certificate-status callback, used both ways round.

    On a server it returns the OCSP staple for our certificate (``SSL_TLSEXT_ERR_OK`` with
    the response set, or ``NOACK`` when there is none). On a client, after the server's chain
    was verified, it checks the stapled response: 1 accepts, 0 refuses and makes OpenSSL send
    ``bad_certificate_status_response``.
    """
    try:
        state = PEER_CHECKS.get(int(_ffi.cast("uintptr_t", ssl_ptr)))
        if state is None:
            return 0  # client: refuse; server: OK with nothing stapled
        if state.stapler is not None or isinstance(state.config, ServerConfig):
            staple = state.stapler.current() if state.stapler is not None else b""
            if not staple:
                return int(_lib.SSL_TLSEXT_ERR_NOACK)
            buf = _lib.OPENSSL_malloc(len(staple))  # OpenSSL takes ownership and frees it
            if buf == _ffi.NULL:  # pragma: no cover
                return int(_lib.SSL_TLSEXT_ERR_NOACK)
            _ffi.memmove(buf, staple, len(staple))
            _lib.SSL_set_tlsext_status_ocsp_resp(ssl_ptr, buf, len(staple))
            return int(_lib.SSL_TLSEXT_ERR_OK)
        return 1 if state.check_staple(ssl_ptr) else 0
    except Exception:  # pragma: no cover - a bug must fail closed, never open
        log.exception("OCSP status callback failed")
        return 0


_STATUS_CALLBACK = _ffi.callback("int (*)(SSL *, void *)", _status)

# DTLS cookies: the listener that is about to call DTLSv1_listen says, per thread, which peer
# address and which cookie jar the ClientHello in its memory BIO belongs to (a memory BIO has
# no peer address of its own).
_COOKIE_PEER = threading.local()


def cookie_peer(jar: CookieJar | None, address: bytes) -> None:
    """Declare the peer of the next DTLSv1_listen call on this thread."""
    _COOKIE_PEER.jar = jar
    _COOKIE_PEER.address = address


def _cookie_generate(_conn: SSL.Connection) -> bytes:
    jar = getattr(_COOKIE_PEER, "jar", None)
    if jar is None:  # pragma: no cover - only our listener calls DTLSv1_listen
        raise RuntimeError("DTLS cookie requested outside a listener")
    cookie: bytes = jar.make(_COOKIE_PEER.address)
    return cookie


def _cookie_verify(_conn: SSL.Connection, cookie: bytes) -> bool:
    jar = getattr(_COOKIE_PEER, "jar", None)
    return jar is not None and bool(jar.check(_COOKIE_PEER.address, cookie))


def verified_chain(ssl_ptr: Any) -> list[x509.Certificate]:
    """The chain OpenSSL verified for the peer, leaf first (empty before verification)."""
    stack = _lib.SSL_get0_verified_chain(ssl_ptr)
    if stack == _ffi.NULL:
        return []
    out = []
    for i in range(_lib.sk_X509_num(stack)):
        ptr = _lib.sk_X509_value(stack, i)
        _lib.X509_up_ref(ptr)
        out.append(crypto.X509._from_raw_x509_ptr(ptr).to_cryptography())
    return out


def x509_error_text(errno: int) -> str:
    """OpenSSL's description of a certificate verification error code."""
    return str(_ffi.string(_lib.X509_verify_cert_error_string(errno)).decode())


def _group_spec(groups: tuple[str, ...], *, client: bool) -> str:
    """The OpenSSL group list, with the key shares a TLS 1.3 client sends marked ``*``.

    A client that sends a share only for its first group (the ML-KEM hybrid) costs every peer
    without post-quantum support (OpenSSL 3.0, GnuTLS, Go, nginx today) a HelloRetryRequest:
    a whole extra round trip. So a client sends two shares: the hybrid and the first classic
    group (X25519), which every TLS 1.3 stack has. Between zerotls peers the hybrid still
    wins; the extra share costs 32 bytes and one X25519 key generation.
    """
    if not client:
        return ":".join(groups)
    shares = {groups[0]}
    if "MLKEM" in groups[0]:
        classic = next((g for g in groups if "MLKEM" not in g), None)
        if classic is not None:
            shares.add(classic)
    return ":".join(f"*{g}" if g in shares else g for g in groups)
