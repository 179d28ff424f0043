"""The legacy-TLS detector: deprecated TLS versions, weak and rare cipher suites."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.detectors._common import Scored, Table, _finish, _rows
from zerotls.monitor.features import Settings
from zerotls.monitor.schema import LEGACY_TLS_VERSIONS

__all__ = ["legacy_tls"]

WEAK_CIPHER_MARKERS: Final = ("RC4", "DES", "NULL", "EXPORT", "EXP-", "ANON", "ADH", "MD5", "IDEA")


# ---------------------------------------------------------------------------------------------
# Legacy TLS, weak and rare ciphers


def _weak_cipher(cipher: str | None) -> bool:
    if not cipher:
        return False
    upper = cipher.upper()
    return any(m in upper for m in WEAK_CIPHER_MARKERS) or "3DES" in upper


def legacy_tls(tls: Table, ciphers: Table, settings: Settings) -> Scored:
    """TLS versions deprecated by RFC 8996 / RFC 7568, weak cipher suites, and ciphers almost
    nobody else in the fleet negotiates."""
    totals = {r["cipher"]: r for r in _rows(ciphers)}
    all_tls = sum(int(r["n"]) for r in totals.values()) or 1
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    population: list[float] = []
    for r in _rows(tls):
        grouped[(r["identity"], r["dst"])].append(r)
    alerts = []
    for (identity, dst), items in grouped.items():
        issues: list[str] = []
        score = 0.0
        for r in items:
            version, cipher = r["tls_version"], r["cipher"]
            if version in LEGACY_TLS_VERSIONS:
                issues.append(f"{version} ({r['n']} connection(s))")
                score = max(score, 1.0 if version.startswith("SSL") else 0.9)
            if _weak_cipher(cipher):
                issues.append(f"weak cipher {cipher}")
                score = max(score, 0.85)
            elif cipher in totals:
                share = totals[cipher]["n"] / all_tls
                if share < settings.rare_cipher_share and totals[cipher]["identities"] <= 2:
                    issues.append(f"rare cipher {cipher} ({share * 100:.3f} % of TLS connections)")
                    score = max(score, 0.5)
        population.append(score)
        if not issues:
            continue
        versions: dict[str, int] = defaultdict(int)
        for r in items:
            versions[str(r["tls_version"] or "unknown")] += int(r["n"])
        fleet = sorted(totals.values(), key=lambda t: -t["n"])[:6]
        alerts.append(
            Alert(
                detector="legacy-tls",
                identity=identity,
                destination=dst,
                start=float(min(r["first_ts"] for r in items)),
                end=float(max(r["last_ts"] for r in items)),
                score=score,
                summary=f"{identity} to {dst}: {'; '.join(sorted(set(issues)))}",
                why="TLS 1.0/1.1 and SSL are deprecated (RFC 8996, RFC 7568) and weak or unusual "
                "ciphers mean an old or unusual client or server: find which, and upgrade it or "
                "put the zerotls tunnel in front of it",
                evidence={
                    "issues": sorted(set(issues)),
                    "versions": dict(versions),
                    "ciphers": sorted({str(r["cipher"]) for r in items if r["cipher"]}),
                },
                plot=Plot(
                    kind="bars",
                    title="cipher suites across the fleet vs this pair",
                    x_label="cipher",
                    y_label="connections",
                    baseline=tuple((str(t["cipher"]), float(t["n"])) for t in fleet),
                    observed=tuple((str(r["cipher"]), float(r["n"])) for r in items if r["cipher"]),
                ),
            )
        )
    return _finish(alerts, population)
