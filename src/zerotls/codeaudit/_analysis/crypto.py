"""Ciphers and key generation: cryptography's primitives and PyCryptodome (or pyCrypto)."""

from __future__ import annotations

from zerotls.codeaudit._analysis.base import Analysis, Call, Model, qual_of
from zerotls.codeaudit._values import Const, Inst, Value

__all__ = ["MODEL"]

_BROKEN_CIPHERS = {
    "cryptography.hazmat.primitives.ciphers.algorithms.ARC4": "RC4",
    "cryptography.hazmat.primitives.ciphers.algorithms.TripleDES": "3DES",
    "cryptography.hazmat.primitives.ciphers.algorithms.Blowfish": "Blowfish",
    "cryptography.hazmat.primitives.ciphers.algorithms.CAST5": "CAST5",
    "cryptography.hazmat.primitives.ciphers.algorithms.IDEA": "IDEA",
    "cryptography.hazmat.primitives.ciphers.algorithms.SEED": "SEED",
    "cryptography.hazmat.primitives.ciphers.algorithms.RC2": "RC2",
    "cryptography.hazmat.primitives.ciphers.modes.ECB": "ECB mode",
    "Crypto.Cipher.ARC2.new": "RC2",
    "Crypto.Cipher.ARC4.new": "RC4",
    "Crypto.Cipher.Blowfish.new": "Blowfish",
    "Crypto.Cipher.CAST.new": "CAST5",
    "Crypto.Cipher.DES.new": "DES",
    "Crypto.Cipher.DES3.new": "3DES",
    "Crypto.Cipher.XOR.new": "XOR",
}
_ECB_CONSTANTS = {"Crypto.Cipher.AES.MODE_ECB", "Crypto.Cipher.DES3.MODE_ECB"}
_WEAK_CURVES = {
    f"cryptography.hazmat.primitives.asymmetric.ec.{c}": c
    for c in ("SECP192R1", "SECT163K1", "SECT163R2")
}
_ASYMMETRIC = "cryptography.hazmat.primitives.asymmetric."
_KEY_GENERATORS = {
    f"{_ASYMMETRIC}rsa.generate_private_key",
    f"{_ASYMMETRIC}dsa.generate_private_key",
    f"{_ASYMMETRIC}ec.generate_private_key",
    "Crypto.PublicKey.RSA.generate",
    "Crypto.PublicKey.DSA.generate",
}


def _broken_cipher(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    an.hit("CRY003", call.node, f"{_BROKEN_CIPHERS[name]}: broken or unauthenticated")
    return Inst(name)


def _block_cipher(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    if qual_of(call.arg(1, "mode")) in _ECB_CONSTANTS:
        an.hit("CRY003", call.node, "ECB mode: equal blocks encrypt to equal ciphertext")
    return None


def _weak_key(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    """Key generation calls (the names in ``_KEY_GENERATORS``): too small a key or curve."""
    node = call.node
    size: Value = None
    if name == f"{_ASYMMETRIC}rsa.generate_private_key":
        size = call.arg(1, "key_size")
    elif name == f"{_ASYMMETRIC}dsa.generate_private_key":
        size = call.arg(0, "key_size")
    elif name in {"Crypto.PublicKey.RSA.generate", "Crypto.PublicKey.DSA.generate"}:
        size = call.arg(0, "bits")
    elif name == f"{_ASYMMETRIC}ec.generate_private_key":
        curve = qual_of(call.arg(0, "curve"))
        if curve in _WEAK_CURVES:
            an.hit("CRY002", node, f"elliptic curve {_WEAK_CURVES[curve]} (< 224 bits)")
        return None
    if isinstance(size, Const) and isinstance(size.value, int) and size.value < 2048:
        kind = "DSA" if ".dsa." in name.lower() or "DSA.generate" in name else "RSA"
        an.hit("CRY002", node, f"{size.value}-bit {kind} key")
    return None


MODEL = Model(
    calls={
        # A broken cipher is reported as such, whatever its mode: DES3.new is 3DES first.
        **dict.fromkeys({"Crypto.Cipher.AES.new", "Crypto.Cipher.DES3.new"}, _block_cipher),
        **dict.fromkeys(_BROKEN_CIPHERS, _broken_cipher),
        **dict.fromkeys(_KEY_GENERATORS, _weak_key),
    },
)
