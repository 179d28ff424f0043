"""Typed results of a TLS audit: targets, options, what each probe found, findings, grades.

Everything here is a frozen dataclass made of plain values (str, int, bool, tuples, nested
dataclasses), so a result can be compared in tests, rendered by any report, and turned into
JSON by :func:`to_jsonable` without a schema of its own: the JSON schema *is* these classes
(documented in ``docs/audit.md``, versioned by :data:`SCHEMA_VERSION`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from zerotls._util import parse_hostport
from zerotls.errors import ConfigError

__all__ = [
    "SCHEMA_VERSION",
    "STARTTLS_PORTS",
    "Cap",
    "CertificateInfo",
    "CertificateResult",
    "CompressionResult",
    "FallbackResult",
    "Finding",
    "GradeResult",
    "GroupResult",
    "GroupsResult",
    "HSTSResult",
    "CCSInjectionResult",
    "HeartbleedResult",
    "OCSPResult",
    "ProfileResult",
    "ProtocolsResult",
    "RenegotiationResult",
    "ResumptionResult",
    "RobotResult",
    "ScanOptions",
    "Severity",
    "SuiteResult",
    "Target",
    "TargetReport",
    "TicketbleedResult",
    "VersionResult",
    "Violation",
    "to_jsonable",
]

SCHEMA_VERSION = "zerotls.audit/1"
"""The JSON report's schema identifier; bumped on any incompatible change."""

STARTTLS_PORTS = {
    "smtp": 25,
    "submission": 587,
    "imap": 143,
    "pop3": 110,
    "ftp": 21,
    "postgres": 5432,
}
"""STARTTLS protocols the auditor speaks, with their usual ports."""

_SCHEMES = {"https": 443, "tls": 443, "dtls": 443, **STARTTLS_PORTS}


