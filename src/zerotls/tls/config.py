"""TLS settings as frozen dataclasses: secure by default, weaker only by name.

A config is pure data: validation happens in ``__post_init__`` and raises
:class:`~zerotls.errors.ConfigError`; nothing here reads a file or opens a socket (the context
factory does that). Make variants with :func:`dataclasses.replace`.

What cannot be configured at all, on purpose: SSLv3, TLS 1.0 and TLS 1.1; non-AEAD or
non-ECDHE cipher suites; compression; renegotiation; hostname checks on the common name;
turning verification off. Legacy peers are found with ``zerotls audit``, not spoken to.
"""

from __future__ import annotations

import base64
import binascii
import enum
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Self

from zerotls._util import parse_duration, read_toml
from zerotls._wire.suites import ENGINE_GROUPS
from zerotls.errors import ConfigError
from zerotls.tls.identity import parse_spiffe_id

__all__ = [
    "DEFAULT_GROUPS",
    "OCSP_MODES",
    "REVOCATION_MODES",
    "TLS12_CIPHERS",
    "TLS13_CIPHERSUITES",
    "ClientConfig",
    "ServerConfig",
    "TLSVersion",
    "parse_pin",
]


class TLSVersion(enum.Enum):
    """The protocol versions zerotls speaks. There is deliberately nothing older."""

    TLSv1_2 = "1.2"
    TLSv1_3 = "1.3"

    @classmethod
    def parse(cls, value: str | TLSVersion) -> TLSVersion:
        """Accept ``"1.3"``, ``"TLSv1.3"``, ``"tls1_2"`` ...; refuse anything legacy, clearly."""
        if isinstance(value, TLSVersion):
            return value
        text = str(value).strip().lower().replace("tlsv", "").replace("tls", "")
        text = text.replace("_", ".").lstrip("v")
        if text in {"1.3", "13"}:
            return cls.TLSv1_3
        if text in {"1.2", "12"}:
            return cls.TLSv1_2
        if text in {"1.1", "11", "1.0", "10", "1", "ssl3", "sslv3", "ssl2", "sslv2", "3", "2"}:
            raise ConfigError(
                f"TLS version {value!r} is not supported: SSLv3, TLS 1.0 and TLS 1.1 are broken "
                "(RFC 8996) and zerotls never speaks them. The lowest floor is '1.2' (ECDHE with "
                "AEAD only). To find legacy peers, run `zerotls audit HOST:PORT`."
            )
        raise ConfigError(f"unknown TLS version {value!r}: use '1.3' (default) or '1.2'")


# Order is preference: the post-quantum hybrid first (harvest-now-decrypt-later protection),
# then X25519, then P-256 for peers (FIPS, older stacks) that lack X25519, then P-384 for
# CNSA / FIPS clients that offer nothing else (as in Mozilla's profiles).
DEFAULT_GROUPS: tuple[str, ...] = ("X25519MLKEM768", "X25519", "P-256", "P-384")
_KNOWN_GROUPS = frozenset(ENGINE_GROUPS)

# TLS 1.3 suites are all AEAD with forward secrecy (RFC 8446 §9.1); we list them so no
# build-time default can add others (e.g. the integrity-only suites of RFC 9150).
TLS13_CIPHERSUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
# TLS 1.2 floor: ECDHE key exchange (forward secrecy) with AEAD only, never CBC, RSA kx, DHE.
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
)


OCSP_MODES = ("require", "if-stapled", "off")
REVOCATION_MODES = ("hard", "soft")


def parse_pin(value: str) -> str:
    """Normalize a SHA-256 SPKI pin: base64 of 32 bytes, with or without ``sha256/``.

    Raises:
        ConfigError: not base64, or not a SHA-256 digest (MD5/SHA-1 pins are refused).
    """
    text = value.strip()
    if text.startswith("sha256/"):
        text = text[len("sha256/") :]
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"pin {value!r} is not base64; get a pin with `zerotls pki pin CERT`"
        ) from None
    if len(raw) != 32:
        raise ConfigError(
            f"pin {value!r} is {len(raw)} bytes, not a SHA-256 SPKI hash (32 bytes); "
            "get one with `zerotls pki pin CERT`"
        )
    return base64.b64encode(raw).decode("ascii")


def _check_flags_and_numbers(config: Any) -> None:
    """Booleans must be booleans and numbers numbers: never ``bool("false")``.

    A TOML ``fetch_crls = "false"`` is a string, and truthy: coerced, it would switch on what
    it names off. Refused, with the spelling that works.
    """
    for f in fields(config):
        value = getattr(config, f.name)
        if f.type == "bool" and not isinstance(value, bool):
            raise ConfigError(
                f"{f.name} must be true or false (a TOML boolean, without quotes), not {value!r}"
            )
        if f.type == "float" and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"{f.name} must be a number of seconds, not {value!r}")
        if f.type == "float" and not math.isfinite(value):
            raise ConfigError(f"{f.name} must be a finite number of seconds, not {value!r}")


