"""``zerotls demo``: five minutes that show what zerotls does, on real sockets.

It builds a throwaway PKI, starts a mutual-TLS echo service with the library, and then lets
one allowed client and several refused ones try it, printing what each side saw; then OCSP
stapling and a revocation, the tunnel and its audit events, HMAC envelopes, and DTLS; then
(:mod:`zerotls.cli.demo_more`) an endpoint audit, a code audit, the doctor and the monitor.
Everything runs on 127.0.0.1 in this process; nothing is left behind but the two HTML reports
(``--reports DIR``), unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from zerotls.errors import ConfigError, ZeroTLSError
from zerotls.pki import CA, PKIStore
from zerotls.tls.aio import TLSStream, open_connection, start_server
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.context import TLSContext

TRUST_DOMAIN = "demo.zerotls.dev"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="a guided tour on loopback: mTLS, identities, refusals, OCSP, the tunnel, DTLS, "
        "the auditors, the doctor and the monitor",
        description="Create a PKI in a temporary directory, start an mTLS echo service, "
        "connect an allowed client and several refused ones, staple OCSP and revoke, put a "
        "cleartext service behind the tunnel, sign and verify an HMAC envelope, speak DTLS, "
        "grade a weak server beside the tunnel, audit a few lines of insecure code, show the "
        "TLS runtime, and find three injected behaviours in two days of connection logs. "
        "Everything stays on 127.0.0.1.",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary PKI directory")
    p.add_argument(
        "--reports",
        type=Path,
        default=Path(tempfile.gettempdir()) / "zerotls-demo-reports",
        metavar="DIR",
        help="where the audit and monitor HTML reports go (default: %(default)s)",
    )
    p.add_argument("--no-color", action="store_true", help="plain output")
    p.set_defaults(func=run)


class _Out:
    def __init__(self, color: bool) -> None:
        self.color = color

    def _c(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def step(self, n: int, title: str) -> None:
        print()
        print(self._c("1", f"{n}. {title}"))

    def info(self, text: str) -> None:
        print(f"   {text}")

    def ok(self, text: str) -> None:
        print(f"   {self._c('32', '✔')} {text}")

    def refused(self, who: str, exc: BaseException) -> None:
        print(f"   {self._c('31', '✘')} {who} refused: {self._c('33', type(exc).__name__)}")
        print(f"     {exc}")


def run(args: argparse.Namespace) -> int:
    color = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    out = _Out(color)
    state = Path(tempfile.mkdtemp(prefix="zerotls-demo-"))
    try:
        return asyncio.run(_tour(state, out, args.reports))
    finally:
        if args.keep:
            print(f"\nthe demo PKI is kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)


async def _tour(state: Path, out: _Out, reports: Path) -> int:
    print("zerotls demo: zero-trust TLS on 127.0.0.1, step by step")

    out.step(1, "A local PKI with workload identities")
    store = PKIStore.init(state / "pki")
    out.info(f"root CA created in {store.root} (ECDSA P-256, key 0600)")
    _, server_cert = store.issue(
        "echo",
        spiffe_id=f"spiffe://{TRUST_DOMAIN}/svc/echo",
        dns=["localhost"],
        ips=["127.0.0.1"],
        usage="server",
    )
    _, client_cert = store.issue(
        "web",
        spiffe_id=f"spiffe://{TRUST_DOMAIN}/svc/web",
        usage="client",
        ttl=dt.timedelta(hours=1),
    )
    out.info(f"server 'echo': {server_cert.identity.spiffe_id}, valid 24 h")
    out.info(f"client 'web':  {client_cert.identity.spiffe_id}, valid 1 h")
    revoked, _ = store.issue(
        "old-web", spiffe_id=f"spiffe://{TRUST_DOMAIN}/svc/web", usage="client"
    )
    store.revoke(revoked.serial, reason="key_compromise")
    out.info(f"client 'old-web' (serial {revoked.serial[:12]}...) revoked: key_compromise")
    rogue = CA.create("rogue CA")
    rogue_cert = rogue.issue(
        "intruder", spiffe_id=f"spiffe://{TRUST_DOMAIN}/svc/web", usage="client"
    )
    rogue_cert.write(state / "rogue.pem", state / "rogue.key")
    out.info("and, elsewhere, a rogue CA that issued a look-alike 'web' certificate")

    out.step(2, "An mTLS echo service built with zerotls.start_server")
    server_log: list[str] = []

    async def echo(stream: TLSStream) -> None:
        who = stream.identity.name if stream.identity else "anonymous"
        server_log.append(f"accepted {who}")
        while data := await stream.read(65536):
            stream.write(data)
            await stream.drain()

    def refused(exc: ZeroTLSError, peer: Any) -> None:
        server_log.append(f"refused {peer[0]}:{peer[1]}: {exc}")

    server_cfg = ServerConfig(
        cert=store.cert_path("echo"),
        key=store.key_path("echo"),
        ca=store.ca_path,
        crls=(store.crl_path,),
    )
    server = await start_server(echo, "127.0.0.1", 0, server_cfg, on_handshake_failure=refused)
    port = server.port
    out.info(f"listening on 127.0.0.1:{port}: TLS 1.3 only, client certificate required,")
    out.info("groups X25519MLKEM768 (post-quantum hybrid), X25519, P-256, CRL checked")

    good = ClientConfig(
        server_name="localhost",
        ca=store.ca_path,
        cert=store.cert_path("web"),
        key=store.key_path("web"),
    )

    async def attempt(title: str, n: int, cfg: ClientConfig, who: str) -> None:
        out.step(n, title)
        before = len(server_log)
        try:
            stream = await open_connection("127.0.0.1", port, cfg)
            await stream.send(b"hello, zero trust\n")
            reply = await stream.readline()  # a TLS 1.3 server's refusal arrives here
            ident = stream.identity
            out.ok(f"connected: {stream.tls_version}, {stream.cipher}, group {stream.group}")
            if ident is not None:
                out.ok(
                    f"the server proved it is {ident.spiffe_id} (DNS {', '.join(ident.dns_names)})"
                )
            out.ok(f"echo: {reply.decode().strip()!r}")
            await stream.aclose()
        except ZeroTLSError as exc:
            out.refused(who, exc)
        await asyncio.sleep(0.05)  # let the server finish logging its side
        for line in server_log[before:]:
            out.info(f"server: {line}")

    async with server:
        await attempt("An allowed client: web, with its certificate", 3, good, "client")
        await attempt(
            "A client without a certificate",
            4,
            ClientConfig(server_name="localhost", ca=store.ca_path),
            "client",
        )
        await attempt(
            "A client whose certificate comes from another CA",
            5,
            ClientConfig(
                server_name="localhost",
                ca=store.ca_path,
                cert=state / "rogue.pem",
                key=state / "rogue.key",
            ),
            "client",
        )
        await attempt(
            "A client whose certificate was revoked",
            6,
            ClientConfig(
                server_name="localhost",
                ca=store.ca_path,
                cert=store.cert_path("old-web"),
                key=store.key_path("old-web"),
            ),
            "client",
        )
        await attempt(
            "A client that pins a different server key (as if the server were an impostor)",
            7,
            ClientConfig(
                server_name="localhost",
                ca=store.ca_path,
                cert=store.cert_path("web"),
                key=store.key_path("web"),
                pins=frozenset({client_cert.pin}),
            ),
            "client",
        )
        await attempt(
            "A client that expects a different workload identity",
            8,
            ClientConfig(
                expect_identity=f"spiffe://{TRUST_DOMAIN}/svc/db",
                ca=store.ca_path,
                cert=store.cert_path("web"),
                key=store.key_path("web"),
            ),
            "client",
        )
        await _ocsp_tour(store, out)
        out.step(10, "Asking for a legacy protocol")
        try:
            ClientConfig(server_name="localhost", min_version="1.1")  # type: ignore[arg-type]
        except ConfigError as exc:
            out.refused("config", exc)

    tunnel_events = await _tunnel_tour(store, state, out)
    _integrity_tour(out)
    await _dtls_tour(store, out)

    from zerotls.cli import demo_more

    await demo_more.audit_tour(store, state, reports, out)
    demo_more.code_tour(state, out)
    demo_more.doctor_tour(out)
    demo_more.monitor_tour(tunnel_events, state, reports, out)

    print()
    print("what next:")
    print("  zerotls pki init && zerotls pki issue NAME --spiffe-id spiffe://DOMAIN/svc/NAME")
    print("  zerotls connect HOST:PORT --ca ca.pem --cert me.pem --key me.key")
    print("  zerotls tunnel server --listen 0.0.0.0:8443 --target 127.0.0.1:5432 \\")
    print("      --cert db.pem --key db.key --ca ca.pem --allow spiffe://DOMAIN/svc/web")
    print("      (or --workload-api unix:///run/spire/sockets/agent.sock: SVIDs from SPIRE)")
    print("  zerotls audit tls HOST:PORT --html audit.html   # grade endpoints (dtls:// too)")
    print("  zerotls audit code src/                          # insecure TLS in Python code")
    print("  zerotls doctor                                   # this Python's TLS runtime")
    print("  zerotls monitor ingest /var/log/zeek/ && zerotls monitor report --html egress.html")
    print(f"  reports of this run: {reports / 'audit.html'}, {reports / 'monitor.html'}")
    print("  zerotls --help")
    return 0


async def _ocsp_tour(store: PKIStore, out: _Out) -> None:
    """Step 9: an OCSP responder, a must-staple server that staples, and its revocation."""
    import threading

    from zerotls.pki.ocsp import serve as serve_ocsp

    out.step(9, "OCSP stapling: a must-staple server, then its certificate revoked")
    responder = serve_ocsp(store.ocsp_responder(delegated=True))
    thread = threading.Thread(target=responder.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    out.info(f"OCSP responder for the CA at {responder.url} (delegated signer, 4 h responses)")
    store.issue(
        "api",
        spiffe_id=f"spiffe://{TRUST_DOMAIN}/svc/api",
        dns=["localhost"],
        usage="server",
        ocsp_url=responder.url,
        must_staple=True,
    )
    out.info("server 'api': must-staple certificate naming that responder")
    context = TLSContext(
        ServerConfig(cert=store.cert_path("api"), key=store.key_path("api"), ca=store.ca_path)
    )

    async def hello(stream: TLSStream) -> None:
        stream.write(b"hello from api\n")
        await stream.drain()

    server = await start_server(hello, "127.0.0.1", 0, context)
    client = ClientConfig(
        server_name="localhost",
        ca=store.ca_path,
        cert=store.cert_path("web"),
        key=store.key_path("web"),
    )
    try:
        async with server:
            for attempt in ("before", "after"):
                if attempt == "after":
                    store.revoke("api", reason="key_compromise")
                    assert context.stapler is not None  # noqa: S101 - it has a responder
                    context.stapler.refresh()  # a server refreshes at half validity; now here
                    out.info("`zerotls pki revoke api`; the server's next staple says revoked")
                try:
                    stream = await open_connection("127.0.0.1", server.port, client)
                    line = await stream.readline()
                    out.ok(f"connected; revocation: {stream.revocation}")
                    out.ok(f"server says: {line.decode().strip()!r}")
                    await stream.aclose()
                except ZeroTLSError as exc:
                    out.refused("client", exc)
    finally:
        responder.shutdown()
        responder.server_close()
        thread.join(5)


async def _tunnel_tour(store: PKIStore, state: Path, out: _Out) -> list[dict[str, Any]]:
    """Steps 11-12: the tunnel in front of a cleartext service, and its audit events."""
    from zerotls.policy import Policy
    from zerotls.tunnel import AuditLog, Target, Tunnel, TunnelConfig

    out.step(11, "A legacy cleartext service behind `zerotls tunnel server`")

    async def legacy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(b"legacy service says: " + line)
        await writer.drain()
        writer.close()

    service = await asyncio.start_server(legacy, "127.0.0.1", 0)
    service_port = service.sockets[0].getsockname()[1]
    _, batch = store.issue(
        "batch", spiffe_id=f"spiffe://{TRUST_DOMAIN}/batch/report", usage="client"
    )
    events: list[dict[str, Any]] = []
    audit = AuditLog(None)
    audit.listeners.append(lambda _e, line: events.append(json.loads(line)))
    config = TunnelConfig.one_route(
        ServerConfig(cert=store.cert_path("echo"), key=store.key_path("echo"), ca=store.ca_path),
        Target(host="127.0.0.1", port=service_port),
        Policy.allow_identities([f"spiffe://{TRUST_DOMAIN}/svc/web"]),
        name="front",
        route="legacy",
    )
    tunnel = Tunnel(config, audit=audit)
    await tunnel.start()
    port = next(iter(tunnel.addresses().values()))[1]
    out.info(f"cleartext service on 127.0.0.1:{service_port} (loopback only)")
    out.info(
        f"tunnel on 127.0.0.1:{port}: policy allows spiffe://{TRUST_DOMAIN}/svc/web, "
        "denies everyone else"
    )
    for who in ("web", "batch"):
        cfg = ClientConfig(
            server_name="localhost",
            ca=store.ca_path,
            cert=store.cert_path(who),
            key=store.key_path(who),
        )
        try:
            stream = await open_connection("127.0.0.1", port, cfg)
            await stream.send(b"hello from " + who.encode() + b"\n")
            reply = await stream.readline()
            out.ok(f"{who}: {reply.decode().strip()!r}")
            await stream.aclose()
        except ZeroTLSError as exc:
            out.refused(who, exc)
    for _ in range(100):
        if len(events) >= 2:
            break
        await asyncio.sleep(0.02)
    tunnel.close()
    service.close()

    out.step(12, "The audit events they left (one JSON line per connection)")
    keys = ("identity", "decision", "rule", "reason", "bytes_in", "bytes_out", "close_reason")
    for event in events:
        out.info(json.dumps({k: event[k] for k in keys}))
    out.info(f"the full schema ({len(events[0]) if events else 0} fields) is in docs/audit-log.md")
    del batch
    return events


async def _dtls_tour(store: PKIStore, out: _Out) -> None:
    """Step 14: the same identities over UDP, with DTLS 1.2 and stateless cookies."""
    from zerotls.dtls import DTLSAssociation, open_association
    from zerotls.dtls import start_server as start_dtls_server

    out.step(14, "UDP: the same identities over DTLS (zerotls.dtls)")

    async def reading(endpoint: DTLSAssociation) -> None:
        who = (endpoint.identity.spiffe_id if endpoint.identity else None) or "?"
        while message := await endpoint.recv():
            endpoint.send(b"ack " + message + b" from " + who.encode())

    server_cfg = ServerConfig(
        cert=store.cert_path("echo"), key=store.key_path("echo"), ca=store.ca_path
    )
    server = await start_dtls_server(reading, "127.0.0.1", 0, server_cfg)
    out.info(f"DTLS 1.2 service on 127.0.0.1:{server.port}/udp, client certificate required")
    async with server:
        client = ClientConfig(
            server_name="localhost",
            ca=store.ca_path,
            cert=store.cert_path("web"),
            key=store.key_path("web"),
        )
        endpoint = await open_association("127.0.0.1", server.port, client)
        out.ok(f"associated: {endpoint.tls_version}, {endpoint.cipher}")
        endpoint.send(b"temperature=21.5")
        reply = await asyncio.wait_for(endpoint.recv(), 5)
        out.ok(f"one datagram each way: {reply.decode()!r}")
        endpoint.close()
        out.info(
            f"the first hello was answered with a stateless cookie "
            f"({server.listener.hello_verify_sent} sent): spoofed sources cost the server nothing"
        )


def _integrity_tour(out: _Out) -> None:
    """Step 13: an HMAC envelope for a message that leaves the TLS channel."""
    from zerotls.integrity import KeyRing, Verifier, sign

    out.step(13, "Integrity for messages that leave the channel (queues, webhooks)")
    ring = KeyRing.generate()
    verifier = Verifier(ring)
    envelope = sign(ring, b'{"order": 42, "amount": "10.00"}')
    out.info(f"signed: {envelope.decode()[:72]}...")
    out.ok(f"verified: {verifier.verify(envelope).payload.decode()}")
    for what, candidate in (
        ("a replay", envelope),
        ("a tampered copy", envelope.replace(b"zt1.", b"zt1.", 1)[:-3] + b"AAA"),
    ):
        try:
            verifier.verify(candidate)
        except ZeroTLSError as exc:
            out.refused(what, exc)
