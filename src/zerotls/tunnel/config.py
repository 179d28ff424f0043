"""Tunnel configuration: listeners, routes, policies and limits, as frozen data.

A config is checked completely before anything listens (``zerotls tunnel check`` prints what it
would do). Files (certificates, keys, policies) are named here and read when the runtime is
built, so a reload that fails keeps the old runtime in service.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from zerotls._util import MAX_DURATION_SECONDS, parse_duration, parse_hostport, read_toml
from zerotls.errors import ConfigError
from zerotls.policy import Policy
from zerotls.tls.config import REVOCATION_MODES, ClientConfig, ServerConfig

__all__ = ["Limits", "ListenerConfig", "Route", "Target", "TunnelConfig"]

Mode = Literal["server", "client"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect or listen: ``host:port``, ``[v6]:port`` or ``unix:/path``."""

    host: str | None = None
    port: int | None = None
    unix: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        if text.startswith("unix:"):
            path = text[len("unix:") :]
            if not path:
                raise ConfigError(f"{text!r}: give the socket path, e.g. unix:/run/app.sock")
            return cls(unix=Path(path))
        host, port = parse_hostport(text)
        return cls(host=host, port=port)

    def __str__(self) -> str:
        if self.unix is not None:
            return f"unix:{self.unix}"
        host = self.host or ""
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def is_local(self) -> bool:
        """A unix socket or a loopback address: cleartext never leaves this machine."""
        if self.unix is not None:
            return True
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host or "").is_loopback
        except ValueError:
            return False


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on each connection and on the tunnel as a whole."""

    idle_timeout: float = 300.0
    """Seconds without a byte either way before a connection is closed."""
    max_lifetime: float | None = None
    """Seconds a connection may live at most (forces re-authentication); None: unbounded."""
    max_connections: int = 10_000
    """Concurrent connections per worker; more are refused at accept."""
    max_per_identity: int | None = None
    """Concurrent connections one identity may hold; None: unbounded."""
    drain_timeout: float = 30.0
    """On SIGTERM, seconds open connections get to finish before they are aborted."""
    connect_timeout: float = 5.0
    """Seconds to reach the target before giving up (the client gets a fast close)."""

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "drain_timeout", "connect_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"limits.{name} must be positive")
        if self.max_connections < 1:
            raise ConfigError("limits.max_connections must be at least 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """Where accepted connections go, and who may use it."""

    name: str
    target: Target
    """Server mode: the cleartext service. Client mode: the remote zero-trust service."""
    sni: tuple[str, ...] = ()
    """Server mode: SNI names (globs) that select this route; empty = the default route."""
    policy: Policy = field(default_factory=Policy)
    """Server mode: who may use the route (default deny)."""
    policy_file: Path | None = None
    """Where ``policy`` was read from, if from its own file (watched for reload)."""
    client_tls: ClientConfig | None = None
    """Client mode: how to dial the remote (our identity, whom we expect, pins)."""
    proxy_protocol: bool = False
    """Server mode: send a PROXY protocol v2 header with the peer's identity to the target."""
    revocation: str = "hard"
    """Server mode: when the listener checks revocation (``crls``, ``fetch_crls``,
    ``query_ocsp``) and a client's status cannot be established, ``"hard"`` refuses it on
    this route and ``"soft"`` lets it in; the audit event records which. Defaults to the
    listener's ``tls.revocation``."""

    def matches_sni(self, sni: str | None) -> bool:
        if not self.sni:
            return True
        if sni is None:
            return False
        name = normalize_sni(sni)
        return any(fnmatch.fnmatchcase(name, normalize_sni(p)) for p in self.sni)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenerConfig:
    """One listening address and what it does."""

    name: str
    mode: Mode
    listen: Target
    tls: ServerConfig | None = None
    """Server mode: what we present and which client CAs we trust."""
    routes: tuple[Route, ...] = ()

    def route_for(self, sni: str | None) -> Route | None:
        """SNI routing: the first route whose names match, else the default route."""
        default = None
        for route in self.routes:
            if route.sni and route.matches_sni(sni):
                return route
            if not route.sni and default is None:
                default = route
        return default


