"""The one door to pyOpenSSL's private parts: its cffi bindings and the C pointers it wraps.

Theory of operation
-------------------
zerotls needs a few OpenSSL calls that pyOpenSSL does not wrap: a C-level verify callback that
can set the X.509 error (and so pick the alert), the certificate-status callback for OCSP, the
verification time, SAN-only host checks, and a read/write path over the memory BIOs without a
Python exception per record. All of them reach into pyOpenSSL internals (``OpenSSL._util``,
``Connection._ssl``, ``Context._context``, ``X509._from_raw_x509_ptr`` ...), which pyOpenSSL may
rename in any release. They are all here, behind small typed functions, so that a pyOpenSSL
upgrade touches this one file: no other module of zerotls imports ``OpenSSL._util`` or reads an
underscored attribute of a pyOpenSSL object.

Hot loops (the engine's ``SSL_read``/``SSL_write`` loops) must not pay a Python call per record,
so :data:`lib` and :data:`ffi` are exported for them, together with :func:`ssl_ptr` and
:func:`out_bio` to fetch the pointers once per connection. Everything else goes through a
function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from cryptography import x509
from OpenSSL import SSL, crypto
from OpenSSL._util import ffi as _ffi
from OpenSSL._util import lib as _lib

lib: Any = _lib
"""OpenSSL's cffi library object (for hot loops only; wrap anything else here)."""
ffi: Any = _ffi
"""The cffi ``FFI`` instance that goes with :data:`lib`."""

alloc: Any = _ffi.new_allocator(should_clear_after_alloc=False)
"""A cffi allocator for buffers that are overwritten at once (no zeroing)."""

