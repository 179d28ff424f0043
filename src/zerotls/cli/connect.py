"""``zerotls connect``: open a verified mTLS connection and show who answered."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from zerotls._util import parse_hostport
from zerotls.errors import ConnectionBroken
from zerotls.tls.config import ClientConfig, TLSVersion
from zerotls.tls.identity import Identity
from zerotls.tls.sync import connect

EPILOG = """\
examples:
  zerotls connect 127.0.0.1:8443 --name localhost --ca ca.pem --cert me.pem --key me.key
  zerotls connect db:5433 --expect spiffe://prod.example/svc/db --ca ca.pem \\
      --cert me.pem --key me.key --pin sha256/AbC...=
  echo ping | zerotls connect 127.0.0.1:8443 --name localhost --ca ca.pem --send -
  zerotls connect api:443 --ocsp require --crl ca.crl    # a revoked server is refused
  zerotls connect db:5433 --expect spiffe://prod.example/svc/db \\
      --workload-api unix:///run/spire/sockets/agent.sock   # as the SVID the agent serves
  zerotls connect 127.0.0.1:8853 --dtls --name localhost --ca ca.pem --cert me.pem \
      --key me.key --send ping                            # a DTLS service, one datagram

The server name is checked against the certificate's SANs (never its CN). Without --name and
--expect, the host part of ADDRESS is the name to check.

With --send, a peer that closes without close_notify after its reply (nginx does, once we
half-close) still has its reply and the handshake summary printed; the warning then goes to
stderr and the exit code is 4 (the reply may be truncated)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "connect",
        help="open a verified (m)TLS connection and print the peer's identity",
        description="Connect like `openssl s_client`, but with zerotls's checks: chain, SAN "
        "name or SPIFFE identity, pins, TLS 1.3.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("address", help="HOST:PORT to connect to")
    p.add_argument("--name", help="DNS name or IP the server must prove (default: HOST)")
    p.add_argument("--expect", help="SPIFFE ID the server must carry")
    p.add_argument("--ca", type=Path, help="CA bundle to trust (default: system store)")
    p.add_argument("--cert", type=Path, help="our certificate (for mutual TLS)")
    p.add_argument("--key", type=Path, help="our private key")
    p.add_argument(
        "--workload-api",
        nargs="?",
        const="env",
        metavar="ADDR",
        help="our SVID and the trust bundles from a SPIFFE Workload API instead of "
        "--cert/--key/--ca (unix:///..., tcp://IP:PORT, or no value for "
        "$SPIFFE_ENDPOINT_SOCKET)",
    )
    p.add_argument("--pin", action="append", default=[], help="SHA-256 SPKI pin (repeatable)")
    p.add_argument("--crl", action="append", default=[], type=Path, help="CRL file")
    p.add_argument(
        "--ocsp",
        choices=["require", "if-stapled", "off"],
        default="if-stapled",
        help="the server's stapled OCSP response: require one, check it if stapled "
        "(default), or do not ask; a must-staple certificate always requires one",
    )
    p.add_argument("--alpn", action="append", default=[], help="ALPN protocol to offer")
    p.add_argument("--tls12", action="store_true", help="accept TLS 1.2 (ECDHE+AEAD) as floor")
    p.add_argument(
        "--dtls",
        action="store_true",
        help="speak DTLS 1.2 over UDP instead of TLS over TCP (--send sends one datagram and "
        "prints the first reply)",
    )
    p.add_argument("--send", metavar="TEXT", help="send TEXT ('-' for stdin), print the reply")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_connect)


EXIT_TRUNCATED = 4
"""``--send``: the reply arrived (and is printed) but the peer closed without close_notify."""


def _connect(args: argparse.Namespace) -> int:
    from zerotls.cli.tunnel import identity_fields, start_source

    host, port = parse_hostport(args.address)
    name = args.name or (None if args.expect else host)
    fields = identity_fields(args, server=False)
    source = start_source(fields)
    try:
        return _connect_with(args, host=host, port=port, name=name, fields=fields, source=source)
    finally:
        if source is not None:
            source.close()