@dataclass(frozen=True, slots=True, kw_only=True)
class TunnelConfig:
    """The whole tunnel: listeners, limits, audit log and admin listener."""

    listeners: tuple[ListenerConfig, ...]
    limits: Limits = field(default_factory=Limits)
    audit_log: str | None = None
    """Path of the JSON Lines audit log, ``-`` for stdout, None for none."""
    admin: Target | None = None
    """Address of the admin listener (/metrics, /healthz, /status); loopback by default."""
    unsafe_target: bool = False
    """Allow cleartext targets/listeners off this machine (the name says what it costs)."""
    source: Path | None = None
    """The file this config came from (for reload and messages)."""

    def __post_init__(self) -> None:
        if not self.listeners:
            raise ConfigError("the tunnel has no listener: add at least one [[listener]]")
        names = [lst.name for lst in self.listeners]
        if len(set(names)) != len(names):
            raise ConfigError(f"listener names must be unique: {names}")
        for lst in self.listeners:
            self._check_listener(lst)
        seen: dict[str, str] = {}
        for lst in self.listeners:
            where = str(lst.listen)
            if lst.listen.port == 0:
                continue  # port 0: each gets a port of its own
            if where in seen:
                raise ConfigError(
                    f"listeners {seen[where]!r} and {lst.name!r} both listen on {where}; give "
                    "each its own address (one listener can serve several routes by SNI)"
                )
            seen[where] = lst.name
        if self.admin is not None and not self.admin.is_local and not self.unsafe_target:
            raise ConfigError(
                f"admin listener {self.admin} is not on loopback; metrics and status would be "
                "open to the network. Use 127.0.0.1:PORT, or unsafe_target = true by name"
            )

    def _check_listener(self, lst: ListenerConfig) -> None:
        where = f"listener {lst.name!r}"
        if not lst.routes:
            raise ConfigError(f"{where} has no route")
        if lst.mode == "server":
            if lst.tls is None:
                raise ConfigError(f"{where}: server mode needs tls (cert, key, ca)")
            for route in lst.routes:
                if not route.target.is_local and not self.unsafe_target:
                    raise ConfigError(
                        f"{where} route {route.name!r}: cleartext target {route.target} is not "
                        "on this machine, so the decrypted traffic would cross the network. "
                        "Use a loopback address or unix socket, or --unsafe-target by name"
                    )
            if sum(1 for r in lst.routes if not r.sni) > 1:
                raise ConfigError(f"{where} has more than one default route (route without sni)")
        else:
            if len(lst.routes) != 1:
                raise ConfigError(f"{where}: client mode takes exactly one route")
            if lst.routes[0].client_tls is None:
                raise ConfigError(f"{where}: client mode needs the route's tls settings")
            if not lst.listen.is_local and not self.unsafe_target:
                raise ConfigError(
                    f"{where} listens for cleartext on {lst.listen}, off loopback: legacy "
                    "clients would send plaintext over the network. Listen on 127.0.0.1, "
                    "or set unsafe_target by name"
                )

    @classmethod
    def one_route(
        cls,
        tls: ServerConfig,
        target: Target,
        policy: Policy,
        *,
        listen: Target | None = None,
        name: str = "server",
        route: str = "default",
    ) -> TunnelConfig:
        """The simplest server tunnel: one listener (loopback, any free port by default)
        accepting mTLS with ``tls`` and forwarding to ``target`` whom ``policy`` allows."""
        return cls(
            listeners=(
                ListenerConfig(
                    name=name,
                    mode="server",
                    listen=listen or Target(host="127.0.0.1", port=0),
                    tls=tls,
                    routes=(Route(name=route, target=target, policy=policy),),
                ),
            )
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> TunnelConfig:
        """Load and check a tunnel config file (see docs/tunnel.md for the format)."""
        path = Path(path)
        data = read_toml(path, "tunnel config")
        return cls.from_dict(data, base_dir=path.parent, source=path)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, base_dir: Path, source: Path | None = None
    ) -> TunnelConfig:
        _only(data, {"listener", "limits", "audit_log", "admin", "unsafe_target"}, "top level")
        limits = _limits(data.get("limits", {}))
        listeners = tuple(
            _listener(item, base_dir) for item in _tables(data, "listener", "top level")
        )
        audit = data.get("audit_log")
        if isinstance(audit, str) and audit != "-":
            audit = str(base_dir / audit)
        admin = data.get("admin")
        return cls(
            listeners=listeners,
            limits=limits,
            audit_log=audit,
            admin=Target.parse(admin) if isinstance(admin, str) else None,
            unsafe_target=_flag(data.get("unsafe_target", False), "unsafe_target"),
            source=source,
        )

    def identity_sources(self) -> list[Any]:
        """The Workload API sources the listeners and routes use (each once)."""
        found: dict[int, Any] = {}
        for lst in self.listeners:
            configs = [lst.tls, *(r.client_tls for r in lst.routes)]
            for tls in configs:
                source = getattr(tls, "identity", None)
                if source is not None:
                    found.setdefault(id(source), source)
        return list(found.values())

    def describe(self) -> list[str]:
        """What this tunnel would do, one line per fact (for ``zerotls tunnel check``)."""
        lines = []
        for lst in self.listeners:
            if lst.mode == "server" and lst.tls is not None:
                source = lst.tls.identity
                trust, ours = (
                    (f"trust bundles from the Workload API at {source.address}", "its SVID")
                    if source is not None
                    else (str(lst.tls.ca), str(lst.tls.cert))
                )
                lines.append(
                    f"listener {lst.name}: accept mTLS on {lst.listen} (TLS "
                    f"{lst.tls.min_version.value}+, client certs from {trust}, presenting "
                    f"{ours})"
                )
                lines.append(f"  {_revocation_summary(lst.tls)}")
                for route in lst.routes:
                    names = ", ".join(route.sni) if route.sni else "any SNI (default route)"
                    checks_revocation = bool(
                        lst.tls.crls or lst.tls.crl_urls or lst.tls.fetch_crls or lst.tls.query_ocsp
                    )
                    lines.append(
                        f"  route {route.name}: {names} -> cleartext {route.target}"
                        + (" with PROXY v2" if route.proxy_protocol else "")
                        + (
                            f"; unknown revocation status: {route.revocation}-fail"
                            if checks_revocation
                            else ""
                        )
                    )
                    if route.policy.shadow:
                        lines.append("    policy in SHADOW mode: denials are logged, not enforced")
                    rules = route.policy.describe()
                    lines += [f"    {line}" for line in rules] or ["    no rule: everyone denied"]
                    lines.append("    anything else: denied (default deny)")
            else:
                route = lst.routes[0]
                tls = route.client_tls
                assert tls is not None  # noqa: S101 - checked in __post_init__
                expect = tls.expect_identity or tls.server_name
                lines.append(
                    f"listener {lst.name}: accept cleartext on {lst.listen} -> mTLS to "
                    f"{route.target} expecting {expect}"
                    + (f" with {len(tls.pins)} pin(s)" if tls.pins else "")
                    + f", OCSP staple {tls.ocsp}"
                    + (
                        f", as the SVID from the Workload API at {tls.identity.address}"
                        if tls.identity is not None
                        else f", as {tls.cert}"
                        if tls.cert
                        else ", without a client certificate"
                    )
                )
        limits = self.limits
        lines.append(
            f"limits: idle {limits.idle_timeout:g} s, lifetime "
            f"{limits.max_lifetime or 'unbounded'}, {limits.max_connections} connections, "
            f"{limits.max_per_identity or 'unbounded'} per identity"
        )
        lines.append(f"audit log: {self.audit_log or 'off'}; admin: {self.admin or 'off'}")
        return lines


