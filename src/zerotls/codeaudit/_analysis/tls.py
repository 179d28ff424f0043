"""The standard library's :mod:`ssl`: contexts, socket wrapping, protocol constants, ciphers.

The protocol and option tables name pyOpenSSL's constants too: the core judges them wherever
they appear (an argument, an assignment, an option mask), whichever library they come from.
"""

from __future__ import annotations

import ast

from zerotls.codeaudit._analysis.base import (
    Analysis,
    Call,
    Model,
    mark_wrapped,
    qual_of,
)
from zerotls.codeaudit._ciphers import judge_cipher_string
from zerotls.codeaudit._values import Const, Obj, Value

__all__ = [
    "CERT_NONE",
    "CERT_REQUIRED",
    "LEGACY_PROTOCOLS",
    "MODEL",
    "REENABLE_OPTIONS",
    "UNVERIFIED_HELPERS",
    "cipher_string",
]

LEGACY_PROTOCOLS = {
    "ssl.PROTOCOL_SSLv2": "SSLv2",
    "ssl.PROTOCOL_SSLv3": "SSLv3",
    "ssl.PROTOCOL_TLSv1": "TLS 1.0",
    "ssl.PROTOCOL_TLSv1_1": "TLS 1.1",
    "ssl.TLSVersion.SSLv3": "SSLv3",
    "ssl.TLSVersion.TLSv1": "TLS 1.0",
    "ssl.TLSVersion.TLSv1_1": "TLS 1.1",
    "OpenSSL.SSL.SSLv2_METHOD": "SSLv2",
    "OpenSSL.SSL.SSLv3_METHOD": "SSLv3",
    "OpenSSL.SSL.TLSv1_METHOD": "TLS 1.0",
    "OpenSSL.SSL.TLSv1_1_METHOD": "TLS 1.1",
    "OpenSSL.SSL.SSL3_VERSION": "SSLv3",
    "OpenSSL.SSL.TLS1_VERSION": "TLS 1.0",
    "OpenSSL.SSL.TLS1_1_VERSION": "TLS 1.1",
}
REENABLE_OPTIONS = {
    "ssl.OP_NO_SSLv2": "SSLv2",
    "ssl.OP_NO_SSLv3": "SSLv3",
    "ssl.OP_NO_TLSv1": "TLS 1.0",
    "ssl.OP_NO_TLSv1_1": "TLS 1.1",
    "OpenSSL.SSL.OP_NO_SSLv2": "SSLv2",
    "OpenSSL.SSL.OP_NO_SSLv3": "SSLv3",
    "OpenSSL.SSL.OP_NO_TLSv1": "TLS 1.0",
    "OpenSSL.SSL.OP_NO_TLSv1_1": "TLS 1.1",
}
_STDLIB_GENERIC = {"ssl.PROTOCOL_TLS", "ssl.PROTOCOL_SSLv23"}
UNVERIFIED_HELPERS = {"ssl._create_unverified_context", "ssl._create_stdlib_context"}
CERT_NONE = {"ssl.CERT_NONE"}
CERT_REQUIRED = {"ssl.CERT_REQUIRED"}


# --- calls --------------------------------------------------------------------------------


def _create_default_context(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    return an.track("ssl_ctx", call.node, "ssl")


def _ssl_context(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    protocol = call.arg(0, "protocol")
    proto = qual_of(protocol)
    generic = (not call.node.args and "protocol" not in call.kwargs) or (proto in _STDLIB_GENERIC)
    return an.track("ssl_ctx", call.node, "ssl", generic=generic)


def _unverified_context(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    return an.track("ssl_ctx", call.node, "ssl", verified=False)


def _wrap_socket(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    an.hit(
        "TLS008",
        call.node,
        "ssl.wrap_socket() verifies no certificate by default and never checks the "
        "host name (removed in Python 3.12)",
    )
    mark_wrapped(call.arg(0, "sock"), consumed)
    return an.track("tls_socket", call.node)


# --- methods ------------------------------------------------------------------------------


def _set_ciphers(an: Analysis, receiver: Value, call: Call, consumed: set[int]) -> Value:
    cipher_string(an, call.arg(0, "cipher_list"), call.node)
    return None


def _wrap_method(an: Analysis, receiver: Value, call: Call, consumed: set[int]) -> Value:
    mark_wrapped(call.arg(0, "sock"), consumed)
    return an.track("tls_socket", call.node)


def cipher_string(an: Analysis, value: Value, node: ast.AST) -> None:
    if not isinstance(value, Const) or not isinstance(value.value, str | bytes):
        return
    text = value.value.decode("latin-1") if isinstance(value.value, bytes) else value.value
    verdict = judge_cipher_string(text)
    if verdict.broken:
        an.hit(
            "TLS006",
            node,
            f"cipher string {text!r} enables {', '.join(verdict.broken)}",
        )
    if verdict.no_forward_secrecy:
        an.hit(
            "TLS007",
            node,
            f"cipher string {text!r} allows RSA key exchange (no forward secrecy) via "
            f"{', '.join(verdict.no_forward_secrecy)}",
        )


# --- judged at the end --------------------------------------------------------------------


def _finish_context(an: Analysis, obj: Obj) -> None:
    if obj.state.get("generic") and not obj.state.get("verified"):
        an.hit(
            "TLS009",
            obj.node,
            "SSLContext with a generic protocol starts with CERT_NONE and no host-name "
            "check, and verification is never switched on here",
            stmt_line=obj.stmt_line,
        )


MODEL = Model(
    calls={
        "ssl.create_default_context": _create_default_context,
        "ssl.SSLContext": _ssl_context,
        **dict.fromkeys(UNVERIFIED_HELPERS, _unverified_context),
        "ssl.wrap_socket": _wrap_socket,
    },
    methods={
        # pyOpenSSL's set_cipher_list too: the name is specific enough on any receiver.
        "set_ciphers": _set_ciphers,
        "set_cipher_list": _set_ciphers,
        "wrap_socket": _wrap_method,
        "wrap_bio": _wrap_method,
    },
    finishers={"ssl_ctx": _finish_context},
    known=frozenset(
        set(LEGACY_PROTOCOLS)
        | set(REENABLE_OPTIONS)
        | _STDLIB_GENERIC
        | UNVERIFIED_HELPERS
        | CERT_NONE
        | CERT_REQUIRED
        | {"ssl.SSLContext", "ssl.create_default_context", "ssl.wrap_socket"}
        | {"ssl.PROTOCOL_TLS_CLIENT", "ssl.PROTOCOL_TLS_SERVER"}
    ),
)
