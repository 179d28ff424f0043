"""Digests and MACs: :mod:`hashlib`, :mod:`hmac`, cryptography's hashes and HMAC,
PyCryptodome's hashes; and the encoders a MAC value keeps its identity through."""

from __future__ import annotations

import ast

from zerotls.codeaudit._analysis.base import (
    UNMODELLED,
    Analysis,
    Call,
    Model,
    Unmodelled,
    is_false,
    is_mac,
    qual_of,
)
from zerotls.codeaudit._values import Const, Inst, Obj, Value

__all__ = ["MODEL"]

_WEAK_DIGEST_QUALS = {
    "hashlib.md5": "MD5",
    "hashlib.sha1": "SHA-1",
    "Crypto.Hash.MD5": "MD5",
    "Crypto.Hash.SHA": "SHA-1",
    "Crypto.Hash.SHA1": "SHA-1",
    "cryptography.hazmat.primitives.hashes.MD5": "MD5",
    "cryptography.hazmat.primitives.hashes.SHA1": "SHA-1",
}
_WEAK_DIGEST_NAMES = {"md5": "MD5", "md4": "MD4", "sha1": "SHA-1", "sha-1": "SHA-1", "sha": "SHA-1"}
_WEAK_HASH_CALLS = {
    "hashlib.md5": "MD5",
    "hashlib.sha1": "SHA-1",
    "cryptography.hazmat.primitives.hashes.MD5": "MD5",
    "cryptography.hazmat.primitives.hashes.SHA1": "SHA-1",
    "Crypto.Hash.MD5.new": "MD5",
    "Crypto.Hash.MD4.new": "MD4",
    "Crypto.Hash.SHA.new": "SHA-1",
    "Crypto.Hash.SHA1.new": "SHA-1",
}
_MAC_ENCODERS = {
    "base64.b64encode",
    "base64.urlsafe_b64encode",
    "base64.b16encode",
    "base64.b32encode",
    "base64.encodebytes",
    "binascii.hexlify",
    "binascii.b2a_hex",
    "binascii.b2a_base64",
    "builtins.str",
    "builtins.bytes",
}
_MAC_STR_METHODS = {"hex", "decode", "encode", "lower", "upper", "strip", "rstrip", "lstrip"}


# --- calls --------------------------------------------------------------------------------


def _hmac_new(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    _mac_digest(an, call, 2, "digestmod", name)
    return an.track("hmac", call.node)


def _hmac_digest(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    _mac_digest(an, call, 2, "digest", name)
    return an.mac_value(call.node)


def _cryptography_hmac(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    _mac_digest(an, call, 1, "algorithm", "cryptography HMAC")
    return an.track("chmac", call.node)


def _mac_encoder(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value | Unmodelled:
    if call.args and is_mac(call.args[0]):
        return an.mac_value(call.node)
    return UNMODELLED


def _hash(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    _weak_hash(an, name, call)
    return Inst(name)


def _mac_digest(an: Analysis, call: Call, position: int, keyword: str, what: str) -> None:
    digest = call.arg(position, keyword)
    name = qual_of(digest)
    weak = _WEAK_DIGEST_QUALS.get(name) if name else None
    if weak is None and isinstance(digest, Const) and isinstance(digest.value, str):
        weak = _WEAK_DIGEST_NAMES.get(digest.value.lower())
    if weak is None:
        return
    node: ast.expr = call.node
    if keyword in call.kwargs:
        node = call.kwargs[keyword][1]
    elif position < len(call.node.args):
        node = call.node.args[position]
    if isinstance(node, ast.Call):
        an.retract("HASH001", node)  # reported once, as the MAC's digest
    an.hit("MAC002", node, f"{what} with {weak}")


def _weak_hash(an: Analysis, name: str, call: Call) -> None:
    used, _ = call.kwargs.get("usedforsecurity", (None, call.node))
    if is_false(used):
        return
    if name == "hashlib.new":
        algo = call.arg(0, "name")
        if not (isinstance(algo, Const) and isinstance(algo.value, str)):
            return
        if algo.value.lower() not in _WEAK_DIGEST_NAMES:
            return
        an.hit("HASH001", call.node, f"hashlib.new({algo.value!r}) without usedforsecurity=False")
        return
    weak = _WEAK_HASH_CALLS[name]
    if name.startswith("hashlib."):
        an.hit("HASH001", call.node, f"{name}() without usedforsecurity=False")
    else:
        an.hit("HASH001", call.node, f"{weak} digest ({name.rsplit('.', 1)[-1]})")


# --- methods of MAC objects and values ----------------------------------------------------


def _hmac_method(an: Analysis, obj: Obj, method: str, call: Call) -> Value:
    if method in {"digest", "hexdigest"}:
        return an.mac_value(call.node)
    if method == "copy":
        return an.track("hmac", call.node)
    return None


def _cryptography_hmac_method(an: Analysis, obj: Obj, method: str, call: Call) -> Value:
    if method == "finalize":
        return an.mac_value(call.node)
    return None


def _mac_value_method(an: Analysis, obj: Obj, method: str, call: Call) -> Value:
    if method in _MAC_STR_METHODS:
        return an.mac_value(call.node)
    return None


MODEL = Model(
    calls={
        "hmac.new": _hmac_new,
        "hmac.HMAC": _hmac_new,
        "hmac.digest": _hmac_digest,
        "cryptography.hazmat.primitives.hmac.HMAC": _cryptography_hmac,
        **dict.fromkeys(_MAC_ENCODERS, _mac_encoder),
        **dict.fromkeys(_WEAK_HASH_CALLS, _hash),
        "hashlib.new": _hash,
    },
    object_methods={
        "hmac": _hmac_method,
        "chmac": _cryptography_hmac_method,
        "mac_value": _mac_value_method,
    },
    known=frozenset(set(_WEAK_DIGEST_QUALS) | {"hmac.new", "hmac.digest", "hmac.HMAC"}),
)