def _revocation_summary(tls: ServerConfig) -> str:
    sources = [f"CRL file {p}" for p in tls.crls] + [f"CRL {u}" for u in tls.crl_urls]
    if tls.fetch_crls:
        sources.append("CRL distribution points")
    if tls.query_ocsp:
        sources.append("OCSP queries")
    checked = (
        f"client revocation from {', '.join(sources)}, refreshed every {tls.crl_refresh:g} s"
        if sources
        else "client revocation: not checked (set crls, fetch_crls or query_ocsp)"
    )
    if not tls.ocsp_stapling:
        staple = "OCSP stapling off"
    elif tls.ocsp_staple_file is not None:
        staple = f"staples OCSP from {tls.ocsp_staple_file}"
    elif tls.ocsp_responder is not None:
        staple = f"staples OCSP from {tls.ocsp_responder}"
    else:
        staple = "staples OCSP when the certificate names a responder"
    return f"{checked}; {staple}"


_SNI_RE = re.compile(r"[a-z0-9_*-]+(?:\.[a-z0-9_*-]+)*")


def normalize_sni(name: str) -> str:
    """An SNI name (or route pattern) as compared everywhere: lower case, no trailing dot
    (``db.internal.`` is ``db.internal``, for routing and policy globs alike)."""
    return name.strip().rstrip(".").lower()


