"""Grades A+ to F, with T and M, after the SSL Labs SSL Server Rating Guide (a pure function).

The score is the guide's: protocol support (30 %), key exchange (30 %) and cipher strength
(40 %), each 0-100, turned into a letter (A ≥ 80, B ≥ 65, C ≥ 50, D ≥ 35, E ≥ 20, else F).
Then *caps* apply, as the guide's later revisions added them: a finding can only lower the
grade to a ceiling, and each cap carries the reason and the fix, so a report shows exactly
what stands between the server and an A. Trust problems show as ``T`` and a name mismatch as
``M``, with the grade the server would get without them beside it, as SSL Labs does. ``A+``
needs an A with no cap and HSTS of at least 180 days.

Caps (finding id → ceiling):

======================================  =========
SSLv2, export/NULL/anonymous suites,    F
Heartbleed, CCS injection, DH < 1024,
RSA < 1024, revoked certificate
SSLv3, RC4, DES, 3DES (Sweet32), no     C
TLS 1.2, compression, no secure
renegotiation
TLS 1.0 or 1.1, DTLS 1.0, DTLS with    B
no cookie exchange, no forward secrecy
at all (or a server that prefers
static RSA), DH < 2048, key < 2048,
incomplete chain
no AEAD suite, no TLS_FALLBACK_SCSV     A-
untrusted, self-signed, expired, not    T
yet valid, SHA-1 signed
host name mismatch                      M
======================================  =========
"""

from __future__ import annotations

from typing import Any

from zerotls.audit.model import (
    Cap,
    CertificateResult,
    Finding,
    GradeResult,
    HSTSResult,
    ProtocolsResult,
)

__all__ = ["CAPS", "GRADES", "grade", "meets", "worse"]

GRADES = ("A+", "A", "A-", "B", "C", "D", "E", "F")
"""Best first."""

CAPS: dict[str, str] = {
    "protocol.sslv2": "F",
    "cipher.export": "F",
    "cipher.null": "F",
    "cipher.anon": "F",
    "heartbleed": "F",
    "ccs_injection": "F",
    "robot": "F",
    "ticketbleed": "F",
    "kex.dh_insecure": "F",
    "ocsp.revoked": "F",
    "protocol.sslv3": "C",
    "cipher.rc4": "C",
    "cipher.des": "C",
    "cipher.3des": "C",
    "protocol.no_tls12": "C",
    "compression.enabled": "C",
    "reneg.insecure": "C",
    "protocol.tls10": "B",
    "protocol.tls11": "B",
    "protocol.dtls10": "B",
    "dtls.no_cookie": "B",
    "cipher.no_fs": "B",
    "kex.dh_weak": "B",
    "cert.weak_key": "B",
    "cert.incomplete_chain": "B",
    "cipher.no_aead": "A-",
    "fallback.missing": "A-",
    "cert.untrusted": "T",
    "cert.self_signed": "T",
    "cert.expired": "T",
    "cert.not_yet_valid": "T",
    "cert.sha1": "T",
    "cert.hostname": "M",
}
"""Finding id to the best grade still possible while it stands."""

_VERSION_SCORE = {
    "SSLv2": 0,
    "SSLv3": 80,
    "TLS 1.0": 90,
    "TLS 1.1": 95,
    "TLS 1.2": 100,
    "TLS 1.3": 100,
    "DTLS 1.0": 95,
    "DTLS 1.2": 100,
}
_HSTS_A_PLUS = 180 * 86400


def worse(a: str, b: str) -> str:
    """The lower of two letter grades."""
    return a if GRADES.index(a) >= GRADES.index(b) else b


def _letter(score: int) -> str:
    for threshold, letter in ((80, "A"), (65, "B"), (50, "C"), (35, "D"), (20, "E")):
        if score >= threshold:
            return letter
    return "F"


def _kex_points(bits: int) -> int:
    """Rating guide, key exchange: strength in RSA-equivalent bits."""
    if bits <= 0:
        return 0
    for limit, points in ((512, 20), (1024, 40), (2048, 80), (4096, 90)):
        if bits < limit:
            return points
    return 100


def _cipher_points(bits: int) -> int:
    if bits <= 0:
        return 0
    if bits < 128:
        return 20
    if bits < 256:
        return 80
    return 100


def _rsa_equivalent(key_type: str, bits: int) -> int:
    """NIST SP 800-57 part 1 table 2: EC key sizes to RSA moduli of the same strength."""
    if key_type in ("RSA", "DSA"):
        return bits
    if key_type in ("EC", "Ed25519", "Ed448"):
        for ec_bits, rsa_bits in ((160, 1024), (224, 2048), (256, 3072), (384, 7680)):
            if bits < ec_bits + 1:
                return rsa_bits
        return 15360
    return 0


