"""Compliance with Mozilla's Server Side TLS profiles, "modern" and "intermediate" (v5.7).

Each profile is data (allowed protocols, suites, groups, certificate keys, DH size, maximum
certificate lifespan); :func:`check_profile` lists every way the scanned configuration steps
outside it, each with the fix. Post-quantum hybrid groups (X25519MLKEM768 and friends) are
accepted beside the profile's groups: they only add protection. Profiles judge configuration,
not trust: an expired or mismatched certificate is a finding and a grade, not a violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zerotls.audit.model import (
    CertificateResult,
    GroupsResult,
    ProfileResult,
    ProtocolsResult,
    Violation,
)

__all__ = ["PROFILES", "Profile", "check_profile", "check_profiles"]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    protocols: frozenset[str]
    tls13_suites: frozenset[int]
    tls12_suites: frozenset[int]
    groups: frozenset[str]
    certificate: str
    """Human description of the accepted certificate keys."""
    rsa_min_bits: int | None
    """None: RSA certificates are not allowed."""
    curves: frozenset[str]
    dh_min_bits: int
    max_lifespan_days: int
    protocols_fix: str
    suites_fix: str


_TLS13 = frozenset({0x1301, 0x1302, 0x1303})
_INTERMEDIATE_TLS12 = frozenset(
    {0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0x009E, 0x009F, 0xCCAA}
)
_GROUPS = frozenset({"x25519", "secp256r1", "secp384r1"})

PROFILES: dict[str, Profile] = {
    "modern": Profile(
        name="modern",
        protocols=frozenset({"TLS 1.3"}),
        tls13_suites=_TLS13,
        tls12_suites=frozenset(),
        groups=_GROUPS,
        certificate="ECDSA P-256 (or P-384)",
        rsa_min_bits=None,
        curves=frozenset({"secp256r1", "secp384r1"}),
        dh_min_bits=0,
        max_lifespan_days=90,
        protocols_fix="nginx `ssl_protocols TLSv1.3;` · Apache `SSLProtocol -all +TLSv1.3`",
        suites_fix="TLS 1.3 suites AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 only: "
        "OpenSSL `Ciphersuites = TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
        "TLS_CHACHA20_POLY1305_SHA256`",
    ),
    "intermediate": Profile(
        name="intermediate",
        protocols=frozenset({"TLS 1.2", "TLS 1.3"}),
        tls13_suites=_TLS13,
        tls12_suites=_INTERMEDIATE_TLS12,
        groups=_GROUPS,
        certificate="RSA 2048+ or ECDSA P-256 (or P-384)",
        rsa_min_bits=2048,
        curves=frozenset({"secp256r1", "secp384r1"}),
        dh_min_bits=2048,
        max_lifespan_days=366,
        protocols_fix="nginx `ssl_protocols TLSv1.2 TLSv1.3;` · Apache "
        "`SSLProtocol -all +TLSv1.2 +TLSv1.3`",
        suites_fix="nginx `ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
        "ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
        "DHE-RSA-CHACHA20-POLY1305;`",
    ),
}
"""Mozilla Server Side TLS 5.7 profiles by name."""


def check_profile(profile: Profile, results: dict[str, Any]) -> ProfileResult:
    """Every violation of ``profile`` in the scan results."""
    out: list[Violation] = []
    protocols = results.get("protocols")
    if isinstance(protocols, ProtocolsResult):
        supported = set(protocols.supported)
        for extra in sorted(supported - profile.protocols):
            out.append(Violation(f"{extra} is enabled", "disable it: " + profile.protocols_fix))
        if not supported & profile.protocols:
            wanted = " or ".join(sorted(profile.protocols))
            out.append(Violation(f"{wanted} is not supported", profile.protocols_fix))
        for v in protocols.versions:
            if not v.supported or v.version not in profile.protocols:
                continue
            allowed = profile.tls13_suites if v.code == 0x0304 else profile.tls12_suites
            extra_suites = [s.name for s in v.suites if s.code not in allowed]
            if extra_suites:
                out.append(
                    Violation(
                        f"{v.version} accepts suites outside the profile: "
                        + ", ".join(extra_suites[:6])
                        + (f" and {len(extra_suites) - 6} more" if len(extra_suites) > 6 else ""),
                        profile.suites_fix,
                    )
                )
            small_dh = sorted({s.dh_bits for s in v.suites if s.dh_bits is not None})
            if small_dh and small_dh[0] < profile.dh_min_bits:
                out.append(
                    Violation(
                        f"DH parameters of {small_dh[0]} bits",
                        f"use the RFC 7919 ffdhe{profile.dh_min_bits} group",
                    )
                )
    groups = results.get("groups")
    if isinstance(groups, GroupsResult):
        extra_groups = [
            g.name for g in groups.groups if g.name not in profile.groups and not g.post_quantum
        ]
        if extra_groups:
            out.append(
                Violation(
                    "key exchange groups outside the profile: " + ", ".join(extra_groups),
                    "nginx `ssl_ecdh_curve X25519MLKEM768:X25519:prime256v1:secp384r1;`",
                )
            )
    cert = results.get("certificate")
    if isinstance(cert, CertificateResult) and cert.chain:
        leaf = cert.chain[0]
        key_ok = (leaf.key_type == "EC" and leaf.curve in profile.curves) or (
            leaf.key_type == "RSA"
            and profile.rsa_min_bits is not None
            and leaf.key_bits >= profile.rsa_min_bits
        )
        if not key_ok:
            described = f"{leaf.key_type} {leaf.curve or leaf.key_bits}"
            out.append(
                Violation(
                    f"certificate key {described} is not {profile.certificate}",
                    f"reissue the certificate with {profile.certificate}",
                )
            )
        if cert.lifetime_days is not None and cert.lifetime_days > profile.max_lifespan_days:
            out.append(
                Violation(
                    f"certificate lifespan of {cert.lifetime_days:.0f} days exceeds "
                    f"{profile.max_lifespan_days}",
                    f"issue certificates valid for at most {profile.max_lifespan_days} days "
                    "and renew them automatically",
                )
            )
    unknown = [
        name
        for name, kind in (("protocols", ProtocolsResult), ("certificate", CertificateResult))
        if not isinstance(results.get(name), kind) or getattr(results[name], "error", None)
    ]
    if unknown:  # never "compliant" for want of evidence: a --profile gate must not pass
        out.append(
            Violation(
                f"not checked: the {' and '.join(unknown)} probe"
                f"{'s' if len(unknown) > 1 else ''} did not run or did not conclude",
                f"run them (add {','.join(unknown)} to --probes) and see their errors",
            )
        )
    return ProfileResult(profile.name, not out, tuple(out))


def check_profiles(results: dict[str, Any]) -> tuple[ProfileResult, ...]:
    """Compliance with every profile."""
    return tuple(check_profile(p, results) for p in PROFILES.values())