def valid_sni(name: str) -> bool:
    """A DNS host name as RFC 6066 §3 says SNI carries it (ASCII labels; no spaces, no control
    characters: a name with ESC or a newline would later reach an analyst's terminal)."""
    text = normalize_sni(name)
    return len(text) <= 253 and _SNI_RE.fullmatch(text) is not None


def _only(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)} in {where}; "
            f"known: {', '.join(sorted(allowed))}"
        )


def _tables(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigError(f"{key} in {where} must be a table or an array of tables")
    return value


def _flag(value: Any, name: str) -> bool:
    """A TOML boolean, strictly: ``"false"`` (a string) is truthy and must never turn on
    what it names off (cleartext off the machine, PROXY headers)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false (without quotes), not {value!r}")
    return value


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value > MAX_DURATION_SECONDS:
            raise ConfigError(f"{name} must be at most 100 years of seconds, not {value!r}")
        return float(value)
    if isinstance(value, str):
        return parse_duration(value).total_seconds()
    raise ConfigError(f"{name} must be a number of seconds or a duration like '5m'")


def _limits(data: Mapping[str, Any]) -> Limits:
    names = {
        "idle_timeout",
        "max_lifetime",
        "max_connections",
        "max_per_identity",
        "drain_timeout",
        "connect_timeout",
    }
    _only(data, names, "[limits]")
    values: dict[str, Any] = {}
    for key in ("idle_timeout", "max_lifetime", "drain_timeout", "connect_timeout"):
        if key in data:
            values[key] = _seconds(data[key], f"limits.{key}")
    for key in ("max_connections", "max_per_identity"):
        if key in data:
            if isinstance(data[key], bool) or not isinstance(data[key], int):
                raise ConfigError(f"limits.{key} must be a whole number, not {data[key]!r}")
            values[key] = data[key]
    return Limits(**values)


def _listener(data: Mapping[str, Any], base: Path) -> ListenerConfig:
    _only(data, {"name", "mode", "listen", "tls", "route"}, "[[listener]]")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError("every [[listener]] needs a name")
    mode = data.get("mode", "server")
    if mode not in ("server", "client"):
        raise ConfigError(f"listener {name!r}: mode must be 'server' or 'client'")
    listen = data.get("listen")
    if not isinstance(listen, str):
        raise ConfigError(f"listener {name!r} needs listen = 'HOST:PORT'")
    tls = None
    if mode == "server":
        tls_data = data.get("tls")
        if not isinstance(tls_data, Mapping):
            raise ConfigError(f"listener {name!r}: server mode needs a [listener.tls] table")
        tls = _tls(ServerConfig, tls_data, base, f"listener {name!r}")
    default_revocation = tls.revocation if tls is not None else "hard"
    routes = tuple(
        _route(item, base, mode, name, default_revocation)
        for item in _tables(data, "route", f"listener {name!r}")
    )
    if tls is not None and any(r.revocation == "soft" for r in routes):
        # One handshake serves every route of the listener: let unknown status through the
        # handshake, and refuse it again for each hard route when the route is known.
        tls = replace(tls, revocation="soft")
    return ListenerConfig(name=name, mode=mode, listen=Target.parse(listen), tls=tls, routes=routes)


def _route(
    data: Mapping[str, Any], base: Path, mode: str, listener: str, default_revocation: str
) -> Route:
    allowed = {
        "name",
        "target",
        "sni",
        "policy",
        "rule",
        "shadow",
        "tls",
        "proxy_protocol",
        "revocation",
    }
    _only(data, allowed, f"a route of listener {listener!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"every route of listener {listener!r} needs a name")
    target = data.get("target")
    if not isinstance(target, str):
        raise ConfigError(f"route {name!r} needs target = 'HOST:PORT' or 'unix:/path'")
    sni = data.get("sni", [])
    sni = (sni,) if isinstance(sni, str) else sni
    if not isinstance(sni, list | tuple) or not all(isinstance(n, str) for n in sni):
        raise ConfigError(f"route {name!r}: sni must be a host name or a list of them")
    sni = tuple(sni)
    policy = Policy()
    policy_file = None
    client_tls = None
    if mode == "server":
        if "policy" in data:
            if "rule" in data:
                raise ConfigError(f"route {name!r}: give policy = FILE or inline rules, not both")
            policy_file = base / str(data["policy"])
            policy = Policy.from_toml(policy_file)
        else:
            policy = Policy.from_dict(
                {"rule": data.get("rule", []), "shadow": data.get("shadow", False)},
                source=f"route {name!r}",
            )
    else:
        tls_data = data.get("tls")
        if not isinstance(tls_data, Mapping):
            raise ConfigError(f"route {name!r}: client mode needs a [listener.route.tls] table")
        client_tls = _tls(ClientConfig, tls_data, base, f"route {name!r}")
    return Route(
        name=name,
        target=Target.parse(target),
        sni=sni,
        policy=policy,
        policy_file=policy_file,
        client_tls=client_tls,
        proxy_protocol=_flag(data.get("proxy_protocol", False), f"route {name!r}: proxy_protocol"),
        revocation=_revocation_mode(data.get("revocation", default_revocation), name),
    )


_C = TypeVar("_C", ServerConfig, ClientConfig)


def _tls(cls: type[_C], data: Mapping[str, Any], base: Path, where: str) -> _C:
    """A ``tls`` table; ``workload_api = "unix:///..."`` (or ``true`` for
    ``$SPIFFE_ENDPOINT_SOCKET``) takes the identity and trust bundles from the agent."""
    values = dict(data)
    address = values.pop("workload_api", None)
    if address is None or address is False:
        return cls.from_dict(values, base_dir=base)
    if address is not True and not isinstance(address, str):
        raise ConfigError(
            f"{where}: workload_api must be an address such as "
            f"'unix:///run/spire/sockets/agent.sock' (or true for $SPIFFE_ENDPOINT_SOCKET), "
            f"not {address!r}"
        )
    given = sorted(k for k in ("cert", "key", "ca") if k in values)
    if given:
        raise ConfigError(
            f"{where}: workload_api serves the certificate, key and trust bundles; drop "
            f"{', '.join(given)} (or drop workload_api to use files)"
        )
    from zerotls.spiffe import shared_source

    source = shared_source(None if address is True else address)
    return cls.from_dict({**values, "identity": source}, base_dir=base)


def _revocation_mode(value: Any, route: str) -> str:
    if value not in REVOCATION_MODES:
        raise ConfigError(f"route {route!r}: revocation must be 'hard' or 'soft', not {value!r}")
    return str(value)