# X.509 verification error codes (x509_vfy.h) that zerotls explains or sets.
X509_V_ERR_APPLICATION_VERIFICATION: Final[int] = int(_lib.X509_V_ERR_APPLICATION_VERIFICATION)
X509_V_ERR_CERT_HAS_EXPIRED: Final[int] = int(_lib.X509_V_ERR_CERT_HAS_EXPIRED)
X509_V_ERR_CERT_NOT_YET_VALID: Final[int] = int(_lib.X509_V_ERR_CERT_NOT_YET_VALID)
X509_V_ERR_CERT_REJECTED: Final[int] = int(_lib.X509_V_ERR_CERT_REJECTED)
X509_V_ERR_CERT_REVOKED: Final[int] = int(_lib.X509_V_ERR_CERT_REVOKED)
X509_V_ERR_CERT_UNTRUSTED: Final[int] = int(_lib.X509_V_ERR_CERT_UNTRUSTED)
X509_V_ERR_CRL_HAS_EXPIRED: Final[int] = int(_lib.X509_V_ERR_CRL_HAS_EXPIRED)
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: Final[int] = int(
    _lib.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
)
X509_V_ERR_HOSTNAME_MISMATCH: Final[int] = int(_lib.X509_V_ERR_HOSTNAME_MISMATCH)
X509_V_ERR_INVALID_PURPOSE: Final[int] = int(_lib.X509_V_ERR_INVALID_PURPOSE)
X509_V_ERR_IP_ADDRESS_MISMATCH: Final[int] = int(_lib.X509_V_ERR_IP_ADDRESS_MISMATCH)
X509_V_ERR_NO_EXPLICIT_POLICY: Final[int] = int(_lib.X509_V_ERR_NO_EXPLICIT_POLICY)
X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: Final[int] = int(_lib.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)
X509_V_ERR_UNABLE_TO_GET_CRL: Final[int] = int(_lib.X509_V_ERR_UNABLE_TO_GET_CRL)
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: Final[int] = int(_lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: Final[int] = int(
    _lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
)
X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: Final[int] = int(
    _lib.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
)

# Return values of the certificate-status callback on a server.
SSL_TLSEXT_ERR_OK: Final[int] = int(_lib.SSL_TLSEXT_ERR_OK)
SSL_TLSEXT_ERR_NOACK: Final[int] = int(_lib.SSL_TLSEXT_ERR_NOACK)

_SSL_EX_INDEX = _lib.SSL_get_ex_data_X509_STORE_CTX_idx()


# -- pointers ---------------------------------------------------------------------------------


def ssl_ptr(conn: SSL.Connection) -> Any:
    """The ``SSL *`` of a pyOpenSSL connection (fixed for the connection's life)."""
    return conn._ssl


def out_bio(conn: SSL.Connection) -> Any:
    """The memory BIO OpenSSL writes records into (a connection made without a socket)."""
    return conn._from_ssl


def in_bio(conn: SSL.Connection) -> Any:
    """The memory BIO OpenSSL reads records from (what the network brought)."""
    return conn._into_ssl


def address(ptr: Any) -> int:
    """A C pointer as an integer (the key of per-connection state found from a callback)."""
    return int(_ffi.cast("uintptr_t", ptr))


# -- contexts ---------------------------------------------------------------------------------


def disable_partial_writes(ctx: SSL.Context) -> None:
    """Clear ``SSL_MODE_ENABLE_PARTIAL_WRITE``, which pyOpenSSL turns on."""
    _lib.SSL_CTX_clear_mode(ctx._context, _lib.SSL_MODE_ENABLE_PARTIAL_WRITE)


SSL_MODE_NO_AUTO_CHAIN = 0x00000008
"""From ``openssl/ssl.h`` (stable since 1.0.2; cryptography's bindings do not name it)."""


def disable_auto_chain(ctx: SSL.Context) -> None:
    """Set ``SSL_MODE_NO_AUTO_CHAIN``: send the chain we give, and do not build one from the
    trust store on every handshake (OpenSSL otherwise verifies our own leaf each time)."""
    _lib.SSL_CTX_set_mode(ctx._context, SSL_MODE_NO_AUTO_CHAIN)


def set_groups(ctx: SSL.Context, groups: str) -> bool:
    """Set the key-exchange group list (OpenSSL syntax); False when OpenSSL refuses it."""
    return bool(_lib.SSL_CTX_set1_curves_list(ctx._context, groups.encode()) == 1)


def verify_callback(func: Callable[[int, Any], int]) -> Any:
    """Wrap ``func(ok, store_ctx)`` as a C verify callback (keep the result referenced)."""
    return _ffi.callback("int (*)(int, X509_STORE_CTX *)", func)


def status_callback(func: Callable[[Any, Any], int]) -> Any:
    """Wrap ``func(ssl_ptr, arg)`` as a C certificate-status callback (keep it referenced)."""
    return _ffi.callback("int (*)(SSL *, void *)", func)


def set_verify(ctx: SSL.Context, mode: int, callback: Any = None) -> None:
    """``SSL_CTX_set_verify`` with a C callback from :func:`verify_callback` (or none)."""
    _lib.SSL_CTX_set_verify(ctx._context, mode, _ffi.NULL if callback is None else callback)


def set_status_callback(ctx: SSL.Context, callback: Any) -> None:
    """Install a C callback from :func:`status_callback` for OCSP stapling (both roles)."""
    _lib.SSL_CTX_set_tlsext_status_cb(ctx._context, callback)


def expect_peer_name(
    ctx: SSL.Context, *, host: bytes | None = None, ip: bytes | None = None
) -> bool:
    """Make chain verification check the peer's SANs for ``host`` (A-labels) or ``ip``
    (packed), never the subject CN and no partial wildcards; False when OpenSSL refuses."""
    param = _lib.SSL_CTX_get0_param(ctx._context)
    _lib.X509_VERIFY_PARAM_set_hostflags(
        param,
        _lib.X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | _lib.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
    )
    if ip is not None:
        return bool(_lib.X509_VERIFY_PARAM_set1_ip(param, ip, len(ip)) == 1)
    name = host or b""
    return bool(_lib.X509_VERIFY_PARAM_set1_host(param, name, len(name)) == 1)


def store_object_count(store: crypto.X509Store) -> int:
    """How many objects (certificates, CRLs) an X.509 store has loaded."""
    return int(_lib.sk_X509_OBJECT_num(_lib.X509_STORE_get0_objects(store._store)))


def default_cert_paths() -> tuple[str, str]:
    """The bundled OpenSSL's compiled-in default CA file and directory."""
    file = _ffi.string(_lib.X509_get_default_cert_file()).decode()
    directory = _ffi.string(_lib.X509_get_default_cert_dir()).decode()
    return str(file), str(directory)


def fallback_cert_locations() -> tuple[list[str], list[str]]:
    """pyOpenSSL's fallback CA files and directories (manylinux wheels); empty if it has none."""
    try:
        from OpenSSL.SSL import _CERTIFICATE_FILE_LOCATIONS, _CERTIFICATE_PATH_LOCATIONS
    except ImportError:  # pragma: no cover - a pyOpenSSL without the fallback
        return [], []
    return list(_CERTIFICATE_FILE_LOCATIONS), list(_CERTIFICATE_PATH_LOCATIONS)


# -- connections ------------------------------------------------------------------------------


def set_verify_time(conn: SSL.Connection, epoch: float) -> None:
    """Verify the peer's chain at ``epoch`` (seconds) instead of the system clock."""
    _lib.X509_VERIFY_PARAM_set_time(_lib.SSL_get0_param(conn._ssl), int(epoch))


def request_ocsp_staple(conn: SSL.Connection) -> None:
    """Clients: send ``status_request`` (ask the server to staple an OCSP response)."""
    _lib.SSL_set_tlsext_status_type(conn._ssl, _lib.TLSEXT_STATUSTYPE_ocsp)


def session_reused(conn: SSL.Connection) -> bool:
    """Whether the handshake resumed a session (pyOpenSSL has no wrapper for it)."""
    return bool(_lib.SSL_session_reused(conn._ssl))


def has_new_session(conn: SSL.Connection, base: SSL.Session) -> bool:
    """Whether the connection holds a session other than ``base`` (a new TLS 1.3 ticket)."""
    current = _lib.SSL_get_session(conn._ssl)
    return current not in (_ffi.NULL, base._session)


def verify_result(conn: SSL.Connection) -> int:
    """The X.509 error code of the peer's chain verification (0: none)."""
    return int(_lib.SSL_get_verify_result(conn._ssl))


def raise_ssl_error(conn: SSL.Connection, ptr: Any, result: int) -> None:
    """Raise pyOpenSSL's exception for a failed ``SSL_read``/``SSL_write`` returning ``result``
    (with the reasons queued by OpenSSL); returns only when there is none to raise."""
    conn._raise_ssl_error(ptr, result)


def bio_pending(bio: Any) -> int:
    """How many bytes a memory BIO holds (BIO_CTRL_INFO with a NULL pointer: one C call)."""
    return int(_lib.BIO_get_mem_data(bio, _ffi.NULL))


def bio_read(bio: Any, size: int) -> bytes:
    """Read up to ``size`` bytes from a memory BIO into a fresh buffer."""
    buf = alloc("char[]", size)
    got = _lib.BIO_read(bio, buf, size)
    return bytes(_ffi.buffer(buf, got)) if got > 0 else b""


def c_buffer(buf: bytearray) -> Any:
    """A C pointer to a bytearray's storage (valid while ``buf`` lives and is not resized)."""
    return _ffi.from_buffer(buf)


# -- inside callbacks -------------------------------------------------------------------------


def _certificate(ptr: Any) -> x509.Certificate:
    _lib.X509_up_ref(ptr)  # the wrapper below frees its reference when collected
    return crypto.X509._from_raw_x509_ptr(ptr).to_cryptography()


def store_ctx_ssl_address(store_ctx: Any) -> int:
    """The address of the ``SSL *`` whose chain an ``X509_STORE_CTX`` is verifying."""
    return address(_lib.X509_STORE_CTX_get_ex_data(store_ctx, _SSL_EX_INDEX))


def store_ctx_depth(store_ctx: Any) -> int:
    """The depth of the certificate being verified (0: the leaf)."""
    return int(_lib.X509_STORE_CTX_get_error_depth(store_ctx))


def store_ctx_error(store_ctx: Any) -> int:
    """The X.509 error OpenSSL found at the current certificate."""
    return int(_lib.X509_STORE_CTX_get_error(store_ctx))


def store_ctx_set_error(store_ctx: Any, errno: int) -> None:
    """Set the X.509 error of a refusal (it picks the alert the peer receives)."""
    _lib.X509_STORE_CTX_set_error(store_ctx, errno)


def store_ctx_cert(store_ctx: Any) -> x509.Certificate:
    """The certificate being verified."""
    return _certificate(_lib.X509_STORE_CTX_get_current_cert(store_ctx))


def store_ctx_leaf(store_ctx: Any) -> x509.Certificate:
    """The certificate an ``X509_STORE_CTX`` verifies (the peer's leaf), at any depth."""
    return _certificate(_lib.X509_STORE_CTX_get0_cert(store_ctx))


def verified_chain(ssl: Any) -> list[x509.Certificate]:
    """The chain OpenSSL verified for the peer of ``SSL *``, leaf first (empty before)."""
    stack = _lib.SSL_get0_verified_chain(ssl)
    if stack == _ffi.NULL:
        return []
    return [_certificate(_lib.sk_X509_value(stack, i)) for i in range(_lib.sk_X509_num(stack))]


def ocsp_response(ssl: Any) -> bytes:
    """Clients: the OCSP response the server stapled (empty when none)."""
    out = _ffi.new("unsigned char **")
    size = _lib.SSL_get_tlsext_status_ocsp_resp(ssl, out)
    return bytes(_ffi.buffer(out[0], size)) if size > 0 and out[0] != _ffi.NULL else b""


def set_ocsp_response(ssl: Any, staple: bytes) -> bool:
    """Servers: staple ``staple`` (OpenSSL takes a copy it frees); False when out of memory."""
    buf = _lib.OPENSSL_malloc(len(staple))  # OpenSSL takes ownership and frees it
    if buf == _ffi.NULL:  # pragma: no cover
        return False
    _ffi.memmove(buf, staple, len(staple))
    _lib.SSL_set_tlsext_status_ocsp_resp(ssl, buf, len(staple))
    return True


def x509_error_text(errno: int) -> str:
    """OpenSSL's description of a certificate verification error code."""
    return str(_ffi.string(_lib.X509_verify_cert_error_string(errno)).decode())


# -- handshake message watching (the auditor) ---------------------------------------------

_SEEN_MESSAGES: dict[int, list[int]] = {}
"""SSL* address -> handshake message types received, for connections being watched."""


def _on_message(  # noqa: PLR0917 - the C signature of SSL_CTX_set_msg_callback
    write_p: int, version: int, content_type: int, buf: Any, length: int, ssl: Any, arg: Any
) -> None:
    # Received (write_p 0) handshake records (22); in TLS 1.3 OpenSSL reports the decrypted
    # inner messages the same way, so an encrypted CertificateRequest is seen too.
    if write_p == 0 and content_type == 22 and length > 0:
        seen = _SEEN_MESSAGES.get(int(_ffi.cast("uintptr_t", ssl)))
        if seen is not None:
            seen.append(int(_ffi.cast("const unsigned char *", buf)[0]))


_message_callback: Any = _ffi.callback(
    "void(int, int, int, const void *, size_t, SSL *, void *)", _on_message
)


def watch_handshake_messages(ctx: SSL.Context) -> None:
    """Record the type of every handshake message received on ``ctx``'s watched connections."""
    _lib.SSL_CTX_set_msg_callback(ctx._context, _message_callback)


def watch(conn: SSL.Connection) -> list[int]:
    """Start recording ``conn``'s received handshake message types; returns the live list."""
    seen: list[int] = []
    _SEEN_MESSAGES[int(_ffi.cast("uintptr_t", conn._ssl))] = seen
    return seen


def unwatch(conn: SSL.Connection) -> None:
    _SEEN_MESSAGES.pop(int(_ffi.cast("uintptr_t", conn._ssl)), None)


def session_max_early_data(session: SSL.Session) -> int:
    """The most 0-RTT early data the server said it accepts with this session (its ticket's
    early_data extension, RFC 8446 §4.6.1); 0: none."""
    return int(_lib.SSL_SESSION_get_max_early_data(session._session))
