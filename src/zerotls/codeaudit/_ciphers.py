"""Judge an OpenSSL cipher string without OpenSSL: which dangerous families does it enable?

The audit reads cipher strings from source (``ctx.set_ciphers("...")``); it cannot ask the
OpenSSL of the machine that will run them, and must not depend on the one it runs on. So this
is a syntactic model of the cipher-list format (``openssl-ciphers(1)``): tokens separated by
``:``, ``,`` or spaces; ``!X`` and ``-X`` remove, ``+X`` moves; ``A+B`` is the intersection of
A and B; full suite names such as ``ECDHE-RSA-AES128-GCM-SHA256`` name one suite.

A family counts as enabled when a positive token selects it and no ``!``/``-`` token removes
it. The model errs on the quiet side for aggregate aliases it cannot expand exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CipherVerdict", "judge_cipher_string"]

# Family -> the aliases that select it (upper case), per openssl-ciphers(1).
_BROKEN_ALIASES: dict[str, frozenset[str]] = {
    "anonymous (aNULL)": frozenset({"ANULL", "ADH", "AECDH", "COMPLEMENTOFALL"}),
    "no encryption (eNULL)": frozenset({"ENULL", "NULL", "COMPLEMENTOFALL"}),
    "export-grade": frozenset({"EXPORT", "EXP", "EXPORT40", "EXPORT56", "EXPORT1024"}),
    "low-strength": frozenset({"LOW"}),
    "RC4": frozenset({"RC4"}),
    "single DES": frozenset({"DES"}),
    "3DES": frozenset({"3DES"}),
    "MD5": frozenset({"MD5"}),
}
# A negative token removing any of these also removes the family.
_REMOVERS: dict[str, frozenset[str]] = {
    "anonymous (aNULL)": frozenset({"ANULL", "ADH", "AECDH"}),
    "no encryption (eNULL)": frozenset({"ENULL", "NULL"}),
    "export-grade": frozenset({"EXPORT", "EXP"}),
    "low-strength": frozenset({"LOW"}),
    "RC4": frozenset({"RC4"}),
    "single DES": frozenset({"DES"}),
    "3DES": frozenset({"3DES"}),  # "!DES" leaves 3DES in (openssl-ciphers(1))
    "MD5": frozenset({"MD5"}),
}
# Aggregates that include RSA key exchange unless it is removed or the token also names an
# ephemeral key exchange (e.g. "ECDHE+AESGCM").
_NOFS_AGGREGATES = frozenset(
    {
        "ALL",
        "HIGH",
        "MEDIUM",
        "AES",
        "AES128",
        "AES256",
        "AESGCM",
        "AESCCM",
        "CAMELLIA",
        "CAMELLIA128",
        "CAMELLIA256",
        "ARIA",
        "SHA",
        "SHA1",
        "SHA256",
        "SHA384",
    }
)
_RSA_KX = frozenset({"KRSA", "RSA"})
_EPHEMERAL = frozenset({"ECDHE", "EECDH", "KEECDH", "KECDHE", "DHE", "EDH", "KEDH", "KDHE"})
_ALL_ANON = frozenset({"ALL"})  # ALL is "everything but eNULL": it includes aNULL suites


@dataclass(frozen=True, slots=True)
class CipherVerdict:
    """What a cipher string enables that it should not."""

    broken: tuple[str, ...]
    """Families with no authentication, no encryption or broken primitives (TLS006)."""
    no_forward_secrecy: tuple[str, ...]
    """Tokens that enable RSA key exchange (TLS007)."""


def _suite_families(name: str) -> tuple[list[str], bool]:
    """Families of one full suite name like ``EXP-RC4-MD5``; and whether it lacks FS."""
    parts = name.split("-")
    families: list[str] = []
    if parts[0] in {"ADH", "AECDH"}:
        families.append("anonymous (aNULL)")
    if "NULL" in parts:
        families.append("no encryption (eNULL)")
    if parts[0] in {"EXP", "EXP1024"}:
        families.append("export-grade")
    if "RC4" in parts:
        families.append("RC4")
    if "CBC3" in parts or "DES3" in parts:
        families.append("3DES")
    elif "DES" in parts:
        families.append("single DES")
    if parts[-1] == "MD5":
        families.append("MD5")
    ephemeral = parts[0] in {"ECDHE", "DHE", "EDH", "ADH", "AECDH"} or name.startswith("TLS_")
    psk = "PSK" in parts or "SRP" in parts
    return families, not ephemeral and not psk


def judge_cipher_string(text: str) -> CipherVerdict:
    """Find the dangerous families a cipher string enables.

    Args:
        text: an OpenSSL cipher list, e.g. ``"HIGH:!aNULL:!MD5"``.

    Returns:
        The broken families and the tokens without forward secrecy (both empty if fine).
    """
    tokens = [t for t in re.split(r"[:,\s]+", text.strip()) if t]
    removed: set[str] = set()
    for token in tokens:
        if token[0] in "!-":
            removed.update(p.upper() for p in token[1:].split("+"))
    broken: list[str] = []
    no_fs: list[str] = []
    for raw in tokens:
        if raw[0] in "!-":
            continue
        token, _, command = raw.lstrip("+").partition("@")  # "DEFAULT@SECLEVEL=2"
        if command.upper().replace(" ", "") == "SECLEVEL=0":
            broken.append("@SECLEVEL=0 (every OpenSSL safety limit lifted)")
        if not token:
            continue
        upper = token.upper()
        parts = upper.split("+")
        if len(parts) == 1 and "-" in upper and upper not in _BROKEN_ALIASES:
            families, lacks_fs = _suite_families(upper)
            broken.extend(f"{f} ({token})" for f in families)
            if lacks_fs and not families and not removed & _RSA_KX:
                no_fs.append(token)
            continue
        for family, aliases in _BROKEN_ALIASES.items():
            if set(parts) & aliases and not removed & _REMOVERS[family]:
                broken.append(f"{family} ({token})")
        if set(parts) & _ALL_ANON and not removed & _REMOVERS["anonymous (aNULL)"]:
            broken.append(f"anonymous (aNULL) ({token})")
        ephemeral = bool(set(parts) & _EPHEMERAL)
        selects_rsa_kx = bool(set(parts) & (_RSA_KX | _NOFS_AGGREGATES))
        if selects_rsa_kx and not ephemeral and not removed & _RSA_KX:
            no_fs.append(token)
    return CipherVerdict(tuple(dict.fromkeys(broken)), tuple(dict.fromkeys(no_fs)))
