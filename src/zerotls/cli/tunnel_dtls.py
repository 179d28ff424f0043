"""``zerotls tunnel dtls-server`` and ``dtls-client``: the UDP tunnel (DTLS 1.2)."""

from __future__ import annotations

import argparse
import logging
import sys

from zerotls.errors import ConfigError
from zerotls.policy import Policy
from zerotls.tls.config import ClientConfig, ServerConfig

EPILOG_SERVER = """\
examples:
  # Only spiffe://prod.example/svc/web may query the DNS server on 127.0.0.1:53:
  zerotls tunnel dtls-server --listen 0.0.0.0:8853 --target 127.0.0.1:53 \\
      --cert dns.pem --key dns.key --ca ca.pem --allow spiffe://prod.example/svc/web

Every peer is authenticated by certificate and authorized by --allow (same forms as
`tunnel server`) inside the DTLS handshake; a first datagram from a new address gets a
stateless cookie first, so spoofed sources cost no state. One audit event per peer session,
with datagrams and bytes each way. DTLS 1.3 is not yet available in the bundled OpenSSL."""

EPILOG_CLIENT = """\
examples:
  # A legacy client sends DNS to 127.0.0.1:5353 in cleartext; we relay it over DTLS:
  zerotls tunnel dtls-client --listen 127.0.0.1:5353 --target dns.internal:8853 \\
      --cert web.pem --key web.key --ca ca.pem --expect spiffe://prod.example/svc/dns"""


def register(cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = cmds.add_parser(
        "dtls-server",
        help="accept DTLS (UDP), forward cleartext datagrams to a local UDP service",
        epilog=EPILOG_SERVER,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from zerotls.cli.tunnel import accept_options

    accept_options(p, "DTLS (UDP)", "cleartext UDP service HOST:PORT")
    p.add_argument(
        "--revocation",
        choices=["hard", "soft"],
        default="hard",
        help="when a client's revocation status is unknown: refuse (hard, default) or let "
        "it in and record it (soft)",
    )
    _common(p)
    p.set_defaults(func=_server)

    p = cmds.add_parser(
        "dtls-client",
        help="accept cleartext UDP on loopback, relay it over DTLS to a remote service",
        epilog=EPILOG_CLIENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from zerotls.cli.tunnel import dial_options

    dial_options(p, "DTLS")
    _common(p)
    p.set_defaults(func=_client)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mtu", type=int, default=1200, help="largest datagram sent, bytes (default 1200)"
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        help="seconds without a datagram before a peer session ends (default 60)",
    )
    p.add_argument("--max-peers", type=int, default=10_000, help="concurrent peer sessions")
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM: how long open sessions may go on before each is closed (default 10)",
    )
    p.add_argument(
        "--max-per-identity",
        type=int,
        metavar="N",
        help="server mode: associations one identity may hold at once (default: unbounded)",
    )
    p.add_argument(
        "--audit-log", default="-", help="JSON Lines audit log ('-' = stdout, 'off' = none)"
    )
    p.add_argument("--admin", help="loopback HOST:PORT for /metrics, /healthz, /status")
    p.add_argument(
        "--unsafe-target",
        action="store_true",
        help="allow cleartext datagrams to leave this machine (you take the risk by name)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port with SO_REUSEPORT (default 1; 0 = one per core); "
        "each peer stays with one worker, and /metrics adds up all of them",
    )
    p.add_argument(
        "--loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="event loop: uvloop when installed (auto), or asyncio",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")


def _server(args: argparse.Namespace) -> int:
    from zerotls.cli.tunnel import crl_sources, identity_fields

    tls = ServerConfig(
        **identity_fields(args, server=True),
        **crl_sources(args.crl, args.crl_state),
        revocation=args.revocation,
    )
    policy = Policy.allow_identities(args.allow)
    if args.shadow:
        policy = Policy(rules=policy.rules, shadow=True)
    if not args.allow:
        print(
            "zerotls: warning: no --allow given: every peer will be denied (default deny)",
            file=sys.stderr,
        )
    return _run(args, "server", tls, policy)


def _client(args: argparse.Namespace) -> int:
    from zerotls.cli.tunnel import identity_fields
    from zerotls.tunnel.config import Target

    target = Target.parse(args.target)
    tls = ClientConfig(
        server_name=args.name or (None if args.expect else target.host),
        expect_identity=args.expect,
        **identity_fields(args, server=False),
        pins=frozenset(args.pin),
    )
    return _run(args, "client", tls, Policy())


def _run(
    args: argparse.Namespace, mode: str, tls: ServerConfig | ClientConfig, policy: Policy
) -> int:
    from zerotls.dtls.connection import DTLSOptions
    from zerotls.tunnel.config import Target
    from zerotls.tunnel.udp import UDPTunnelConfig

    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.max_peers < 1:
        raise ConfigError("--max-peers must be at least 1")
    config = UDPTunnelConfig(
        mode=mode,
        listen=Target.parse(args.listen),
        target=Target.parse(args.target),
        tls=tls,
        policy=policy,
        options=DTLSOptions(mtu=args.mtu),
        idle_timeout=args.idle_timeout,
        max_peers=args.max_peers,
        max_per_identity=getattr(args, "max_per_identity", None),
        name=f"dtls-{mode}",
        audit_log=None if args.audit_log == "off" else args.audit_log,
        admin=Target.parse(args.admin) if args.admin else None,
        unsafe_target=args.unsafe_target,
    )

    from zerotls.tunnel.service import serve_udp_tunnel

    return serve_udp_tunnel(
        config, workers=args.workers, loop=args.loop, drain_timeout=args.drain_timeout
    )
