"""pyOpenSSL (:mod:`OpenSSL.SSL`, :mod:`OpenSSL.crypto`): contexts, connections, keys."""

from __future__ import annotations

import ast

from zerotls.codeaudit._analysis.base import (
    Analysis,
    Call,
    Model,
    Scope,
    mark_wrapped,
    objs_in,
    qual_of,
)
from zerotls.codeaudit._values import Const, Func, Obj, Value

__all__ = ["MODEL"]

_OSSL_GENERIC = {
    "OpenSSL.SSL.SSLv23_METHOD",
    "OpenSSL.SSL.TLS_METHOD",
    "OpenSSL.SSL.TLS_CLIENT_METHOD",
    "OpenSSL.SSL.TLS_SERVER_METHOD",
}
_OSSL_FLOOR_OK = {"OpenSSL.SSL.TLS1_2_VERSION", "OpenSSL.SSL.TLS1_3_VERSION"}


# --- calls --------------------------------------------------------------------------------


def _context(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    if "method" in call.kwargs:
        arg_node: ast.expr | None = call.kwargs["method"][1]
    else:
        arg_node = call.node.args[0] if call.node.args else None
    method_names = _branch_quals(an, arg_node, call.arg(0, "method"), call.scope)
    generic = bool(method_names & _OSSL_GENERIC)
    client_only = method_names == {"OpenSSL.SSL.TLS_CLIENT_METHOD"}
    return an.track("ossl_ctx", call.node, "pyOpenSSL", generic=generic, client=client_only)


def _connection(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    for obj in objs_in(call.arg(0, "context")):
        consumed.add(id(obj))
    mark_wrapped(call.arg(1, "socket"), consumed)
    return an.track("tls_socket", call.node)


def _branch_quals(an: Analysis, arg_node: ast.expr | None, value: Value, scope: Scope) -> set[str]:
    """Dotted names an argument can take: both branches of ``a if c else b``."""
    names = {n for n in [qual_of(value)] if n}
    if isinstance(arg_node, ast.IfExp):
        for branch in (arg_node.body, arg_node.orelse):
            resolved = qual_of(an.resolve(branch, scope))
            if resolved:
                names.add(resolved)
    return names


# --- methods ------------------------------------------------------------------------------


def _set_verify(an: Analysis, receiver: Value, call: Call, consumed: set[int]) -> Value:
    mode = qual_of(call.arg(0, "mode"))
    if isinstance(receiver, Obj):
        receiver.state["verify_called"] = True
    if mode == "OpenSSL.SSL.VERIFY_NONE":
        an.hit("TLS004", call.node, "set_verify(VERIFY_NONE): the peer is not verified")
        return None
    callback = call.arg(1, "callback")
    if isinstance(callback, Func) and _always_true(callback.node):
        an.hit(
            "TLS004",
            call.node,
            "the verify callback returns true for every certificate: any chain is accepted",
            "Return the preverify result (the last argument, `ok`) and add your checks on "
            "top; or let zerotls verify: zerotls.tls.context.TLSContext(ClientConfig(...)).",
        )
    return None


def _set_min_proto_version(an: Analysis, receiver: Value, call: Call, consumed: set[int]) -> Value:
    version = call.arg(0, "version")
    if isinstance(version, Const) and version.value == 0:
        an.hit(
            "TLS001",
            call.node,
            "set_min_proto_version(0) allows the oldest version the OpenSSL build has",
        )
    elif isinstance(receiver, Obj) and receiver.kind == "ossl_ctx":
        receiver.state["floor"] = True
    return None


def _set_options(an: Analysis, receiver: Value, call: Call, consumed: set[int]) -> Value:
    if not (isinstance(receiver, Obj) and receiver.kind == "ossl_ctx"):
        return None
    arg = call.node.args[0] if call.node.args else None
    if arg is not None:
        names = an.quals_in(arg, call.scope)
        if {"OpenSSL.SSL.OP_NO_TLSv1", "OpenSSL.SSL.OP_NO_TLSv1_1"} <= names:
            receiver.state["floor"] = True
    return None


def _generate_key(an: Analysis, receiver: Value, call: Call, consumed: set[int]) -> Value:
    if qual_of(receiver) == "OpenSSL.crypto.PKey":
        bits = call.arg(1, "bits")
        if isinstance(bits, Const) and isinstance(bits.value, int) and bits.value < 2048:
            an.hit("CRY002", call.node, f"{bits.value}-bit key generated with pyOpenSSL")
    return None


def _always_true(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> bool:
    """Whether a verify callback returns a true constant on every path we can see."""
    if isinstance(node, ast.Lambda):
        return _true_constant(node.body)
    returns = [n for n in ast.walk(node) if isinstance(n, ast.Return)]
    return bool(returns) and all(r.value is not None and _true_constant(r.value) for r in returns)


def _true_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is not False and bool(node.value)


# --- judged at the end --------------------------------------------------------------------


def _finish_context(an: Analysis, obj: Obj) -> None:
    if obj.state.get("generic") and not obj.state.get("floor"):
        an.hit(
            "TLS002",
            obj.node,
            "pyOpenSSL context without set_min_proto_version: the protocol floor "
            "is whatever the OpenSSL build allows",
            stmt_line=obj.stmt_line,
        )
    if obj.state.get("client") and not obj.state.get("verify_called") and not obj.escaped:
        an.hit(
            "TLS004",
            obj.node,
            "pyOpenSSL client context never calls set_verify: it verifies "
            "nothing (VERIFY_NONE is the default)",
            "ctx.set_verify(SSL.VERIFY_PEER) with ctx.set_default_verify_paths() "
            "or load_verify_locations(); or zerotls.tls.context.TLSContext("
            "ClientConfig(server_name=host)).",
            stmt_line=obj.stmt_line,
        )


MODEL = Model(
    calls={"OpenSSL.SSL.Context": _context, "OpenSSL.SSL.Connection": _connection},
    methods={
        "set_verify": _set_verify,
        "set_min_proto_version": _set_min_proto_version,
        "set_options": _set_options,
        "generate_key": _generate_key,
    },
    finishers={"ossl_ctx": _finish_context},
    known=frozenset(_OSSL_GENERIC | _OSSL_FLOOR_OK),
)
