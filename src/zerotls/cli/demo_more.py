"""The demo's second half: finding legacy TLS on endpoints and in code, the runtime, and
unusual egress in connection logs (steps 15 to 18 of ``zerotls demo``).

Everything still runs on 127.0.0.1 in this process: a deliberately weak TLS server (TLS 1.0
to 1.2, CBC suites with static RSA, an RSA certificate that expires in five days) audited
beside a zerotls tunnel; a few lines of Python with the classic mistakes, audited; the
doctor's summary; and the tunnel's own audit events plus a generated two-day history with
three injected behaviours (a beacon, a large upload, a burst of denied connections),
ingested into a monitor store and judged. The two HTML reports are written to a directory
that outlives the demo, and their paths printed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import socket
import struct
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from zerotls.pki import CA, PKIStore

__all__ = ["WEAK_CODE", "audit_tour", "code_tour", "doctor_tour", "monitor_tour"]


class Out(Protocol):
    def step(self, n: int, title: str) -> None: ...
    def info(self, text: str) -> None: ...
    def ok(self, text: str) -> None: ...


WEAK_CODE = """\
import hashlib
import hmac
import ssl

import requests


def fetch_report(url):
    return requests.get(url, verify=False)           # no certificate check at all


def legacy_socket(sock):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1)          # TLS 1.0
    return ctx.wrap_socket(sock)


def sign(key, message):
    return hmac.new(key, message, hashlib.md5).hexdigest()   # an MD5 MAC