def _path(value: Any, name: str) -> Path | None:
    if value is None or value == "":
        return None
    if isinstance(value, str | Path):
        return Path(value)
    raise ConfigError(f"{name} must be a file path, not {type(value).__name__}")


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple | set | frozenset):
        items = tuple(value)
        if all(isinstance(v, str) for v in items):
            return items
    raise ConfigError(f"{name} must be a list of strings")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Common:
    cert: Path | None = None
    """PEM file with our certificate, leaf first, then intermediates."""
    key: Path | None = None
    """PEM file with the private key for ``cert`` (keep it 0600)."""
    ca: Path | None = None
    """PEM bundle of the CAs we trust to vouch for the peer. None on a client means the
    system trust store; a server that requires client certificates must name one."""
    crls: tuple[Path, ...] = ()
    """PEM or DER CRL files; when given, the peer's certificate is checked against its
    issuer's CRL (a missing or expired CRL fails closed)."""
    min_version: TLSVersion = TLSVersion.TLSv1_3
    """Lowest protocol accepted. TLS 1.3 by default; ``"1.2"`` is an explicit floor."""
    groups: tuple[str, ...] = DEFAULT_GROUPS
    """Key-exchange groups in preference order (all give forward secrecy)."""
    pins: frozenset[str] = frozenset()
    """SHA-256 SPKI pins (base64): primary plus backups. Checked in addition to the chain,
    inside the handshake; any certificate of the verified chain may match."""
    alpn: tuple[str, ...] = ()
    """ALPN protocols to offer (client) or accept (server), in preference order."""
    handshake_timeout: float = 10.0
    """Seconds a handshake may take before it is abandoned (slowloris protection)."""
    crl_urls: tuple[str, ...] = ()
    """CRLs to fetch over http(s): at start, so no handshake waits for them, and again in the
    background before they go stale (at half their validity, or every ``crl_refresh``)."""
    fetch_crls: bool = False
    """Also fetch the CRLs named in the peer certificate's distribution points (cached, and
    refreshed at half their validity or every ``crl_refresh`` seconds)."""
    crl_refresh: float = 300.0
    """Seconds between looks at the ``crls`` files (a changed file is reloaded) and the
    longest a fetched CRL is kept before it is fetched again."""
    revocation: str = "hard"
    """When CRLs (or OCSP queries) are configured but none can tell a certificate's status
    (no CRL of its issuer, an expired CRL, an unreachable responder): ``"hard"`` refuses the
    peer, ``"soft"`` accepts it and records "unknown, soft-fail" in the audit event."""
    ocsp_skew: float = 300.0
    """Seconds of clock difference tolerated when judging an OCSP response's thisUpdate and
    nextUpdate."""
    crl_state: Path | None = None
    """A file that keeps the newest CRL number verified per issuer across restarts, so an
    older CRL put back (or replayed from an http distribution point) is refused after a
    restart too. None keeps it for the life of the process (reloads included)."""
    identity: Any = None
    """A live identity and trust source instead of ``cert``, ``key`` and ``ca``: a
    :class:`zerotls.spiffe.WorkloadAPI` (started). Handshakes present its current SVID, and
    a peer is verified by the bundle of the trust domain its SPIFFE ID names."""

    def _validate_common(self) -> None:
        _check_flags_and_numbers(self)
        object.__setattr__(self, "min_version", TLSVersion.parse(self.min_version))
        object.__setattr__(self, "cert", _path(self.cert, "cert"))
        object.__setattr__(self, "key", _path(self.key, "key"))
        object.__setattr__(self, "ca", _path(self.ca, "ca"))
        object.__setattr__(self, "crl_state", _path(self.crl_state, "crl_state"))
        object.__setattr__(
            self, "crls", tuple(p for p in (_path(c, "crls") for c in self.crls) if p)
        )
        if (self.cert is None) != (self.key is None):
            raise ConfigError("cert and key go together: give both or neither")
        if self.identity is not None:
            if not (
                callable(getattr(self.identity, "context", None))
                and hasattr(self.identity, "version")
            ):
                raise ConfigError(
                    "identity must be an identity source such as zerotls.spiffe.WorkloadAPI"
                )
            if self.cert is not None or self.ca is not None:
                raise ConfigError(
                    "identity (the Workload API) replaces cert, key and ca: give one or the other"
                )
        groups = _strings(self.groups, "groups")
        if not groups:
            raise ConfigError("groups must not be empty")
        for group in groups:
            if group not in _KNOWN_GROUPS:
                raise ConfigError(
                    f"unknown key-exchange group {group!r}; choose from "
                    f"{', '.join(sorted(_KNOWN_GROUPS))}"
                )
        object.__setattr__(self, "groups", groups)
        object.__setattr__(
            self, "pins", frozenset(parse_pin(p) for p in _strings(self.pins, "pins"))
        )
        alpn = _strings(self.alpn, "alpn")
        for proto in alpn:
            if not proto or len(proto.encode()) > 255:
                raise ConfigError(f"ALPN protocol {proto!r} must be 1 to 255 bytes")
        object.__setattr__(self, "alpn", alpn)
        if not isinstance(self.handshake_timeout, int | float) or self.handshake_timeout <= 0:
            raise ConfigError("handshake_timeout must be a positive number of seconds")
        urls = _strings(self.crl_urls, "crl_urls")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"crl_urls entry {url!r} must be an http:// or https:// URL")
        object.__setattr__(self, "crl_urls", urls)
        if self.revocation not in REVOCATION_MODES:
            raise ConfigError(f"revocation = {self.revocation!r}: use 'hard' (default) or 'soft'")
        if not isinstance(self.crl_refresh, int | float) or self.crl_refresh < 1:
            raise ConfigError("crl_refresh must be at least 1 second")
        if not isinstance(self.ocsp_skew, int | float) or not 0 <= self.ocsp_skew <= 3600:
            raise ConfigError("ocsp_skew must be between 0 and 3600 seconds")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: Path | None = None) -> Self:
        """Build a config from a mapping (as read from TOML).

        Relative paths are resolved against ``base_dir``. Unknown keys are an error, so a typo
        never silently leaves a default in place.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {', '.join(unknown)} for {cls.__name__}; "
                f"known: {', '.join(sorted(names))}"
            )
        values = dict(data)
        for f in fields(cls):  # "5m" for a number of seconds, as in the tunnel's [limits]
            if f.type == "float" and isinstance(values.get(f.name), str):
                values[f.name] = parse_duration(values[f.name]).total_seconds()
        for key in ("cert", "key", "ca", "ocsp_staple_file", "crl_state"):
            if isinstance(values.get(key), str) and base_dir is not None:
                values[key] = base_dir / values[key]
        if "crls" in values:
            values["crls"] = tuple(
                (base_dir / c) if base_dir is not None else Path(c)
                for c in _strings(values["crls"], "crls")
            )
        for key in ("groups", "alpn", "crl_urls"):
            if key in values:
                values[key] = _strings(values[key], key)
        if "pins" in values:
            values["pins"] = frozenset(_strings(values["pins"], "pins"))
        try:
            return cls(**values)
        except TypeError as exc:  # a wrongly typed value that dataclass init rejects
            raise ConfigError(f"invalid {cls.__name__}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path, *, table: str | None = None) -> Self:
        """Load a config from a TOML file (optionally from one ``[table]`` of it).

        Raises:
            ConfigError: the file is missing, not TOML, or holds invalid settings.
        """
        path = Path(path)
        data = read_toml(path, table=table)
        return cls.from_dict(data, base_dir=path.parent)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig(_Common):
    """How a client connects: whom it expects, what it trusts, what it presents.

    Example::

        ClientConfig(server_name="db.internal", ca="ca.pem", cert="me.pem", key="me.key")
        ClientConfig(expect_identity="spiffe://prod.example/svc/db", ca="ca.pem", ...)
    """

    server_name: str | None = None
    """DNS name or IP the server must prove (checked against its SANs, never the CN, RFC 6125);
    a DNS name is also sent as SNI."""
    expect_identity: str | None = None
    """A SPIFFE ID the server must carry as its URI SAN, instead of or beside a DNS name."""
    ocsp: str = "if-stapled"
    """The server's stapled OCSP response: ``"require"`` refuses a server that staples none;
    ``"if-stapled"`` (default) checks one when it comes; ``"off"`` does not ask. A
    certificate marked must-staple (RFC 7633) is always treated as ``"require"``. A stapled
    response is checked in full (signer, signature, certificate, freshness, status) and any
    failure sends the ``bad_certificate_status_response`` alert."""
    session_resumption: bool = True
    """Offer the server a session ticket from an earlier connection of this context. In TLS
    1.3 resumption still runs a fresh ECDHE exchange (psk_dhe_ke), so forward secrecy holds;
    a TLS 1.2 abbreviated handshake (the 1.2 floor) reuses the earlier master secret with no
    new key exchange, and reports no group. Each ticket is
    used once. Pins, the expected identity and revocation are checked again on the
    certificate the session remembers; a resumed handshake carries no OCSP staple."""

    def __post_init__(self) -> None:
        self._validate_common()
        if self.ocsp not in OCSP_MODES:
            raise ConfigError(
                f"ocsp = {self.ocsp!r}: use 'require', 'if-stapled' (default) or 'off'"
            )
        if not self.server_name and not self.expect_identity:
            raise ConfigError(
                "a client must say whom it expects: give server_name (a DNS name or IP) "
                "and/or expect_identity (a SPIFFE ID). Hostname verification cannot be off."
            )
        if self.server_name is not None:
            name = self.server_name.strip().rstrip(".")
            if not name or any(c.isspace() for c in name) or "/" in name:
                raise ConfigError(f"server_name {self.server_name!r} is not a host name or IP")
            object.__setattr__(self, "server_name", name)
        if self.expect_identity is not None:
            object.__setattr__(self, "expect_identity", str(parse_spiffe_id(self.expect_identity)))

    @property
    def server_name_is_ip(self) -> bool:
        """Whether ``server_name`` is an IP literal (checked against IP SANs, no SNI sent)."""
        if self.server_name is None:
            return False
        try:
            ipaddress.ip_address(self.server_name)
        except ValueError:
            return False
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig(_Common):
    """How a server accepts: what it presents and which clients it lets finish a handshake.

    Example::

        ServerConfig(cert="svc.pem", key="svc.key", ca="ca.pem")
    """

    require_client_cert: bool = True
    """Mutual TLS: a client without a certificate from ``ca`` is refused with the
    ``certificate_required`` alert. Turning it off is a deliberate, named choice."""
    session_tickets: bool = True
    """Offer session tickets: TLS 1.3 resumption runs a fresh ECDHE exchange (RFC 8446 §2.2);
    TLS 1.2 resumption (the 1.2 floor only) has no key exchange of its own."""
    ticket_key_lifetime: float = 3600.0
    """Seconds before the ticket-encryption keys are replaced; older tickets then fall back to
    a full handshake. Short-lived keys bound what a stolen key can decrypt."""
    allowed_identities: frozenset[str] = field(default_factory=frozenset)
    """If not empty, only clients whose SPIFFE ID is listed finish the handshake. Fuller
    policies (globs, context, deny rules) live in ``zerotls.policy``."""
    ocsp_stapling: bool = True
    """Staple an OCSP response for our certificate when there is a source: ``ocsp_staple_file``,
    ``ocsp_responder``, or the responder URL in the certificate (authorityInfoAccess)."""
    ocsp_staple_file: Path | None = None
    """A DER OCSP response for our certificate, kept fresh by something else; re-read when it
    changes. Checked before it is stapled, like a fetched one."""
    ocsp_responder: str | None = None
    """An http:// URL to fetch our staple from, overriding the certificate's own."""
    query_ocsp: bool = False
    """Ask the OCSP responder named in each client certificate whether it is revoked (a
    client certificate cannot be stapled). Answers are cached until half their validity; the
    first query for a certificate is made in its handshake, bounded to 3 seconds."""

    def __post_init__(self) -> None:
        self._validate_common()
        object.__setattr__(
            self, "ocsp_staple_file", _path(self.ocsp_staple_file, "ocsp_staple_file")
        )
        if self.ocsp_responder is not None and not str(self.ocsp_responder).startswith(
            ("http://", "https://")
        ):
            raise ConfigError(f"ocsp_responder {self.ocsp_responder!r} must be an http:// URL")
        if not self.ocsp_stapling and (self.ocsp_staple_file or self.ocsp_responder):
            raise ConfigError(
                "ocsp_stapling is off but ocsp_staple_file or ocsp_responder is set: "
                "remove one or the other"
            )
        if self.cert is None and self.identity is None:
            raise ConfigError(
                "a server needs cert and key (issue one with `zerotls pki issue`) or an "
                "identity source (zerotls.spiffe.WorkloadAPI)"
            )
        if self.require_client_cert and self.ca is None and self.identity is None:
            raise ConfigError(
                "require_client_cert is on (the default) but no ca is set: name the CA bundle "
                "that issues client certificates, or set require_client_cert = false explicitly"
            )
        if not self.require_client_cert and (self.pins or self.allowed_identities):
            raise ConfigError(
                "pins and allowed_identities judge client certificates, but "
                "require_client_cert is off: a client without one would skip them. Keep "
                "require_client_cert = true"
            )
        if self.ticket_key_lifetime <= 0:
            raise ConfigError("ticket_key_lifetime must be positive")
        allowed = frozenset(
            str(parse_spiffe_id(s)) for s in _strings(self.allowed_identities, "allowed_identities")
        )
        object.__setattr__(self, "allowed_identities", allowed)
