"""``zerotls tunnel``: mutual TLS in front of cleartext services, and the way back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from zerotls.errors import ConfigError
from zerotls.policy import Policy
from zerotls.tls.config import ClientConfig, ServerConfig, TLSVersion
from zerotls.tunnel.config import ListenerConfig, Route, Target, TunnelConfig
from zerotls.tunnel.service import serve_tunnel

EPILOG_SERVER = """\
examples:
  # Only spiffe://prod.example/svc/web may reach the database on 127.0.0.1:5432:
  zerotls tunnel server --listen 0.0.0.0:8443 --target 127.0.0.1:5432 \\
      --cert db.pem --key db.key --ca ca.pem --allow spiffe://prod.example/svc/web

  # The same with the SVID and trust bundles from a SPIRE agent, rotated as it rotates them:
  zerotls tunnel server --listen 0.0.0.0:8443 --target 127.0.0.1:5432 \\
      --workload-api unix:///run/spire/sockets/agent.sock --allow spiffe://prod.example/svc/web

  --allow forms: spiffe://DOMAIN/PATH (with * for one segment, ** for the rest),
  dns:GLOB, pin:sha256/..., issuer:DN, any (any certificate from --ca). Without --allow
  nobody is allowed (default deny). The cleartext target must be on this machine unless
  --unsafe-target is given."""

EPILOG_CLIENT = """\
examples:
  # A legacy client connects to 127.0.0.1:15432 in cleartext; we dial db over mTLS:
  zerotls tunnel client --listen 127.0.0.1:15432 --target db.internal:8443 \\
      --cert web.pem --key web.key --ca ca.pem --expect spiffe://prod.example/svc/db"""

