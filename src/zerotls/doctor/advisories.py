"""A small, dated advisory table for the libraries zerotls's security rests on.

This is not a vulnerability feed: it lists the advisories that matter most for TLS in a
Python process (OpenSSL, as the stdlib and as the ``cryptography`` wheel bundle it; and the
Python packages ``cryptography``, ``pyOpenSSL``, ``certifi``, ``uvloop``), compiled on
:data:`TABLE_DATE`. For a complete, current answer run ``pip-audit`` (``zerotls doctor
--pip-audit``) and follow your distribution's security tracker for the system OpenSSL.

Each entry says which versions are affected (half-open ranges ``[introduced, fixed)`` per
release branch), when it was published, how bad it is, and its *exposure*:

* ``network``: a peer reaches the bug through TLS or certificate handling that a TLS client
  or server does by default; an affected version is **unsafe**;
* ``opt-in``: only code that uses the affected feature (PKCS#7, raw public keys, DTLS cookie
  callbacks ...) is exposed; an affected version is a **warning** saying which feature.

Distributions often backport fixes without changing the upstream version number, so a match
against the *system* OpenSSL is a strong hint, not proof: the check says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from zerotls.doctor.versions import Version, parse_openssl, parse_package

__all__ = [
    "ADVISORIES",
    "OPENSSL_END_OF_LIFE",
    "TABLE_DATE",
    "Advisory",
    "VersionRange",
    "affected_by",
]

TABLE_DATE = dt.date(2026, 11, 28)
"""When the table was last compiled. Newer advisories are not in it."""


@dataclass(frozen=True, slots=True)
class VersionRange:
    """Affected versions ``[introduced, fixed)``; None means unbounded on that side."""

    introduced: str | None
    fixed: str | None


@dataclass(frozen=True, slots=True)
class Advisory:
    """One published vulnerability and how to get out of its way."""

    id: str
    """CVE or GHSA identifier."""
    component: str
    """``openssl``, ``cryptography``, ``pyopenssl``, ``certifi`` or ``uvloop``."""
    published: dt.date
    severity: str
    """``critical``, ``high``, ``medium`` or ``low`` (the publisher's rating)."""
    exposure: str
    """``network`` or ``opt-in`` (see the module docstring)."""
    title: str
    affected: tuple[VersionRange, ...]
    fix: str
    """What to update to, and how."""
    name: str = ""
    """The nickname, when it has one (Heartbleed)."""

    @property
    def url(self) -> str:
        """Where to read the advisory (NVD for CVE ids, GitHub for GHSA ids)."""
        if self.id.startswith("CVE-"):
            return f"https://nvd.nist.gov/vuln/detail/{self.id}"
        return f"https://github.com/advisories/{self.id}"

    def __post_init__(self) -> None:
        if self.exposure not in {"network", "opt-in"}:
            raise ValueError(f"{self.id}: exposure must be network or opt-in")
        if self.severity not in {"critical", "high", "medium", "low"}:
            raise ValueError(f"{self.id}: unknown severity {self.severity}")
        for span in self.affected:
            for bound in (span.introduced, span.fixed):
                if bound is not None and _parse(self.component, bound) is None:
                    raise ValueError(f"{self.id}: unparsable version bound {bound!r}")


def _parse(component: str, version: str) -> Version | None:
    if component == "openssl":
        return parse_openssl(f"OpenSSL {version}")
    return parse_package(version)


def affected_by(advisory: Advisory, version: str) -> bool:
    """Whether ``version`` (``"3.0.19"``, ``"1.0.1f"``, ``"46.0.5"``) is in an affected range.

    Raises:
        ValueError: the version cannot be parsed for this component.
    """
    parsed = _parse(advisory.component, version)
    if parsed is None:
        raise ValueError(f"cannot parse {advisory.component} version {version!r}")
    for span in advisory.affected:
        low = _parse(advisory.component, span.introduced) if span.introduced else None
        high = _parse(advisory.component, span.fixed) if span.fixed else None
        if (low is None or parsed >= low) and (high is None or parsed < high):
            return True
    return False


_UPGRADE_SYSTEM = (
    "Update the system OpenSSL with the distribution's packages (e.g. `apt install --only-upgrade "
    "libssl3` or `dnf upgrade openssl-libs`), then restart the Python processes"
)
_UPGRADE_CRYPTOGRAPHY = "python -m pip install --upgrade 'cryptography>={v}'"
_UPGRADE_PYOPENSSL = (
    "python -m pip install --upgrade 'pyOpenSSL>={v}' (with a matching cryptography)"
)
_UPGRADE_CERTIFI = "python -m pip install --upgrade certifi"
_R = VersionRange
_D = dt.date

ADVISORIES: tuple[Advisory, ...] = (
    # --- OpenSSL (the stdlib's, and the one bundled in the cryptography wheel) ---
    Advisory(
        "CVE-2014-0160",
        "openssl",
        _D(2014, 4, 7),
        "critical",
        "network",
        "TLS heartbeat over-read: any peer reads up to 64 KiB of process memory per request "
        "(private keys, session keys, passwords)",
        (_R("1.0.1", "1.0.1g"),),
        "OpenSSL 1.0.1g or later; then replace keys and certificates that may have leaked. "
        + _UPGRADE_SYSTEM,
        "Heartbleed",
    ),
    Advisory(
        "CVE-2014-0224",
        "openssl",
        _D(2014, 6, 5),
        "high",
        "network",
        "ChangeCipherSpec injection: a man in the middle forces weak keying material and "
        "decrypts or modifies traffic between two vulnerable peers",
        (_R(None, "0.9.8za"), _R("1.0.0", "1.0.0m"), _R("1.0.1", "1.0.1h")),
        "OpenSSL 0.9.8za, 1.0.0m, 1.0.1h or later. " + _UPGRADE_SYSTEM,
        "CCS injection",
    ),
    Advisory(
        "CVE-2016-0800",
        "openssl",
        _D(2016, 3, 1),
        "high",
        "network",
        "DROWN: a server that still speaks SSLv2 (or shares its key with one) lets an "
        "attacker decrypt recorded TLS sessions",
        (_R("1.0.1", "1.0.1s"), _R("1.0.2", "1.0.2g")),
        "OpenSSL 1.0.1s, 1.0.2g or later, and never enable SSLv2. " + _UPGRADE_SYSTEM,
        "DROWN",
    ),
    Advisory(
        "CVE-2022-0778",
        "openssl",
        _D(2022, 3, 15),
        "high",
        "network",
        "BN_mod_sqrt() loops forever on a crafted certificate: any peer stops a TLS client or "
        "server that parses its certificate (denial of service)",
        (_R("1.0.2", "1.0.2zd"), _R("1.1.1", "1.1.1n"), _R("3.0.0", "3.0.2")),
        "OpenSSL 1.1.1n, 3.0.2 or later. " + _UPGRADE_SYSTEM,
    ),
    Advisory(
        "CVE-2022-3602",
        "openssl",
        _D(2022, 11, 1),
        "high",
        "network",
        "buffer overruns in X.509 name-constraint checking of email addresses (punycode), "
        "reachable by a certificate chain a peer presents (also CVE-2022-3786)",
        (_R("3.0.0", "3.0.7"),),
        "OpenSSL 3.0.7 or later. " + _UPGRADE_SYSTEM,
    ),
    Advisory(
        "CVE-2023-0286",
        "openssl",
        _D(2023, 2, 7),
        "high",
        "network",
        "type confusion on X.400 addresses in GeneralName: reads memory or crashes when CRL "
        "checking is on and the peer controls the certificate or CRL",
        (_R("1.0.2", "1.0.2zg"), _R("1.1.1", "1.1.1t"), _R("3.0.0", "3.0.8")),
        "OpenSSL 1.1.1t, 3.0.8 or later. " + _UPGRADE_SYSTEM,
    ),
    Advisory(
        "CVE-2024-12797",
        "openssl",
        _D(2025, 2, 11),
        "high",
        "opt-in",
        "clients that enabled raw public keys (RFC 7250) did not notice a failed server "
        "authentication: a man in the middle goes unnoticed",
        (_R("3.2.0", "3.2.4"), _R("3.3.0", "3.3.3"), _R("3.4.0", "3.4.1")),
        "OpenSSL 3.2.4, 3.3.3, 3.4.1 or later (zerotls never enables raw public keys). "
        + _UPGRADE_SYSTEM,
    ),
    Advisory(
        "CVE-2026-45447",
        "openssl",
        _D(2026, 6, 9),
        "high",
        "opt-in",
        "PKCS7_verify() frees a buffer it does not own when a signature's digestAlgorithms "
        "set is empty (use after free): exposed when verifying PKCS#7/S-MIME signatures",
        (
            _R("1.0.2", "1.0.2zq"),
            _R("1.1.1", "1.1.1zh"),
            _R("3.0.0", "3.0.21"),
            _R("3.4.0", "3.4.6"),
            _R("3.5.0", "3.5.7"),
            _R("3.6.0", "3.6.3"),
            _R("4.0.0", "4.0.1"),
        ),
        "OpenSSL 3.0.21, 3.4.6, 3.5.7, 3.6.3, 4.0.1 or later; for the bundled copy, "
        "cryptography 48.0.1 or later. " + _UPGRADE_SYSTEM,
    ),
    # --- cryptography ---
    Advisory(
        "CVE-2023-50782",
        "cryptography",
        _D(2024, 2, 5),
        "high",
        "opt-in",
        "timing oracle (Bleichenbacher) in RSA PKCS#1 v1.5 decryption: exposed when code "
        "decrypts attacker-supplied RSA ciphertexts",
        (_R(None, "42.0.0"),),
        _UPGRADE_CRYPTOGRAPHY.format(v="42.0.0"),
    ),
    Advisory(
        "CVE-2024-26130",
        "cryptography",
        _D(2024, 2, 21),
        "medium",
        "opt-in",
        "NULL dereference in pkcs12.serialize_key_and_certificates with a mismatched key (crash)",
        (_R("38.0.0", "42.0.4"),),
        _UPGRADE_CRYPTOGRAPHY.format(v="42.0.4"),
    ),
    Advisory(
        "CVE-2026-39892",
        "cryptography",
        _D(2026, 4, 7),
        "medium",
        "opt-in",
        "non-contiguous buffers passed to APIs that take Python buffers could overflow",
        (_R(None, "46.0.7"),),
        _UPGRADE_CRYPTOGRAPHY.format(v="46.0.7"),
    ),
    Advisory(
        "GHSA-537c-gmf6-5ccf",
        "cryptography",
        _D(2026, 6, 9),
        "high",
        "network",
        "the OpenSSL statically linked into cryptography's wheels has the flaws of OpenSSL's "
        "9 June 2026 advisory (PKCS#7, CMS, QUIC, OCSP stapling)",
        (_R("0.5", "48.0.1"),),
        _UPGRADE_CRYPTOGRAPHY.format(v="48.0.1"),
    ),
    Advisory(
        "CVE-2026-69249",
        "cryptography",
        _D(2026, 8, 3),
        "high",
        "opt-in",
        "duplicate self-signed intermediates make X.509 path building exponential: a peer's "
        "chain stalls cryptography's certificate verifier (denial of service)",
        (_R("42.0.0", "49.0.0"),),
        _UPGRADE_CRYPTOGRAPHY.format(v="49.0.0"),
    ),
    Advisory(
        "CVE-2026-69248",
        "cryptography",
        _D(2026, 8, 3),
        "medium",
        "opt-in",
        "the X.509 verifier let wildcard DNS names escape a CA's permittedSubtrees name "
        "constraints",
        (_R("45.0.0", "49.0.0"),),
        _UPGRADE_CRYPTOGRAPHY.format(v="49.0.0"),
    ),
    Advisory(
        "CVE-2026-69247",
        "cryptography",
        _D(2026, 7, 31),
        "high",
        "opt-in",
        "PKCS#7 EnvelopedData decryption exposes a Bleichenbacher oracle through distinct "
        "errors and timing",
        (_R("44.0.0", "50.0.0"),),
        _UPGRADE_CRYPTOGRAPHY.format(v="50.0.0"),
    ),
    # --- pyOpenSSL ---
    Advisory(
        "CVE-2018-1000807",
        "pyopenssl",
        _D(2018, 10, 8),
        "medium",
        "opt-in",
        "use after free in X509 object handling when a certificate chain is retrieved and "
        "its elements outlive the connection",
        (_R(None, "17.5.0"),),
        _UPGRADE_PYOPENSSL.format(v="17.5.0"),
    ),
    Advisory(
        "CVE-2026-27459",
        "pyopenssl",
        _D(2026, 3, 17),
        "high",
        "opt-in",
        "a DTLS cookie-generate callback returning more than 256 bytes overflowed OpenSSL's "
        "buffer: exposed by DTLS servers with cookie callbacks (zerotls's DTLS uses one)",
        (_R("22.0.0", "26.0.0"),),
        _UPGRADE_PYOPENSSL.format(v="26.0.0"),
    ),
    Advisory(
        "CVE-2026-27448",
        "pyopenssl",
        _D(2026, 3, 17),
        "medium",
        "opt-in",
        "an exception raised in a server-name (SNI) callback was swallowed and the handshake "
        "went on as if the callback had accepted",
        (_R(None, "26.0.0"),),
        _UPGRADE_PYOPENSSL.format(v="26.0.0"),
    ),
    # --- certifi (the CA bundle requests and others trust) ---
    Advisory(
        "CVE-2022-23491",
        "certifi",
        _D(2022, 12, 7),
        "medium",
        "network",
        "the bundle still trusts TrustCor's roots, distrusted by Mozilla after their links "
        "to a spyware maker",
        (_R("2017.11.5", "2022.12.7"),),
        _UPGRADE_CERTIFI,
    ),
    Advisory(
        "CVE-2023-37920",
        "certifi",
        _D(2023, 7, 25),
        "high",
        "network",
        "the bundle still trusts e-Tugra's roots, removed after serious security issues at the CA",
        (_R("2015.4.28", "2023.7.22"),),
        _UPGRADE_CERTIFI,
    ),
    Advisory(
        "CVE-2024-39689",
        "certifi",
        _D(2024, 7, 5),
        "low",
        "network",
        "the bundle still trusts GLOBALTRUST's roots, distrusted for long-running compliance "
        "failures",
        (_R("2021.5.30", "2024.7.4"),),
        _UPGRADE_CERTIFI,
    ),
)
"""The table, oldest first within each component."""

OPENSSL_END_OF_LIFE: dict[str, dt.date] = {
    "0.9.8": _D(2015, 12, 31),
    "1.0.0": _D(2015, 12, 31),
    "1.0.1": _D(2016, 12, 31),
    "1.0.2": _D(2019, 12, 31),
    "1.1.0": _D(2019, 9, 11),
    "1.1.1": _D(2023, 9, 11),
    "3.0": _D(2026, 9, 7),
    "3.1": _D(2025, 3, 14),
    "3.2": _D(2025, 11, 23),
    "3.3": _D(2026, 4, 9),
    "3.4": _D(2026, 10, 22),
    "3.5": _D(2030, 4, 8),
}
"""Upstream end of public support per OpenSSL branch (later branches: not in the table)."""
