"""Judge the facts the probes gathered: pure functions, no I/O, time passed in.

Each check has a status:

* ``ok``: nothing to do;
* ``info``: worth knowing, nothing wrong;
* ``warn``: weaker than it should be, or cannot be confirmed (a distribution may have
  backported a fix; the clock's synchronisation is unknown; an advisory affects a feature you
  may not use);
* ``unsafe``: this process is exposed now (an advisory reachable by any peer, a default
  client that accepts TLS 1.0, a clock that is provably wrong). ``zerotls doctor`` exits 1.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from zerotls.doctor.advisories import (
    ADVISORIES,
    OPENSSL_END_OF_LIFE,
    TABLE_DATE,
    Advisory,
    affected_by,
)
from zerotls.doctor.probes import (
    ClockState,
    PackageInfo,
    PipAuditResult,
    RuntimeInfo,
)
from zerotls.doctor.versions import (
    openssl_build_date,
    parse_openssl,
    parse_openssl_branch,
    parse_package,
)

__all__ = ["Check", "DoctorFacts", "Status", "build_checks", "check_openssl", "check_package"]

_LEGACY = ("SSLv3", "TLS 1.0", "TLS 1.1")
_STALE_TABLE = dt.timedelta(days=180)


class Status(enum.Enum):
    """A check's verdict, ordered ``ok < info < warn < unsafe``."""

    OK = "ok"
    INFO = "info"
    WARN = "warn"
    UNSAFE = "unsafe"


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict about the runtime."""

    id: str
    """Stable identifier, e.g. ``openssl.stdlib.CVE-2026-45447`` or ``clock``."""
    status: Status
    title: str
    detail: str = ""
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class DoctorFacts:
    """Everything the probes found (the input of :func:`build_checks`)."""

    stdlib: RuntimeInfo
    bundled: RuntimeInfo
    clock: ClockState
    packages: tuple[PackageInfo, ...]
    pip_audit_command: tuple[str, ...] | None = None
    pip_audit: PipAuditResult | None = None
    workload_api: dict[str, Any] | None = None
    """What a SPIFFE Workload API agent serves (``WorkloadAPI.status()``, or ``address`` and
    ``error`` when it could not be reached); None when not asked."""


def _advisory_status(advisory: Advisory) -> Status:
    if advisory.exposure == "network" and advisory.severity in {"critical", "high"}:
        return Status.UNSAFE
    return Status.WARN


def _advisory_check(key: str, what: str, version: str, advisory: Advisory, note: str) -> Check:
    name = f" ({advisory.name})" if advisory.name else ""
    exposure = (
        "reachable by a peer through TLS or certificate handling"
        if advisory.exposure == "network"
        else "exposed only if this process uses the affected feature"
    )
    return Check(
        f"{key}.{advisory.id}",
        _advisory_status(advisory),
        f"{what} {version} is affected by {advisory.id}{name}",
        f"{advisory.title}; {advisory.severity}, {exposure}; published "
        f"{advisory.published.isoformat()}; {advisory.url}{note}",
        advisory.fix,
    )


def check_openssl(key: str, library: str, *, today: dt.date, system: bool) -> list[Check]:
    """Advisories and end of life for one OpenSSL version string.

    Args:
        key: ``openssl.stdlib`` or ``openssl.bundled`` (prefix of the check ids).
        library: the version text, e.g. ``"OpenSSL 3.0.19 27 Jan 2026"``.
        today: the date to judge end of life against.
        system: whether a distribution provides it (its fixes may be backported).
    """
    version = parse_openssl(library)
    if version is None:
        return [
            Check(
                f"{key}.advisories",
                Status.INFO,
                f"{library}: not OpenSSL, so the advisory table does not cover it",
                "follow that library's own security advisories",
            )
        ]
    text = library.split()[1]
    note = (
        "; distributions backport fixes without changing the version, so check your "
        "distribution's changelog (e.g. `apt changelog libssl3`)"
        if system
        else ""
    )
    checks = [
        _advisory_check(key, "OpenSSL", text, a, note)
        for a in ADVISORIES
        if a.component == "openssl" and affected_by(a, text)
    ]
    if not checks:
        count = sum(1 for a in ADVISORIES if a.component == "openssl")
        checks.append(
            Check(
                f"{key}.advisories",
                Status.OK,
                f"OpenSSL {text}: none of the table's {count} OpenSSL advisories applies",
            )
        )
    branch = parse_openssl_branch(library)
    end = OPENSSL_END_OF_LIFE.get(branch or "")
    if end is None:
        checks.append(
            Check(f"{key}.eol", Status.INFO, f"OpenSSL {branch}: end of life not in the table")
        )
    elif end < today:
        checks.append(
            Check(
                f"{key}.eol",
                Status.WARN,
                f"OpenSSL {branch} reached its upstream end of life on {end.isoformat()}",
                "upstream publishes no more fixes for it"
                + ("; only the distribution's backports protect it" if system else ""),
                "move to a supported OpenSSL (a newer distribution release, or a Python "
                "built against OpenSSL 3.5 LTS or later)"
                if system
                else "python -m pip install --upgrade cryptography",
            )
        )
    else:
        checks.append(
            Check(
                f"{key}.eol",
                Status.OK,
                f"OpenSSL {branch} is supported upstream until {end.isoformat()}",
            )
        )
    return checks


def check_package(package: PackageInfo) -> list[Check]:
    """Advisories for one installed Python package."""
    key = f"package.{package.name.lower()}"
    component = package.name.lower()
    if package.version is None:
        return [Check(key, Status.INFO, f"{package.name} is not installed")]
    if parse_package(package.version) is None:
        return [
            Check(
                key,
                Status.WARN,
                f"{package.name} {package.version}: not a version the table can compare",
                fix=f"python -m pip install --upgrade {package.name}",
            )
        ]
    entries = [a for a in ADVISORIES if a.component == component]
    checks = [
        _advisory_check(key, package.name, package.version, a, "")
        for a in entries
        if affected_by(a, package.version)
    ]
    if not checks:
        summary = (
            f"none of the table's {len(entries)} {package.name} advisories applies"
            if entries
            else f"the table has no {package.name} advisories"
        )
        checks.append(Check(key, Status.OK, f"{package.name} {package.version}: {summary}"))
    return checks


def _protocol_checks(key: str, runtime: RuntimeInfo) -> list[Check]:
    checks = []
    spoken = [p.version for p in runtime.protocols if p.negotiated]
    legacy = [v for v in spoken if v in _LEGACY]
    if runtime.default_client_accepts:
        checks.append(
            Check(
                f"{key}.downgrade",
                Status.UNSAFE,
                f"a default {runtime.name} client accepts "
                f"{', '.join(runtime.default_client_accepts)}",
                "ssl.create_default_context() completed a handshake with a server limited to "
                "a legacy protocol: any stdlib client in this process can be downgraded",
                "set ctx.minimum_version = ssl.TLSVersion.TLSv1_2 on every context, or fix the "
                "system OpenSSL policy (MinProtocol = TLSv1.2 in openssl.cnf)",
            )
        )
    if "TLS 1.3" not in spoken:
        checks.append(
            Check(
                f"{key}.protocols",
                Status.WARN,
                f"{runtime.name} cannot negotiate TLS 1.3",
                "; ".join(f"{p.version}: {p.detail}" for p in runtime.protocols if p.detail),
                "use a Python and OpenSSL with TLS 1.3 (OpenSSL 1.1.1 or later)",
            )
        )
    elif legacy:
        checks.append(
            Check(
                f"{key}.protocols",
                Status.INFO,
                f"{runtime.name} still speaks {', '.join(legacy)} when a context asks for it",
                f"negotiated: {', '.join(spoken)}; refused by default clients. "
                "`zerotls audit code` finds code that asks for legacy versions",
            )
        )
    else:
        refused = [f"{p.version} ({p.detail})" for p in runtime.protocols if not p.negotiated]
        checks.append(
            Check(
                f"{key}.protocols",
                Status.OK,
                f"{runtime.name} negotiates {', '.join(spoken)} only",
                f"refused: {', '.join(refused)}" if refused else "",
            )
        )
    return checks


def _group_check(key: str, runtime: RuntimeInfo, *, engine: bool) -> Check:
    offered = [g for g, ok in runtime.groups if ok]
    hybrids = runtime.hybrid_groups
    if hybrids:
        return Check(
            f"{key}.groups",
            Status.OK,
            f"{runtime.name} negotiates the post-quantum hybrid {hybrids[0]}",
            f"groups: {', '.join(offered)}",
        )
    if engine:
        return Check(
            f"{key}.groups",
            Status.WARN,
            f"{runtime.name} has no post-quantum hybrid group",
            f"groups: {', '.join(offered) or 'none'}. zerotls's default groups start with "
            "X25519MLKEM768: configs that keep the default are refused with this OpenSSL",
            "python -m pip install --upgrade cryptography pyOpenSSL (wheels bundle OpenSSL "
            "3.5 or later, which has X25519MLKEM768)",
        )
    return Check(
        f"{key}.groups",
        Status.WARN,
        f"{runtime.name} offers no post-quantum hybrid group by default",
        f"groups offered: {', '.join(offered) or 'none'}. Connections made with the stdlib "
        "(including zerotls.to_ssl_context for httpx, aiohttp ...) use classical key "
        "exchange only: traffic recorded today could be decrypted by a future quantum "
        "computer (harvest now, decrypt later). zerotls's own connections use the bundled "
        "OpenSSL.",
        "prefer zerotls.connect / open_connection, or a Python built against OpenSSL 3.5+",
    )


def _trust_check(key: str, runtime: RuntimeInfo) -> Check:
    trust = runtime.trust
    where = ", ".join([*trust.files, *([trust.directory] if trust.directory else [])]) or "none"
    if trust.certificates == 0 and trust.directory_entries == 0:
        return Check(
            f"{key}.trust",
            Status.WARN,
            f"{runtime.name} finds no CA certificates ({trust.source})",
            f"looked in: {where}. A client without an explicit CA cannot verify any server "
            "(it fails closed)",
            "install the distribution's CA bundle (ca-certificates) or set SSL_CERT_FILE; "
            "for private CAs pass ca= to ClientConfig",
        )
    expired = f"; {trust.expired} of them expired (harmless, never used)" if trust.expired else ""
    return Check(
        f"{key}.trust",
        Status.OK,
        f"{runtime.name} trusts {trust.certificates} CA certificates from files, "
        f"{trust.directory_entries} hashed entries in the directory",
        f"{where} ({trust.source}){expired}",
    )


def _clock_check(clock: ClockState, facts: DoctorFacts) -> Check:
    evidence = [(TABLE_DATE, "this zerotls's advisory table was compiled")]
    for runtime in (facts.stdlib, facts.bundled):
        built = openssl_build_date(runtime.library)
        if built is not None:
            evidence.append((built, f"{runtime.library} was released"))
    latest, what = max(evidence)
    now = clock.now.astimezone(dt.UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if now.date() < latest:
        return Check(
            "clock",
            Status.UNSAFE,
            f"the clock is behind: it says {stamp}, but {what} on {latest.isoformat()}",
            "certificate validity, OCSP freshness and token expiry are all judged against "
            "this clock: expired certificates may pass and fresh ones fail",
            "set the time and enable NTP (chrony, systemd-timesyncd, ntpd)",
        )
    if clock.synchronized is None:
        return Check(
            "clock",
            Status.INFO,
            f"clock {stamp}; whether it is synchronised is unknown ({clock.detail})",
        )
    if not clock.synchronized:
        return Check(
            "clock",
            Status.WARN,
            f"clock {stamp} is not synchronised",
            f"{clock.detail}; the kernel's maximum error is {clock.max_error_s:g} s. Certificate "
            "validity and the HMAC envelopes' freshness window depend on it",
            "enable NTP (chrony, systemd-timesyncd, ntpd); in a container, on the host",
        )
    return Check(
        "clock",
        Status.OK,
        f"clock {stamp} is synchronised (maximum error {clock.max_error_s:g} s)",
        clock.detail,
    )


def _pip_audit_check(facts: DoctorFacts) -> Check:
    result = facts.pip_audit
    if result is None:
        if facts.pip_audit_command is None:
            return Check(
                "pip-audit",
                Status.INFO,
                "pip-audit is not installed: the table above is small and dated",
                f"advisory table compiled {TABLE_DATE.isoformat()}",
                "python -m pip install pip-audit, then `zerotls doctor --pip-audit`",
            )
        return Check(
            "pip-audit",
            Status.INFO,
            "pip-audit is installed: run `zerotls doctor --pip-audit` to check every package "
            "against the live advisory databases (uses the network)",
            " ".join(facts.pip_audit_command),
        )
    if result.error is not None:
        return Check("pip-audit", Status.WARN, "pip-audit did not complete", result.error)
    if result.vulnerabilities:
        listed = "; ".join(
            f"{name} {version}: {vuln_id}"
            + (f" (fixed in {', '.join(fixes)})" if fixes else " (no fix yet)")
            for name, version, vuln_id, fixes in result.vulnerabilities
        )
        return Check(
            "pip-audit",
            Status.UNSAFE,
            f"pip-audit found {len(result.vulnerabilities)} known vulnerabilities",
            listed,
            "python -m pip install --upgrade <package> for each, or `pip-audit --fix`",
        )
    skipped = f"; skipped: {', '.join(result.skipped)}" if result.skipped else ""
    return Check("pip-audit", Status.OK, "pip-audit found no known vulnerabilities", skipped)


def build_checks(facts: DoctorFacts, *, today: dt.date | None = None) -> tuple[Check, ...]:
    """Every check, in report order.

    Args:
        facts: what the probes found.
        today: the date for end-of-life and table-age judgements (default: the clock's).
    """
    day = today or facts.clock.now.date()
    checks: list[Check] = []
    for key, runtime, system in (
        ("openssl.stdlib", facts.stdlib, True),
        ("openssl.bundled", facts.bundled, False),
    ):
        checks += check_openssl(key, runtime.library, today=day, system=system)
        checks += _protocol_checks(key, runtime)
        checks.append(_group_check(key, runtime, engine=not system))
        checks.append(_trust_check(key, runtime))
    for package in facts.packages:
        checks += check_package(package)
    checks.append(_clock_check(facts.clock, facts))
    age = day - TABLE_DATE
    if age > _STALE_TABLE:
        checks.append(
            Check(
                "advisories.age",
                Status.WARN,
                f"the advisory table is {age.days} days old (compiled {TABLE_DATE.isoformat()})",
                "advisories published since then are not in it",
                "upgrade zerotls, and run `zerotls doctor --pip-audit`",
            )
        )
    checks.append(_pip_audit_check(facts))
    if facts.workload_api is not None:
        checks.append(_workload_api_check(facts.workload_api, facts.clock.now))
    return tuple(checks)


_SVID_LOW = dt.timedelta(minutes=5)


def _workload_api_check(agent: dict[str, Any], now: dt.datetime) -> Check:
    """What the agent serves: reachable, the SVID, how long it has left."""
    where = agent.get("address") or "$SPIFFE_ENDPOINT_SOCKET"
    if agent.get("error") or "spiffe_id" not in agent:
        return Check(
            "workload_api",
            Status.WARN,
            f"no SVID from the Workload API at {where}",
            str(agent.get("error") or agent.get("last_error") or "nothing received"),
            "check that the agent runs, that its socket is mounted here, and that this "
            "workload is registered (SPIRE: `spire-server entry show`)",
        )
    expires = dt.datetime.fromisoformat(str(agent["expires"]))
    left = expires - now
    domains = ", ".join(agent.get("trust_domains") or ()) or "none"
    detail = (
        f"SVID {agent['spiffe_id']} serial {agent['serial']}, valid to "
        f"{expires:%Y-%m-%d %H:%M:%S}Z ({max(left.total_seconds(), 0) / 60:.0f} min left); "
        f"bundles for {domains}"
    )
    if left <= dt.timedelta(0):
        return Check("workload_api", Status.UNSAFE, f"the agent at {where} serves an expired "
                     "SVID", detail, "check the agent: it should have rotated it")  # fmt: skip
    if left < _SVID_LOW:
        return Check("workload_api", Status.WARN, f"the SVID from {where} expires in under "
                     "5 minutes", detail, "check that the agent rotates SVIDs")  # fmt: skip
    return Check("workload_api", Status.OK, f"the Workload API at {where} serves an SVID", detail)