def _scores(results: dict[str, Any]) -> tuple[int, int, int]:
    protocols = results.get("protocols")
    cert = results.get("certificate")
    if not isinstance(protocols, ProtocolsResult) or not protocols.supported:
        return 0, 0, 0
    scores = [_VERSION_SCORE.get(v, 0) for v in protocols.supported]
    protocol = (max(scores) + min(scores)) // 2
    suites = [s for v in protocols.versions if v.supported for s in v.suites]
    strengths: list[int] = []
    if isinstance(cert, CertificateResult) and cert.chain:
        leaf = cert.chain[0]
        strengths.append(_rsa_equivalent(leaf.key_type, leaf.key_bits))
    for s in suites:
        if "_anon_" in s.name:
            strengths.append(0)
        elif "EXPORT" in s.name:
            strengths.append(512)
        elif s.dh_bits is not None:
            strengths.append(s.dh_bits)
    key_exchange = _kex_points(min(strengths)) if strengths else 0
    bits = [s.bits for s in suites] or [0]
    cipher = (_cipher_points(max(bits)) + _cipher_points(min(bits))) // 2
    return protocol, key_exchange, cipher


def _prefers_static_kex(protocols: ProtocolsResult) -> bool:
    """Modern clients get no forward secrecy: no TLS 1.3, and the server's own first choice
    at its best version is a static key exchange."""
    if "TLS 1.3" in protocols.supported:
        return False
    best = next((v for v in reversed(protocols.versions) if v.supported and v.suites), None)
    return bool(best and best.server_preference and not best.suites[0].forward_secrecy)


def grade(results: dict[str, Any], findings: tuple[Finding, ...]) -> GradeResult:
    """Grade one target from its probe results and findings."""
    protocol, key_exchange, cipher = _scores(results)
    score = round(0.3 * protocol + 0.3 * key_exchange + 0.4 * cipher)
    letter = _letter(score)
    caps: list[Cap] = []
    for f in findings:
        ceiling = CAPS.get(f.id)
        if ceiling is not None:
            caps.append(Cap(ceiling, f"{f.title}: {f.detail}", f.fix, f.id))
    protocols = results.get("protocols")
    if isinstance(protocols, ProtocolsResult) and _prefers_static_kex(protocols):
        first = next(v for v in reversed(protocols.versions) if v.supported and v.suites)
        caps.append(
            Cap(
                "B",
                f"the server prefers {first.suites[0].name} (no forward secrecy) with "
                f"{first.version}",
                "prefer ECDHE suites (nginx `ssl_prefer_server_ciphers on;` with ECDHE first) "
                "or drop static RSA",
                "cipher.static_kex",
            )
        )
    cert = results.get("certificate")
    if isinstance(cert, CertificateResult) and cert.chain:
        leaf = cert.chain[0]
        if leaf.key_type in ("RSA", "DSA") and leaf.key_bits < 1024:
            caps.append(
                Cap(
                    "F",
                    f"certificate key of {leaf.key_bits} bits can be factored",
                    "reissue with ECDSA P-256 or RSA 2048+",
                    "cert.weak_key",
                )
            )
    if protocols is None:
        caps.append(
            Cap(
                "F",
                "not graded: the protocols probe did not run",
                "add protocols to --probes for a grade",
                "protocols",
            )
        )
    elif not isinstance(protocols, ProtocolsResult) or not protocols.supported:
        caps.append(Cap("F", "no protocol version could be established", "", "protocols"))
    trusted_grade = letter
    for cap in caps:
        if cap.grade not in ("T", "M"):
            trusted_grade = worse(trusted_grade, cap.grade)
    if trusted_grade == "A" and not caps:
        hsts = results.get("hsts")
        if isinstance(hsts, HSTSResult) and (hsts.max_age or 0) >= _HSTS_A_PLUS:
            trusted_grade = "A+"
    shown = trusted_grade
    if any(c.grade == "M" for c in caps):
        shown = "M"
    elif any(c.grade == "T" for c in caps):
        shown = "T"
    order = {g: i for i, g in enumerate(("F", "T", "M", "E", "D", "C", "B", "A-"))}
    return GradeResult(
        grade=shown,
        grade_if_trusted=trusted_grade,
        score=score,
        protocol_score=protocol,
        key_exchange_score=key_exchange,
        cipher_score=cipher,
        caps=tuple(sorted(caps, key=lambda c: order.get(c.grade, 99))),
    )


def meets(grade_result: GradeResult, minimum: str) -> bool:
    """Whether a grade is at least ``minimum`` (``T`` and ``M`` never meet a minimum)."""
    if grade_result.grade in ("T", "M"):
        return False
    return GRADES.index(grade_result.grade) <= GRADES.index(minimum)
