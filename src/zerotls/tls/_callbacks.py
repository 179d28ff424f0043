"""The C-level callbacks OpenSSL calls inside a handshake, and how they find their connection.

Theory of operation
-------------------
OpenSSL calls back into Python with nothing but C pointers: the verify callback gets an
``X509_STORE_CTX *`` (from which the ``SSL *`` is found), the certificate-status callback an
``SSL *``. Each engine connection registers its per-connection check state (a
:class:`~zerotls.tls._verify.PeerCheck`) under its ``SSL *`` address with :func:`register`;
the callbacks look it up in :data:`PEER_CHECKS`, a weak dictionary, so the state dies with the
connection and no reference cycle runs through C. A callback that finds no state, or fails in
any way, refuses: exceptions must never escape into C, and a bug must fail closed.

The callbacks only route: what is decided (pins, identity, revocation, staples) is the check
state's business (``tls/_verify.py``), and the C calls go through ``tls/_ossl.py``.

DTLS cookies are callbacks too, but pyOpenSSL's own: a listener says per thread, with
:func:`cookie_peer`, which address and cookie jar the next ``DTLSv1_listen`` call is about
(a memory BIO has no peer address of its own).
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any

from OpenSSL import SSL

from zerotls.tls import _ossl
from zerotls.tls.config import ServerConfig
from zerotls.tls.identity import spki_pin

if TYPE_CHECKING:
    from zerotls.tls._verify import PeerCheck
    from zerotls.tls.cookies import CookieJar

log = logging.getLogger("zerotls.tls")

# SSL* address -> the per-connection check state (registered by TLSConnection).
PEER_CHECKS: weakref.WeakValueDictionary[int, PeerCheck] = weakref.WeakValueDictionary()


def register(conn: SSL.Connection, check: PeerCheck) -> None:
    """Let the callbacks of ``conn`` find ``check`` (for as long as ``check`` lives)."""
    PEER_CHECKS[_ossl.address(_ossl.ssl_ptr(conn))] = check


def _verify(ok: int, store_ctx: Any) -> int:
    """Checks that OpenSSL's chain verification does not do: pins and workload identity.

    Called by OpenSSL inside the handshake for each certificate of the chain, root first, and
    for each error it finds. A peer that fails here receives an alert chosen from the X.509
    error we set (``bad_certificate`` for a pin or identity refusal) and never sees
    application data. Exceptions must not escape into C: any bug refuses the peer.
    """
    try:
        state = PEER_CHECKS.get(_ossl.store_ctx_ssl_address(store_ctx))
        if state is None:  # not one of ours: refuse rather than guess
            return 0
        depth = _ossl.store_ctx_depth(store_ctx)
        if not ok:
            errno = _ossl.store_ctx_error(store_ctx)
            leaf = _ossl.store_ctx_leaf(store_ctx) if state.trust_bundles is not None else None
            state.record_chain_error(errno, depth, _ossl.store_ctx_cert(store_ctx), leaf)
            return 0
        if state.anchor is None and state.trust_bundles is not None:
            state.anchor = _ossl.store_ctx_cert(store_ctx)  # root first: the trust anchor
        if state.config.pins:
            state.seen_pins.add(spki_pin(_ossl.store_ctx_cert(store_ctx)))
        if depth == 1 and state.checker is not None:
            state.issuer = _ossl.store_ctx_cert(store_ctx)  # the leaf's issuer, for its CRL/OCSP
        if depth != 0 or not state.leaf_checks:
            return 1
        if state.check_leaf(_ossl.store_ctx_cert(store_ctx)):
            return 1
        _ossl.store_ctx_set_error(store_ctx, state.refusal_code)
        return 0
    except Exception:  # pragma: no cover - a bug must fail closed, never open
        _ossl.store_ctx_set_error(store_ctx, _ossl.X509_V_ERR_APPLICATION_VERIFICATION)
        return 0


VERIFY_CALLBACK = _ossl.verify_callback(_verify)
"""The C verify callback (install with ``_ossl.set_verify``); module-level, so never freed."""


def _status(ssl_ptr: Any, _arg: Any) -> int:
    """OpenSSL's certificate-status callback, used both ways round.

    On a server it returns the OCSP staple for our certificate (``SSL_TLSEXT_ERR_OK`` with
    the response set, or ``NOACK`` when there is none). On a client, after the server's chain
    was verified, it checks the stapled response: 1 accepts, 0 refuses and makes OpenSSL send
    ``bad_certificate_status_response``.
    """
    try:
        state = PEER_CHECKS.get(_ossl.address(ssl_ptr))
        if state is None:
            return 0  # client: refuse; server: OK with nothing stapled
        if state.stapler is not None or isinstance(state.config, ServerConfig):
            staple = state.stapler.current() if state.stapler is not None else b""
            if not staple or not _ossl.set_ocsp_response(ssl_ptr, staple):
                return _ossl.SSL_TLSEXT_ERR_NOACK
            return _ossl.SSL_TLSEXT_ERR_OK
        return 1 if state.check_staple(ssl_ptr) else 0
    except Exception:  # pragma: no cover - a bug must fail closed, never open
        log.exception("OCSP status callback failed")
        return 0


STATUS_CALLBACK = _ossl.status_callback(_status)
"""The C certificate-status callback (install with ``_ossl.set_status_callback``)."""

# DTLS cookies: the listener that is about to call DTLSv1_listen says, per thread, which peer
# address and which cookie jar the ClientHello in its memory BIO belongs to.
_COOKIE_PEER = threading.local()


def cookie_peer(jar: CookieJar | None, address: bytes) -> None:
    """Declare the peer of the next DTLSv1_listen call on this thread."""
    _COOKIE_PEER.jar = jar
    _COOKIE_PEER.address = address


def cookie_generate(_conn: SSL.Connection) -> bytes:
    """pyOpenSSL's cookie-generate callback: a cookie for the declared peer."""
    jar = getattr(_COOKIE_PEER, "jar", None)
    if jar is None:  # pragma: no cover - only our listener calls DTLSv1_listen
        raise RuntimeError("DTLS cookie requested outside a listener")
    cookie: bytes = jar.make(_COOKIE_PEER.address)
    return cookie


def cookie_verify(_conn: SSL.Connection, cookie: bytes) -> bool:
    """pyOpenSSL's cookie-verify callback: whether ``cookie`` is the declared peer's."""
    jar = getattr(_COOKIE_PEER, "jar", None)
    return jar is not None and bool(jar.check(_COOKIE_PEER.address, cookie))