def _connect_with(
    args: argparse.Namespace,
    *,
    host: str,
    port: int,
    name: str | None,
    fields: dict[str, Any],
    source: Any,
) -> int:
    config = ClientConfig(
        server_name=name,
        expect_identity=args.expect,
        **fields,
        pins=frozenset(args.pin),
        crls=tuple(args.crl),
        ocsp=args.ocsp,
        alpn=tuple(args.alpn),
        min_version=TLSVersion.TLSv1_2 if args.tls12 else TLSVersion.TLSv1_3,
        handshake_timeout=args.timeout,
    )
    if args.dtls:
        return _connect_dtls(args, host, port, config)
    truncated: str | None = None
    with connect(host, port, config, timeout=args.timeout) as tls:
        tls.await_verdict()  # a TLS 1.3 server refuses our certificate after our handshake
        reply = None
        if args.send is not None:
            payload = sys.stdin.buffer.read() if args.send == "-" else args.send.encode()
            tls.sendall(payload)
            tls.shutdown_write()
            chunks = []
            try:
                while chunk := tls.recv():
                    chunks.append(chunk)
            except ConnectionBroken as exc:
                # Many servers (nginx among them) close without close_notify once the client
                # half-closed: keep what arrived, show it, then say it may be incomplete.
                truncated = str(exc)
            reply = b"".join(chunks)
        ident = tls.identity
        result = {
            "address": f"{host}:{port}",
            "tls_version": tls.tls_version,
            "cipher": tls.cipher,
            "group": tls.group,
            "alpn": tls.alpn,
            "revocation": tls.revocation,
            "identity": ident.to_dict() if ident else None,
        }
        if source is not None:
            result["workload_api"] = source.status()
    if args.json:
        if reply is not None:
            result["reply"] = reply.decode("utf-8", "replace")
        if truncated is not None:
            result["truncated"] = truncated
        print(json.dumps(result, indent=2))
        return _truncation(truncated, reply)
    print(
        f"connected to {host}:{port}: {tls.tls_version}, {tls.cipher}, group {tls.group}"
        + (f", ALPN {tls.alpn}" if tls.alpn else "")
    )
    if ident is not None:
        print(f"  identity: {ident.name}")
        print(f"  issuer:   {ident.issuer}")
        print(f"  valid to: {ident.not_after:%Y-%m-%d %H:%M}Z")
        print(f"  pin:      sha256/{ident.spki_pin}")
    if tls.revocation is not None:
        print(f"  revocation: {tls.revocation}")
    if source is not None:
        ours = source.status()
        print(
            f"  as:       {ours['spiffe_id']} (SVID serial {ours['serial']} from "
            f"{ours['address']}, valid to {ours['expires']})"
        )
    if reply is not None:
        sys.stdout.write(reply.decode("utf-8", "replace"))
        sys.stdout.flush()
    return _truncation(truncated, reply)


def _truncation(truncated: str | None, reply: bytes | None) -> int:
    if truncated is None:
        return 0
    print(
        f"zerotls: warning: {len(reply or b'')} byte(s) received, then {truncated}",
        file=sys.stderr,
    )
    return EXIT_TRUNCATED


def _connect_dtls(args: argparse.Namespace, host: str, port: int, config: ClientConfig) -> int:
    """``--dtls``: one association, at most one datagram each way."""
    import asyncio

    from zerotls.dtls import DTLSOptions, open_association
    from zerotls.errors import HandshakeTimeout

    async def run() -> tuple[dict[str, object], bytes | None, Identity | None]:
        options = DTLSOptions(handshake_timeout=args.timeout)
        endpoint = await open_association(host, port, config, options=options)
        reply = None
        try:
            if args.send is not None:
                payload = sys.stdin.buffer.read() if args.send == "-" else args.send.encode()
                endpoint.send(payload)
                try:
                    reply = await asyncio.wait_for(endpoint.recv(), args.timeout)
                except TimeoutError:
                    raise HandshakeTimeout(
                        f"no reply datagram within {args.timeout:g} s (UDP: the request or the "
                        "reply may have been lost; the service may not answer this message)"
                    ) from None
        finally:
            endpoint.close()
            await asyncio.sleep(0.01)  # let the close_notify leave
        ident = endpoint.identity
        return (
            {
                "address": f"{host}:{port}",
                "transport": "udp",
                "tls_version": endpoint.tls_version,
                "cipher": endpoint.cipher,
                "group": endpoint.group,
                "revocation": endpoint.revocation,
                "identity": ident.to_dict() if ident else None,
            },
            reply,
            ident,
        )

    result, reply, identity = asyncio.run(run())
    if args.json:
        if reply is not None:
            result["reply"] = reply.decode("utf-8", "replace")
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"connected to {host}:{port}/udp: {result['tls_version']}, {result['cipher']}, "
        f"group {result['group']}"
    )
    if identity is not None:
        print(f"  identity: {identity.name}")
        print(f"  issuer:   {identity.issuer}")
    if result["revocation"] is not None:
        print(f"  revocation: {result['revocation']}")
    if reply is not None:
        sys.stdout.write(reply.decode("utf-8", "replace"))
    return 0