"""


# -- step 15: audit an endpoint --------------------------------------------------------------


@contextlib.contextmanager
def weak_server(root: Path) -> Iterator[int]:
    """A TLS server configured the way legacy ones are; yields its port."""
    from OpenSSL import SSL

    ca = CA.create("legacy vendor CA", key_type="rsa")
    leaf = ca.issue(
        "legacy",
        dns=["localhost"],
        ips=["127.0.0.1"],
        usage="server",
        key_type="rsa",
        ttl=dt.timedelta(days=5),
    )
    leaf.write(root / "legacy.pem", root / "legacy.key")
    (root / "legacy-ca.pem").write_bytes(ca.cert_pem)
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_VERSION)  # zerotls: ignore[TLS001] the demo's weak server
    ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    weak = b"AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0"
    ctx.set_cipher_list(weak)  # zerotls: ignore[TLS006,TLS007] weak on purpose, to be found
    ctx.use_certificate_chain_file(str(root / "legacy.pem"))
    ctx.use_privatekey_file(str(root / "legacy.key"))
    listener = socket.create_server(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])

    def one(conn: socket.socket) -> None:
        with contextlib.suppress(Exception), conn:
            tls = SSL.Connection(ctx, conn)
            tls.set_accept_state()
            tls.do_handshake()
            tls.shutdown()

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            # Blocking (pyOpenSSL's plain sockets), but a silent client is dropped after 5 s.
            conn.setblocking(True)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 5, 0))
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()


async def audit_tour(store: PKIStore, root: Path, reports: Path, out: Out) -> dict[str, str]:
    """Step 15: two endpoints graded side by side; the HTML report."""
    from zerotls.audit import ScanOptions, scan_async
    from zerotls.audit.model import Target
    from zerotls.audit.reports import render_html
    from zerotls.policy import Policy
    from zerotls.tls.config import ServerConfig
    from zerotls.tunnel import ListenerConfig, Route, Tunnel, TunnelConfig
    from zerotls.tunnel import Target as TunnelTarget

    out.step(15, "Finding legacy TLS: a weak server and the demo's tunnel, graded side by side")
    tunnel = Tunnel(
        TunnelConfig(
            listeners=(
                ListenerConfig(
                    name="front",
                    mode="server",
                    listen=TunnelTarget(host="127.0.0.1", port=0),
                    tls=ServerConfig(
                        cert=store.cert_path("echo"), key=store.key_path("echo"), ca=store.ca_path
                    ),
                    routes=(
                        Route(
                            name="svc",
                            target=TunnelTarget(host="127.0.0.1", port=9),
                            policy=Policy.allow_identities([]),
                        ),
                    ),
                ),
            )
        )
    )
    await tunnel.start()
    tunnel_port = next(iter(tunnel.addresses().values()))[1]
    grades: dict[str, str] = {}
    try:
        with weak_server(root) as weak_port:
            out.info(f"a legacy server on 127.0.0.1:{weak_port}: TLS 1.0-1.2, CBC, 5-day cert")
            out.info(f"the demo's tunnel on 127.0.0.1:{tunnel_port}: TLS 1.3, mutual TLS")
            bundle = root / "both-cas.pem"
            bundle.write_bytes((root / "legacy-ca.pem").read_bytes() + store.ca_path.read_bytes())
            targets = [
                Target("localhost", weak_port, server_name="localhost"),
                Target("localhost", tunnel_port, server_name="localhost"),
            ]
            results = await scan_async(targets, ScanOptions(ca_file=bundle))
    finally:
        tunnel.close()
    for label, report in zip(("legacy server", "zerotls tunnel"), results, strict=True):
        if report.grade is None:
            out.info(f"{label}: not graded ({report.error})")
            continue
        grades[label] = report.grade.grade
        out.ok(f"{label:<15} grade {report.grade.grade}  ({report.duration_s:.2f} s)")
        for cap in report.grade.caps[:3]:
            out.info(f"    capped at {cap.grade}: {cap.reason}")
            out.info("      " + textwrap.shorten(f"fix: {cap.fix}", 104, placeholder=" ..."))
    reports.mkdir(parents=True, exist_ok=True)
    page = reports / "audit.html"
    page.write_text(render_html(results), encoding="utf-8")
    out.info(f"HTML report: {page}")
    return grades


# -- step 16: audit code ---------------------------------------------------------------------


def code_tour(root: Path, out: Out) -> int:
    """Step 16: the classic mistakes in a few lines of Python, each with its fix."""
    from zerotls.codeaudit import audit_paths

    out.step(16, "Finding insecure TLS in code: `zerotls audit code`")
    path = root / "legacy_client.py"
    path.write_text(WEAK_CODE, encoding="utf-8")
    report = audit_paths([path])
    for f in report.active:
        out.info(f"{path.name}:{f.line}  {f.rule_id} {f.severity.name}: {f.message}")
        out.info("    " + textwrap.shorten(f"fix: {f.fix}", 106, placeholder=" ..."))
    return len(report.active)


# -- step 17: the runtime --------------------------------------------------------------------


def doctor_tour(out: Out) -> None:
    """Step 17: which OpenSSL, the hybrid group, advisories that apply."""
    from zerotls.doctor import run_doctor

    out.step(17, "The runtime: `zerotls doctor`")
    report = run_doctor()
    for line in report.to_text().splitlines()[:12]:
        if line.strip():
            out.info(
                textwrap.shorten(line.rstrip(), 106, placeholder=" ...")
                if len(line) > 106
                else line.rstrip()
            )
    out.info(f"{len(report.unsafe)} unsafe, {len(report.warnings)} warning(s): `zerotls doctor`")


# -- step 18: the monitor --------------------------------------------------------------------

_HOUR = 3600.0
_USUAL = ("mail.corp.example", "git.corp.example", "crm.saas.example", "docs.saas.example")
_CIPHERS = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")


def _event(ts: float, source: str, target: str, **kw: Any) -> dict[str, Any]:
    start = dt.datetime.fromtimestamp(ts, dt.UTC)
    end = start + dt.timedelta(milliseconds=kw.pop("duration_ms", 800))
    record = {
        "v": 1,
        "time": start.isoformat().replace("+00:00", "Z"),
        "end": end.isoformat().replace("+00:00", "Z"),
        "duration_ms": (end - start).total_seconds() * 1000,
        "conn_id": kw.pop("conn_id"),
        "listener": "egress",
        "mode": "client",
        "route": "out",
        "target": f"{target}:443",
        "source": f"{source}:{40000 + int(ts) % 20000}",
        "sni": target,
        "tls_version": "TLSv1.3",
        "cipher": "TLS_AES_128_GCM_SHA256",
        "decision": "allow",
        "bytes_in": 2_000,
        "bytes_out": 30_000,
        "close_reason": "backend_close",
    }
    record.update(kw)
    return record


def history(now: float, seed: int = 7) -> list[dict[str, Any]]:
    """Two days of an egress tunnel's events from eight hosts, and three injected behaviours
    in the last six hours: a beacon, an upload far above the host's usual, denied probing.

    The scenario is the same whenever it runs: it ends at the last full hour before *now*,
    and its working day is counted from that end (the last hour is 17:00 on the hosts'
    clocks), not from the wall clock, so the hour-of-day baselines never shift under it.
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible scenario, not a secret
    end = now - now % _HOUR
    start = end - 48 * _HOUR
    hosts = [f"10.0.0.{i}" for i in range(10, 18)]
    events: list[dict[str, Any]] = []
    n = 0

    def add(ts: float, src: str, dst: str, **kw: Any) -> None:
        nonlocal n
        n += 1
        events.append(_event(ts, src, dst, conn_id=f"demo{n:06d}", **kw))

    for host in hosts:
        usual = rng.sample(_USUAL, 3)
        hour = start
        while hour < end:
            local = int(17 + (hour - end) // _HOUR) % 24
            busy = 8 <= local < 18
            for _ in range(rng.randint(6, 12) if busy else rng.randint(0, 1)):
                # Client mode: bytes_in is what the host sent out through the tunnel.
                add(
                    hour + rng.uniform(0, _HOUR),
                    host,
                    rng.choice(usual),
                    bytes_in=rng.randint(2_000, 40_000),
                    bytes_out=rng.randint(20_000, 400_000),
                    cipher=rng.choice(_CIPHERS),
                )
            hour += _HOUR
    injected = end - 6 * _HOUR
    t = injected
    while t < end:  # a beacon: every 5 minutes, +-10 %, to a host nobody reached
        add(t, "10.0.0.13", "cdn-update.c2.example", bytes_in=420, bytes_out=380)
        t += 300 * rng.uniform(0.9, 1.1)
    for at in sorted(rng.uniform(0, 3500) for _ in range(30)):
        # Far more than usual, to a new destination, in one hour, at no particular rhythm.
        add(injected + 3600 + at, "10.0.0.14", "files.transfer.example",
            bytes_in=4_000_000, bytes_out=3_000)  # fmt: skip
    for i in range(60):  # denied connections across destinations, in ten minutes
        add(injected + 2 * 3600 + i * 10, "10.0.0.15", f"10.0.{i % 6}.{i}",
            decision="deny", close_reason="denied", bytes_in=0, bytes_out=0,
            reason="no rule allows 10.0.0.15 on route 'out'")  # fmt: skip
    events.sort(key=lambda e: e["time"])
    return events


def monitor_tour(
    audit_events: list[dict[str, Any]], root: Path, reports: Path, out: Out
) -> dict[str, list[str]]:
    """Step 18: the tunnel's events plus a generated history, ingested and judged."""
    out.step(18, "Watching connection logs for unusual egress: `zerotls monitor`")
    try:
        import duckdb  # noqa: F401
        import sklearn  # noqa: F401

        from zerotls.monitor.engine import default_window, detect
        from zerotls.monitor.report import render_html
        from zerotls.monitor.store import Store
    except ImportError as exc:
        out.info(
            f"skipped: the monitor needs its extra ({exc.name} is not installed): "
            "pip install 'zerotls[monitor]'"
        )
        return {}
    log = root / "audit.jsonl"
    now = dt.datetime.now(dt.UTC).timestamp()
    generated = history(now)
    with log.open("w", encoding="utf-8") as f:
        for record in [*generated, *audit_events]:
            f.write(json.dumps(record) + "\n")
    out.info(
        f"{len(audit_events)} events from the tunnel above + {len(generated):,} generated "
        "(8 hosts, 2 days) in " + log.name
    )
    found: dict[str, list[str]] = {}
    with Store(root / "monitor.duckdb") as store:
        report = store.ingest([log])
        window = default_window(store, since_seconds=12 * _HOUR)
        result = detect(store, window)
        out.info(
            f"ingested {report.added:,} events; judged the last 12 h against the "
            f"{result.coverage.get('baseline_hours', 0):g} h before"
        )
        for alert in result.alerts[:5]:
            where = (
                f"{alert.identity} -> {alert.destination}" if alert.destination else alert.identity
            )
            also = sorted({r.detector for r in alert.related} - {alert.detector})
            more = f"  (with {', '.join(also)})" if also else ""
            out.ok(f"[{alert.level.upper()} {alert.severity:.2f}] {alert.detector}: {where}{more}")
            for line in textwrap.wrap(f"why: {alert.why}", 100):
                out.info(f"    {line}")
        for alert in result.alerts:
            found.setdefault(alert.identity, []).extend(f.detector for f in alert.findings())
        reports.mkdir(parents=True, exist_ok=True)
        page = reports / "monitor.html"
        page.write_text(render_html(result, title="zerotls demo: egress"), encoding="utf-8")
    out.info(f"HTML report: {page} ({len(result.alerts)} alert(s))")
    return found
