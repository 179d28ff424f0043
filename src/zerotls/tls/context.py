"""The one context factory: a pyOpenSSL ``Context`` built from a config, reason beside each option.

:class:`TLSContext` owns the pyOpenSSL context for one config and role and hands out sans-IO
:class:`~zerotls.tls.engine.TLSConnection` objects. Certificates, keys, CA bundles and CRLs are
read here (and only here); a missing or malformed file raises ``ConfigError`` naming the file.

Servers rebuild their pyOpenSSL context every ``ticket_key_lifetime`` seconds: OpenSSL draws
fresh session-ticket keys for each context, so this is how ticket keys rotate. A client holding
a ticket from an older context simply gets a full handshake.

The C-level callbacks a context installs (verify, certificate status, DTLS cookies) live in
``tls/_callbacks.py``; the C calls themselves in ``tls/_ossl.py``.
"""

from __future__ import annotations

import collections
import datetime as dt
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto

from zerotls.errors import ConfigError, ZeroTLSError
from zerotls.tls import _callbacks, _ossl
from zerotls.tls._callbacks import cookie_peer
from zerotls.tls.config import (
    TLS12_CIPHERS,
    TLS13_CIPHERSUITES,
    ClientConfig,
    ServerConfig,
    TLSVersion,
)

if TYPE_CHECKING:
    from zerotls.tls._verify import Authorizer
    from zerotls.tls.cookies import CookieJar
    from zerotls.tls.engine import TLSConnection
    from zerotls.tls.ocsp import Stapler
    from zerotls.tls.revocation import RevocationChecker

__all__ = ["TLSContext", "cookie_peer"]  # cookie_peer: its home was here (zerotls.dtls uses it)

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
        self.trust_bundles: dict[str, frozenset[bytes]] | None = None
        """With an identity source: each trust domain's CA certificates (DER). A peer must
        chain to the bundle of the trust domain its SPIFFE ID names (federation)."""
        self._identity_version = -1
        self._expires = math.inf
        """With an identity source: when the SVID in use expires (epoch seconds)."""
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
        """The current pyOpenSSL context (servers replace it as ticket keys rotate; with an
        identity source, both roles replace it when the SVID or a bundle changes).

        Raises:
            ZeroTLSError: the identity source's SVID has expired (never used expired).
        """
        source = self.config.identity
        if source is not None and (
            source.version != self._identity_version or self._expires <= self.wall_clock()
        ):
            # A rotation (or an expiry): the next handshake presents the new SVID. A source
            # that has nothing valid raises here, and no handshake starts.
            self._ssl_context = self._build()
            self._built_at = self._clock()
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
            ctx.set_cookie_generate_callback(_callbacks.cookie_generate)
            ctx.set_cookie_verify_callback(_callbacks.cookie_verify)
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
        _ossl.disable_partial_writes(ctx)
        ctx.set_tls13_ciphersuites(TLS13_CIPHERSUITES.encode())
        # TLS 1.2 floor only: ECDHE + AEAD. Harmless (unused) when the floor is 1.3.
        ctx.set_cipher_list(TLS12_CIPHERS.encode())
        groups = _group_spec(group_list, client=not self.is_server and not self.datagram)
        if not _ossl.set_groups(ctx, groups):
            raise ConfigError(
                f"this OpenSSL ({SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()}) supports "
                f"none or not all of the groups {group_list}"
            )
        self._load_identity(ctx)
        self._load_trust(ctx)
        self._complete_chain(ctx)
        if cfg.ocsp_stapling if isinstance(cfg, ServerConfig) else cfg.ocsp != "off":
            # One C-level status callback for both roles (see _callbacks._status): the server
            # hands over its staple, the client checks what it got.
            _ossl.set_status_callback(ctx, _callbacks.STATUS_CALLBACK)
        if isinstance(cfg, ServerConfig):
            self._configure_server(ctx, cfg)
        else:
            self._configure_client(ctx, cfg)
        return ctx

    def _load_identity(self, ctx: SSL.Context) -> None:
        cfg = self.config
        if cfg.identity is not None:
            self._load_source_identity(ctx)
            return
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

    def _complete_chain(self, ctx: SSL.Context) -> None:
        """Build the chain we present once, here: with the leaf alone in its file OpenSSL
        would otherwise build it from the trust store on every handshake, verifying our own
        certificate each time (about 5 % of a full handshake's CPU, measured). Intermediates
        found in the trust anchors are added; the root is not sent (peers hold it). When an
        issuer is not among them, OpenSSL keeps building the chain as before."""
        if self.certificate is None:
            return
        chain = list(self.chain) or [self.certificate]
        pool = [*chain[1:], *self.anchors]
        added: list[x509.Certificate] = []
        last = chain[-1]
        while last.issuer != last.subject and len(chain) + len(added) < 10:
            issuer = next((c for c in pool if _issued(last, c)), None)
            if issuer is None:
                return  # an issuer we do not hold: leave the chain to OpenSSL
            if issuer.issuer == issuer.subject or issuer in chain or issuer in added:
                break  # the root (or the chain's end): not sent
            added.append(issuer)
            last = issuer
        for cert in added:
            ctx.add_extra_chain_cert(cert)
        self.chain = [*chain, *added]
        _ossl.disable_auto_chain(ctx)

    def _load_source_identity(self, ctx: SSL.Context) -> None:
        """The identity source's current SVID and key, and every trust domain's bundle."""
        source = self.config.identity
        version = source.version
        current = source.context()  # raises for an expired SVID: no handshake with it
        svid = source.svid() if hasattr(source, "svid") else current.svid
        self.certificate = svid.chain[0]
        self.chain = list(svid.chain)
        self._expires = svid.chain[0].not_valid_after_utc.timestamp()
        ctx.use_certificate(svid.chain[0])
        for extra in svid.chain[1:]:
            ctx.add_extra_chain_cert(extra)
        try:
            ctx.use_privatekey(svid.key)
            ctx.check_privatekey()
        except SSL.Error:
            raise ConfigError(
                f"the identity source's key does not belong to its SVID {svid.spiffe_id}"
            ) from None
        self.anchors = [ca for bundle in current.bundles.values() for ca in bundle]
        self.trust_bundles = {
            domain: frozenset(ca.public_bytes(serialization.Encoding.DER) for ca in bundle)
            for domain, bundle in current.bundles.items()
        }
        self._identity_version = version

    def _load_trust(self, ctx: SSL.Context) -> None:
        cfg = self.config
        if cfg.identity is not None:
            store = ctx.get_cert_store()
            assert store is not None  # noqa: S101 - pyOpenSSL types it optional; never None
            for cert in self.anchors:
                store.add_cert(crypto.X509.from_cryptography(cert))
                if isinstance(cfg, ServerConfig):
                    ctx.add_client_ca(cert)
        elif cfg.ca is None:
            if isinstance(cfg, ServerConfig):
                # No client CA named (client certificates optional): request none, rather
                # than trusting every publicly trusted certificate as a client identity.
                _ossl.set_verify(ctx, SSL.VERIFY_NONE)
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
        _ossl.set_verify(ctx, mode, _callbacks.VERIFY_CALLBACK)
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
            if cfg.server_name_is_ip:
                ok = _ossl.expect_peer_name(ctx, ip=ipaddress.ip_address(cfg.server_name).packed)
            else:
                ok = _ossl.expect_peer_name(ctx, host=cfg.server_name.encode("idna"))
            if not ok:
                raise ConfigError(f"cannot verify against server_name {cfg.server_name!r}")


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer`` signed ``cert`` (names match and the signature verifies)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


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