EPILOG_RUN = """\
signals: SIGHUP reloads the config and every file it names (a broken file keeps the old
material in service); SIGTERM/SIGINT stop accepting, drain open connections up to
limits.drain_timeout, then exit 0. Files are also watched and reloaded when they change,
including a Kubernetes ..data symlink swap. See docs/tunnel.md for the config format."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "tunnel",
        help="mTLS in front of cleartext services (server) or for legacy clients (client); "
        "DTLS for UDP (dtls-server, dtls-client)",
        description="A zero-trust tunnel: every connection authenticated, authorized by "
        "identity (default deny), audited.",
    )
    cmds = parser.add_subparsers(dest="tunnel_command", metavar="MODE")
    cmds.required = True

    p = cmds.add_parser(
        "server",
        help="accept mTLS, forward cleartext to a local service",
        epilog=EPILOG_SERVER,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    accept_options(p, "TLS", "cleartext service: HOST:PORT or unix:/path")
    p.add_argument(
        "--fetch-crls",
        action="store_true",
        help="also fetch the CRLs named in client certificates (distribution points)",
    )
    p.add_argument(
        "--query-ocsp",
        action="store_true",
        help="also ask the OCSP responder named in each client certificate (cached)",
    )
    p.add_argument(
        "--revocation",
        choices=["hard", "soft"],
        default="hard",
        help="when a client's revocation status is unknown: refuse (hard, default) or let "
        "it in and record it (soft)",
    )
    p.add_argument(
        "--staple-file",
        type=Path,
        help="DER OCSP response to staple for our certificate (default: fetched from the "
        "responder our certificate names, if any)",
    )
    p.add_argument("--alpn", action="append", default=[], help="ALPN protocol to accept")
    p.add_argument(
        "--proxy-protocol",
        action="store_true",
        help="send a PROXY v2 header with the caller's identity to the target",
    )
    _common(p)
    p.set_defaults(func=_server)

    p = cmds.add_parser(
        "client",
        help="accept cleartext locally, dial a service over mTLS",
        epilog=EPILOG_CLIENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dial_options(p, "TLS")
    p.add_argument(
        "--ocsp",
        choices=["require", "if-stapled", "off"],
        default="if-stapled",
        help="the remote's stapled OCSP response: require it, check it if stapled (default), "
        "or do not ask",
    )
    p.add_argument("--alpn", action="append", default=[], help="ALPN protocol to offer")
    _common(p)
    p.set_defaults(func=_client)

    p = cmds.add_parser(
        "run",
        help="run a tunnel from a TOML config (many listeners, SNI routing, a policy per route)",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, type=Path)
    _process_options(p)
    p.set_defaults(func=_run)

    p = cmds.add_parser("check", help="validate a config, load its files, print what it does")
    p.add_argument("--config", required=True, type=Path)
    p.set_defaults(func=_check)

    from zerotls.cli import tunnel_dtls

    tunnel_dtls.register(cmds)


def accept_options(p: argparse.ArgumentParser, protocol: str, target_help: str) -> None:
    """Server mode: where we accept, what we forward to, what we present, whom we allow."""
    p.add_argument("--listen", required=True, help=f"HOST:PORT to accept {protocol} on")
    p.add_argument("--target", required=True, help=target_help)
    p.add_argument("--cert", type=Path, help="our certificate chain (PEM)")
    p.add_argument("--key", type=Path, help="our private key")
    p.add_argument("--ca", type=Path, help="CA bundle for client certificates")
    _workload_api_option(p)
    p.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="WHO",
        help="identity allowed to connect (repeatable; see below)",
    )
    p.add_argument(
        "--shadow", action="store_true", help="log what the policy would deny, but let it through"
    )
    p.add_argument(
        "--crl",
        action="append",
        default=[],
        metavar="FILE|URL",
        help="CRL for client certificates (repeatable): a file, reloaded when it changes, or "
        "an http(s) URL, fetched at start and refreshed in the background",
    )
    p.add_argument(
        "--crl-state",
        type=Path,
        metavar="FILE",
        help="keep the newest CRL number seen per issuer in FILE, so an older CRL is refused "
        "after a restart too (default: for the life of the process)",
    )


def _workload_api_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workload-api",
        nargs="?",
        const="env",
        metavar="ADDR",
        help="take our SVID and the trust bundles from a SPIFFE Workload API instead of "
        "--cert/--key/--ca: unix:///run/spire/sockets/agent.sock, tcp://IP:PORT, or no value "
        "for $SPIFFE_ENDPOINT_SOCKET; rotations apply to the next handshake",
    )


def identity_fields(args: argparse.Namespace, *, server: bool) -> dict[str, Any]:
    """Our identity and trust from the command line: files, or a Workload API source.

    Raises:
        ConfigError: both or (for a server) neither were given.
    """
    if args.workload_api is None:
        missing = [f"--{f}" for f in ("cert", "key", "ca") if getattr(args, f) is None]
        if server and missing:
            raise ConfigError(
                f"missing {', '.join(missing)}: a server presents a certificate and checks "
                "client certificates; give --cert, --key and --ca, or --workload-api ADDR"
            )
        return {"cert": args.cert, "key": args.key, "ca": args.ca}
    given = [f"--{f}" for f in ("cert", "key", "ca") if getattr(args, f) is not None]
    if given:
        raise ConfigError(
            f"--workload-api serves the certificate, key and trust bundles: drop "
            f"{', '.join(given)} (or drop --workload-api to use files)"
        )
    from zerotls.spiffe import shared_source

    address = None if args.workload_api == "env" else args.workload_api
    return {"identity": shared_source(address)}


def start_source(fields: dict[str, Any]) -> Any:
    """Start the Workload API source among ``fields`` (from :func:`identity_fields`), if any,
    for a command that runs once; the caller closes it."""
    source = fields.get("identity")
    if source is not None:
        source.start()
    return source


def crl_sources(values: list[str], state: Path | None = None) -> dict[str, Any]:
    """``--crl`` values as config fields: files go to ``crls``, URLs to ``crl_urls``."""
    urls = tuple(v for v in values if v.startswith(("http://", "https://")))
    files = tuple(Path(v) for v in values if v not in urls)
    return {"crls": files, "crl_urls": urls, "crl_state": state}


def dial_options(p: argparse.ArgumentParser, protocol: str) -> None:
    """Client mode: where we listen for the legacy client, and whom we dial, as whom."""
    p.add_argument("--listen", required=True, help="loopback HOST:PORT for the legacy client")
    p.add_argument("--target", required=True, help=f"remote HOST:PORT speaking {protocol}")
    p.add_argument("--cert", type=Path, help="our client certificate")
    p.add_argument("--key", type=Path, help="its key")
    p.add_argument("--ca", type=Path, help="CA bundle to trust (default: system store)")
    _workload_api_option(p)
    p.add_argument("--expect", help="SPIFFE ID the remote must carry")
    p.add_argument("--name", help="DNS name the remote must prove (default: target host)")
    p.add_argument("--pin", action="append", default=[], help="SHA-256 SPKI pin (repeatable)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls12", action="store_true", help="accept TLS 1.2 (ECDHE+AEAD) as floor")
    p.add_argument(
        "--audit-log",
        default="-",
        help="JSON Lines audit log file ('-' = stdout, default; 'off' = none)",
    )
    p.add_argument("--admin", help="loopback HOST:PORT for /metrics, /healthz, /status")
    p.add_argument("--idle-timeout", type=float, default=300.0, help="seconds (default 300)")
    p.add_argument("--handshake-timeout", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument(
        "--max-connections",
        type=int,
        default=10_000,
        help="concurrent connections per worker; more are refused at accept (default 10000)",
    )
    p.add_argument(
        "--unsafe-target",
        action="store_true",
        help="allow cleartext to leave this machine (you take the risk by name)",
    )
    _process_options(p)


def _process_options(p: argparse.ArgumentParser) -> None:
    """How the tunnel runs: workers, event loop, log level (every mode takes these)."""
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes sharing the ports with SO_REUSEPORT (default: one per core)",
    )
    p.add_argument(
        "--loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="event loop: uvloop when installed (auto, measured faster), or asyncio",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")


def _limits(args: argparse.Namespace) -> Any:
    from zerotls.tunnel.config import Limits

    return Limits(idle_timeout=args.idle_timeout, max_connections=args.max_connections)


def _audit(args: argparse.Namespace) -> str | None:
    return None if args.audit_log == "off" else args.audit_log


def _server(args: argparse.Namespace) -> int:
    tls = ServerConfig(
        **identity_fields(args, server=True),
        **crl_sources(args.crl, args.crl_state),
        fetch_crls=args.fetch_crls,
        query_ocsp=args.query_ocsp,
        revocation=args.revocation,
        ocsp_staple_file=args.staple_file,
        alpn=tuple(args.alpn),
        min_version=TLSVersion.TLSv1_2 if args.tls12 else TLSVersion.TLSv1_3,
        handshake_timeout=args.handshake_timeout,
    )
    policy = Policy.allow_identities(args.allow)
    if args.shadow:
        policy = Policy(rules=policy.rules, shadow=True)
    route = Route(
        name="default",
        target=Target.parse(args.target),
        policy=policy,
        proxy_protocol=args.proxy_protocol,
        revocation=args.revocation,
    )
    config = TunnelConfig(
        listeners=(
            ListenerConfig(
                name="server",
                mode="server",
                listen=Target.parse(args.listen),
                tls=tls,
                routes=(route,),
            ),
        ),
        limits=_limits(args),
        audit_log=_audit(args),
        admin=Target.parse(args.admin) if args.admin else None,
        unsafe_target=args.unsafe_target,
    )
    if not args.allow:
        print(
            "zerotls: warning: no --allow given: every client will be denied (default deny)",
            file=sys.stderr,
        )
    return serve_tunnel(config, workers=args.workers, verbose=args.verbose, loop=args.loop)


def _client(args: argparse.Namespace) -> int:
    target = Target.parse(args.target)
    tls = ClientConfig(
        server_name=args.name or (None if args.expect else target.host),
        expect_identity=args.expect,
        **identity_fields(args, server=False),
        pins=frozenset(args.pin),
        ocsp=args.ocsp,
        alpn=tuple(args.alpn),
        min_version=TLSVersion.TLSv1_2 if args.tls12 else TLSVersion.TLSv1_3,
        handshake_timeout=args.handshake_timeout,
    )
    route = Route(name="remote", target=target, client_tls=tls)
    config = TunnelConfig(
        listeners=(
            ListenerConfig(
                name="client", mode="client", listen=Target.parse(args.listen), routes=(route,)
            ),
        ),
        limits=_limits(args),
        audit_log=_audit(args),
        admin=Target.parse(args.admin) if args.admin else None,
        unsafe_target=args.unsafe_target,
    )
    return serve_tunnel(config, workers=args.workers, verbose=args.verbose, loop=args.loop)


def _run(args: argparse.Namespace) -> int:
    config = TunnelConfig.from_toml(args.config)
    return serve_tunnel(config, workers=args.workers, verbose=args.verbose, loop=args.loop)


def _check(args: argparse.Namespace) -> int:
    from zerotls.tunnel.runtime import ListenerRuntime

    config = TunnelConfig.from_toml(args.config)
    for lst in config.listeners:
        ListenerRuntime.build(lst)  # loads every certificate, key, CA and CRL
    if config.audit_log not in (None, "-"):
        folder = Path(str(config.audit_log)).parent
        if not folder.is_dir():
            raise ConfigError(
                f"audit_log {config.audit_log}: the directory {folder} does not exist; create "
                "it (the tunnel writes one event per connection there) or fix the path"
            )
    print(f"{args.config}: OK")
    for line in config.describe():
        print(line)
    return 0