class Severity(enum.IntEnum):
    """How bad a finding is; the order is the order of urgency."""

    info = 0
    low = 1
    medium = 2
    high = 3
    critical = 4


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint to audit."""

    host: str
    """A DNS name or IP address to connect to."""
    port: int = 443
    server_name: str | None = None
    """Sent as SNI and checked against the certificate; defaults to ``host`` for names."""
    starttls: str | None = None
    """Speak this protocol's STARTTLS first (``smtp``, ``imap``, ``pop3``, ``ftp``,
    ``postgres``); None for TLS from the first byte."""
    https: bool = False
    """Known to be HTTPS (given as ``https://``): HSTS is checked whatever the port (it is
    checked on ports 443 and 8443 anyway)."""
    dtls: bool = False
    """DTLS over UDP (given as ``dtls://``, or ``--dtls``): audited by
    :func:`zerotls.audit.dtls.audit_dtls`."""

    def __post_init__(self) -> None:
        if self.starttls is not None and self.starttls not in STARTTLS_PORTS:
            raise ConfigError(
                f"unknown STARTTLS protocol {self.starttls!r}: use one of "
                + ", ".join(STARTTLS_PORTS)
            )
        if not self.host:
            raise ConfigError("a target needs a host")
        if self.dtls and self.starttls is not None:
            raise ConfigError("a DTLS target has no STARTTLS (DTLS runs over UDP from the start)")

    @property
    def sni(self) -> str | None:
        """The server name to send and verify, or None for a bare IP address."""
        if self.server_name:
            return self.server_name
        import ipaddress

        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return self.host
        return None

    @property
    def label(self) -> str:
        """``host:port`` (``[v6]:port``), as people write it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        starttls: str | None = None,
        server_name: str | None = None,
        dtls: bool = False,
    ) -> Target:
        """Parse ``host``, ``host:port``, ``[v6]:port`` or ``smtp://host[:port]``.

        A scheme (``https``, ``tls``, ``dtls``, ``smtp``, ``submission``, ``imap``, ``pop3``,
        ``ftp``, ``postgres``) sets the STARTTLS protocol (or DTLS) and the default port;
        otherwise the port defaults to 443, or to the STARTTLS protocol's port.

        Raises:
            ConfigError: an unknown scheme, a bad port, or no host.
        """
        value = text.strip()
        scheme = None
        if "://" in value:
            scheme, value = value.split("://", 1)
            scheme = scheme.lower()
            if scheme not in _SCHEMES:
                raise ConfigError(
                    f"{text!r}: unknown scheme {scheme!r}; use one of " + ", ".join(_SCHEMES)
                )
            value = value.rstrip("/")
            if scheme in STARTTLS_PORTS:
                starttls = starttls or scheme
        default_port = _SCHEMES[scheme] if scheme else STARTTLS_PORTS.get(starttls or "", 443)
        host, port = parse_hostport(value, default_port=default_port)
        if not host:
            raise ConfigError(f"{text!r} has no host")
        if port == 0:
            raise ConfigError(f"{text!r}: port 0 cannot be scanned")
        return cls(
            host,
            port,
            server_name,
            starttls,
            https=scheme == "https",
            dtls=dtls or scheme == "dtls",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    """How to scan; the defaults are what ``zerotls audit`` uses."""

    probes: tuple[str, ...] | None = None
    """Probe names to run (see ``zerotls.audit.probes.REGISTRY``); None runs the defaults."""
    timeout: float = 5.0
    """Seconds to wait for a connection or for the server's next bytes."""
    per_host: int = 6
    """At most this many connections open at once to one target."""
    concurrency: int = 64
    """At most this many connections open at once overall."""
    ca_file: Path | None = None
    """Trust these CA certificates instead of the system store (non-root certificates in it
    are used as known intermediates, to tell an incomplete chain from an untrusted one)."""
    pins: frozenset[str] = frozenset()
    """Expected SHA-256 SPKI pins (base64); a chain with none of them is pin drift."""
    warn_days: int = 30
    """A certificate expiring within this many days is reported as expiring soon."""
    now: dt.datetime | None = None
    """The time to judge validity at (None: the current time); injected by tests."""

    def __post_init__(self) -> None:
        # What callers write besides the annotated types: a path as text, one pin as text
        # (which must not become a set of its characters), pins as a list.
        ca_file: Any = self.ca_file
        if isinstance(ca_file, str):
            object.__setattr__(self, "ca_file", Path(ca_file))
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ConfigError(
                f"ca_file {self.ca_file}: no such file; give a PEM bundle of the CAs to trust"
            )
        pins: Any = self.pins
        if isinstance(pins, str):
            object.__setattr__(self, "pins", frozenset([pins]))
        elif not isinstance(pins, frozenset):
            object.__setattr__(self, "pins", frozenset(pins))
        if self.timeout <= 0:
            raise ConfigError("timeout must be positive, e.g. 5 (seconds)")
        if self.per_host < 1 or self.concurrency < 1:
            raise ConfigError("concurrency limits must be at least 1")
        if self.warn_days < 0:
            raise ConfigError("warn_days must be 0 or more")


# -- probe results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """A cipher suite the server accepted, and what it sent with it."""

    code: int
    name: str
    """IANA name."""
    openssl_name: str | None
    bits: int
    kex: str
    forward_secrecy: bool
    aead: bool
    insecure: bool
    weak: bool
    group: str | None = None
    """ECDHE: the curve the server used (from ServerKeyExchange)."""
    dh_bits: int | None = None
    """DHE: the size of the server's DH prime."""


@dataclass(frozen=True, slots=True)
class VersionResult:
    """One protocol version: offered or not, and the suites it accepts."""

    version: str
    """``SSLv2``, ``SSLv3``, ``TLS 1.0`` ... ``TLS 1.3``."""
    code: int
    supported: bool | None
    """None: the probe could not tell (see ``error``)."""
    suites: tuple[SuiteResult, ...] = ()
    """Accepted suites, in the order the server chose them."""
    server_preference: bool | None = None
    """True: the server imposes its own order (the list is its preference); False: it follows
    the client's; None: fewer than two suites, or not measured."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ProtocolsResult:
    versions: tuple[VersionResult, ...]
    """SSLv2 to TLS 1.3, oldest first."""
    connections: int = 0
    """How many connections the enumeration took."""
    error: str | None = None

    def get(self, version: str) -> VersionResult | None:
        return next((v for v in self.versions if v.version == version), None)

    @property
    def supported(self) -> tuple[str, ...]:
        """The versions the server speaks, oldest first."""
        return tuple(v.version for v in self.versions if v.supported)


@dataclass(frozen=True, slots=True)
class GroupResult:
    code: int
    name: str
    bits: int
    kind: str
    post_quantum: bool
    deprecated: bool


@dataclass(frozen=True, slots=True)
class GroupsResult:
    version: str | None
    """How the groups were enumerated: ``TLS 1.3`` (HelloRetryRequest) or ``TLS 1.2 and
    below`` (ECDHE ServerKeyExchange); None when neither worked."""
    groups: tuple[GroupResult, ...] = ()
    """Accepted groups, in the order the server chose them."""
    server_preference: bool | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """One certificate as the server sent it."""

    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    key_type: str
    """``RSA``, ``EC``, ``Ed25519``, ``Ed448``, ``DSA``."""
    key_bits: int
    curve: str | None
    signature_algorithm: str
    """e.g. ``sha256WithRSAEncryption``, ``ecdsa-with-SHA256``, ``sha1WithRSAEncryption``."""
    sha256_fingerprint: str
    spki_pin: str
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    self_signed: bool = False
    is_ca: bool = False


@dataclass(frozen=True, slots=True)
class OCSPResult:
    stapled: bool
    status: str | None = None
    """``good``, ``revoked`` or ``unknown`` when a staple was present and verified."""
    valid: bool | None = None
    """Whether the staple verified (signature, signer, certificate id, freshness)."""
    error: str | None = None
    this_update: str | None = None
    next_update: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateResult:
    chain: tuple[CertificateInfo, ...] = ()
    """As sent by the server, leaf first."""
    version: str | None = None
    """The protocol of the handshake that fetched the chain."""
    trusted: bool | None = None
    trust_error: str | None = None
    chain_complete: bool | None = None
    """False: the chain only verifies with an intermediate the server did not send."""
    self_signed: bool = False
    hostname: str | None = None
    hostname_matches: bool | None = None
    """None: no name to check (a bare IP target is checked against IP SANs)."""
    expired: bool = False
    not_yet_valid: bool = False
    days_left: float | None = None
    expires_soon: bool = False
    lifetime_days: float | None = None
    sha1_signature: bool = False
    """A certificate of the chain (below the trust anchor) is signed with SHA-1 (or MD5)."""
    weak_key: bool = False
    must_staple: bool = False
    sct_count: int = 0
    """Signed Certificate Timestamps: embedded, in the TLS extension, or in the staple."""
    sct_sources: tuple[str, ...] = ()
    """Where they came from: ``certificate``, ``tls extension``, ``ocsp staple``."""
    ocsp: OCSPResult = field(default_factory=lambda: OCSPResult(stapled=False))
    pins: tuple[str, ...] = ()
    """SPKI pins of every certificate of the chain."""
    pin_matches: bool | None = None
    """None: no ``--pin`` was given."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RenegotiationResult:
    secure: bool | None
    """RFC 5746 renegotiation_info echoed; None when TLS 1.2 and below are not spoken."""
    client_initiated: bool | None
    """The server accepted a renegotiation started by the client (a DoS lever)."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ClientAuthVersion:
    """What one protocol version said about client certificates."""

    version: str
    """``TLS 1.3`` or ``TLS 1.2``."""
    requested: bool | None
    """A CertificateRequest came (None: the version is not spoken, or the probe failed)."""
    required: bool | None = None
    """Refused without a certificate (True), or let in without one (False)."""
    ca_names: tuple[str, ...] = ()
    """The certificate authorities the request named (clients pick a certificate by them)."""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ClientAuthResult:
    versions: tuple[ClientAuthVersion, ...] = ()
    error: str | None = None

    @property
    def requested(self) -> bool:
        return any(v.requested for v in self.versions)

    @property
    def required(self) -> bool:
        return any(v.required for v in self.versions)


@dataclass(frozen=True, slots=True)
class CompressionResult:
    supported: bool | None
    """TLS compression (DEFLATE) accepted: CRIME."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FallbackResult:
    supported: bool | None
    """TLS_FALLBACK_SCSV honoured (RFC 7507); None when the server speaks one version only."""
    detail: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class GreaseResult:
    tolerant: bool | None
    """The server ignores unknown values (RFC 8701); None when no handshake to compare."""
    detail: str = ""
    error: str | None = None
    large_hello: bool | None = None
    """A ClientHello the size of a post-quantum one (padded) is answered."""
    large_hello_detail: str = ""


@dataclass(frozen=True, slots=True)
class SimulatedClient:
    """One simulated client: whether it connects, and what it would negotiate."""

    name: str
    connects: bool
    version: str | None = None
    suite: str | None = None
    group: str | None = None
    detail: str = ""
    """Why it is refused, or how it got in (after a HelloRetryRequest)."""


@dataclass(frozen=True, slots=True)
class ClientSimulationResult:
    clients: tuple[SimulatedClient, ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CCSInjectionResult:
    vulnerable: bool | None
    """True: an early ChangeCipherSpec was taken (CVE-2014-0224); None: not known."""
    detail: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RobotResult:
    vulnerable: bool | None
    """True: the server answers valid and invalid RSA padding differently (a stable
    Bleichenbacher oracle); None: not known."""
    answers: tuple[str, ...] = ()
    """The server's answer to each premaster variant, in the probe's order."""
    detail: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TicketbleedResult:
    vulnerable: bool | None
    """True: a session ID came back longer than sent, with memory after it (CVE-2016-9244)."""
    leaked_bytes: int = 0
    detail: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HeartbleedResult:
    vulnerable: bool | None
    heartbeat_extension: bool = False
    """The server echoed the heartbeat extension."""
    leaked_bytes: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ResumptionResult:
    session_id: bool | None
    """Session-ID resumption (TLS 1.2 and below) worked."""
    tickets: bool | None
    """Session-ticket (or TLS 1.3 PSK) resumption worked."""
    error: str | None = None
    max_early_data: int | None = None
    """TLS 1.3: the 0-RTT early data the server's tickets allow (bytes; 0: none; None: no
    TLS 1.3 ticket seen). Early data can be replayed by anyone who recorded it."""


@dataclass(frozen=True, slots=True)
class DTLSCookieResult:
    """How a DTLS server answers a ClientHello from an address it has not verified."""

    answered: bool
    hello_verify_request: bool
    """It sent a HelloVerifyRequest (RFC 6347 §4.2.1) before any costly flight."""
    request_bytes: int
    response_bytes: int
    """Bytes of the first answer, to the unverified hello."""
    amplification: float
    """response_bytes / request_bytes: what a spoofed source gets reflected at it."""
    cookie_bytes: int = 0


@dataclass(frozen=True, slots=True)
class HSTSResult:
    header: str | None
    """The Strict-Transport-Security header as sent, or None."""
    max_age: int | None = None
    include_subdomains: bool = False
    preload: bool = False
    http_status: int | None = None
    error: str | None = None


# -- findings, grade, profiles ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or worth knowing), with how to fix it."""

    id: str
    """Stable identifier, e.g. ``protocol.tls10``; the SARIF rule id."""
    severity: Severity
    title: str
    detail: str
    fix: str
    probe: str


@dataclass(frozen=True, slots=True)
class Cap:
    """A grade ceiling (SSL Labs rating guide) and why it applies."""

    grade: str
    """The best grade still possible: ``F``, ``C``, ``B``, ``A-``, or ``T``/``M``."""
    reason: str
    fix: str
    finding: str
    """The id of the finding that imposed it."""


@dataclass(frozen=True, slots=True)
class GradeResult:
    grade: str
    """``A+``, ``A``, ``A-``, ``B`` ... ``F``, or ``T`` (trust) / ``M`` (name mismatch)."""
    grade_if_trusted: str
    """The grade when trust and name issues are ignored (SSL Labs shows it beside T/M)."""
    score: int
    protocol_score: int
    key_exchange_score: int
    cipher_score: int
    caps: tuple[Cap, ...] = ()


@dataclass(frozen=True, slots=True)
class Violation:
    what: str
    fix: str


@dataclass(frozen=True, slots=True)
class ProfileResult:
    profile: str
    """``modern`` or ``intermediate`` (Mozilla Server Side TLS, version 5.7)."""
    compliant: bool
    violations: tuple[Violation, ...] = ()


@dataclass(frozen=True, slots=True)
class TargetReport:
    """Everything learned about one target."""

    target: Target
    address: str | None
    """The IP address that was scanned."""
    started: str
    """ISO 8601 UTC."""
    duration_s: float
    results: dict[str, Any]
    """Probe name to that probe's result dataclass."""
    findings: tuple[Finding, ...] = ()
    grade: GradeResult | None = None
    profiles: tuple[ProfileResult, ...] = ()
    error: str | None = None
    """Set when the target could not be scanned at all (unreachable, not TLS)."""
    connections: int = 0


def to_jsonable(value: Any) -> Any:
    """Turn results into JSON-ready values (dataclasses to objects, enums to names)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, Severity):
        return value.name
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


Level = Literal["error", "warning", "note"]
