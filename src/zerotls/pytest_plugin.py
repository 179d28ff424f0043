"""A pytest plugin: a private PKI for TLS tests, with what trustme cannot make.

Installed with zerotls (the ``pytest11`` entry point ``zerotls``); its fixtures exist only
when a test asks for them, so a project's suite is unchanged until it does. Usable without
the rest of zerotls: every certificate comes as files and as stdlib ``ssl`` contexts.

Fixtures:

- ``zerotls_pki`` (session): a CA on disk (``zerotls.pki``) with its CRL, and
  :class:`TestPKI`'s helpers: ``server()`` / ``client()`` certificates with DNS names,
  IPs and SPIFFE IDs (URI SANs); ``expired()``, ``not_yet_valid()``, ``wrong_eku()`` (a
  server certificate offered as a client one) and ``revoked()`` (on the CRL at once);
  ``server_ssl_context()`` / ``client_ssl_context()`` for the ``ssl`` module.
- ``zerotls_ocsp`` (session): a live OCSP responder on 127.0.0.1 answering for
  ``zerotls_pki``'s certificates (``.url``); revocations show up at once.
- ``zerotls_tunnel`` (function): a factory that puts a running zerotls tunnel (mTLS, default
  deny) in front of a test backend: ``zerotls_tunnel(backend_port, allow=["svc/web"])``
  returns a :class:`RunningTunnel` with ``port``, the ``server`` certificate it presents and
  the ``events`` (audit records, as dicts) it wrote; stopped at the end of the test.

Example::

    def test_my_client_refuses_revoked_servers(zerotls_pki):
        bad = zerotls_pki.revoked("api", dns=["localhost"])
        ...  # serve with bad.cert / bad.key; expect your client to refuse it

Each certificate is an :class:`Issued` with ``cert``, ``key`` (paths), ``pem`` and
``spiffe_id``.
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Issued", "RunningTunnel", "TestPKI"]

DEFAULT_TRUST_DOMAIN = "test.example"


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate written to disk: its files and what it says."""

    name: str
    cert: Path
    key: Path
    serial: int
    spiffe_id: str | None

    @property
    def pem(self) -> bytes:
        return self.cert.read_bytes()


class TestPKI:
    """A CA on disk with helpers for the certificates TLS tests need.

    Args:
        root: the directory (a pytest temporary directory).
        trust_domain: the SPIFFE trust domain for ``spiffe_id`` shorthands (``"svc/web"``).
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, root: Path, trust_domain: str = DEFAULT_TRUST_DOMAIN) -> None:
        from zerotls.pki.store import PKIStore

        self.root = root
        self.trust_domain = trust_domain
        self.store = PKIStore.init(root / "pki", name="zerotls test CA")
        self._lock = threading.Lock()
        self._names: set[str] = set()

    # -- files ------------------------------------------------------------------------------

    @property
    def ca_path(self) -> Path:
        """The CA certificate (PEM): the trust anchor of everything issued here."""
        return self.store.ca_path

    @property
    def crl_path(self) -> Path:
        """The CRL (PEM), rewritten at every revocation."""
        return self.store.crl_path

    # -- certificates -----------------------------------------------------------------------

    def _spiffe(self, spiffe_id: str | None) -> str | None:
        if spiffe_id is None or spiffe_id.startswith("spiffe://"):
            return spiffe_id
        return f"spiffe://{self.trust_domain}/{spiffe_id.lstrip('/')}"

    def issue(
        self,
        name: str,
        *,
        dns: Sequence[str] = (),
        ips: Sequence[str] = (),
        spiffe_id: str | None = None,
        usage: str = "both",
        ttl: dt.timedelta = dt.timedelta(days=1),
        now: dt.datetime | None = None,
        ocsp_url: str | None = None,
    ) -> Issued:
        """Any certificate: names, a SPIFFE ID (``svc/web`` or a full ``spiffe://`` ID), an
        extended key usage (``server``, ``client`` or ``both``), a lifetime and a start."""
        sid = self._spiffe(spiffe_id)
        with self._lock:
            # Each call is a new certificate: a name asked for twice gets a suffix (-2, -3).
            base, n = name, 1
            while name in self._names:
                n += 1
                name = f"{base}-{n}"
            self._names.add(name)
            record, _ = self.store.issue(
                name, spiffe_id=sid, dns=dns, ips=ips, usage=usage,  # type: ignore[arg-type]
                ttl=ttl, now=now, ocsp_url=ocsp_url,
            )  # fmt: skip
        return Issued(
            name,
            self.store.cert_path(name),
            self.store.key_path(name),
            int(record.serial, 16),
            sid,
        )

    def server(self, name: str = "server", *, dns: Sequence[str] = ("localhost",),
               ips: Sequence[str] = ("127.0.0.1", "::1"), spiffe_id: str | None = None,
               **kw: Any) -> Issued:  # fmt: skip
        """A server certificate (serverAuth) for localhost, 127.0.0.1 and ::1 by default."""
        return self.issue(name, dns=dns, ips=ips, spiffe_id=spiffe_id, usage="server", **kw)

    def client(self, name: str = "client", *, spiffe_id: str | None = "svc/client",
               **kw: Any) -> Issued:  # fmt: skip
        """A client certificate (clientAuth) with a SPIFFE ID."""
        return self.issue(name, spiffe_id=spiffe_id, usage="client", **kw)

    def expired(self, name: str = "expired", **kw: Any) -> Issued:
        """A server certificate that expired yesterday."""
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
        return self.server(name, now=past, ttl=dt.timedelta(days=2), **kw)

    def not_yet_valid(self, name: str = "not-yet-valid", **kw: Any) -> Issued:
        """A server certificate valid from tomorrow."""
        future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        return self.server(name, now=future, **kw)

    def wrong_eku(self, name: str = "wrong-eku", **kw: Any) -> Issued:
        """A certificate for servers only (serverAuth), to present as a client one."""
        return self.issue(name, spiffe_id=kw.pop("spiffe_id", "svc/wrong-eku"), usage="server",
                          **kw)  # fmt: skip

    def revoked(self, name: str = "revoked", *, reason: str = "keyCompromise", **kw: Any) -> Issued:
        """A server certificate revoked at once (on the CRL, and ``revoked`` over OCSP)."""
        issued = self.server(name, **kw)
        with self._lock:
            self.store.revoke(format(issued.serial, "x"), reason=reason)
        return issued

    # -- stdlib contexts --------------------------------------------------------------------

    def server_ssl_context(
        self, issued: Issued | None = None, *, mtls: bool = False
    ) -> ssl.SSLContext:
        """An ``ssl`` server context presenting ``issued`` (default: a fresh ``server()``);
        with ``mtls`` it requires a client certificate from this CA."""
        issued = issued or self.server()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(issued.cert, issued.key)
        if mtls:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.ca_path)
        return ctx

    def client_ssl_context(self, issued: Issued | None = None) -> ssl.SSLContext:
        """An ``ssl`` client context trusting this CA (and presenting ``issued``, if given)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_path))
        if issued is not None:
            ctx.load_cert_chain(issued.cert, issued.key)
        return ctx


class LiveOCSP:
    """A running OCSP responder for a :class:`TestPKI` (``url``; stopped with the session)."""

    def __init__(self, pki: TestPKI) -> None:
        from zerotls.pki.ocsp import serve

        self.pki = pki
        self.server = serve(pki.store.ocsp_responder())
        self.url = self.server.url
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def zerotls_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    """A private CA for TLS tests (see :class:`TestPKI`)."""
    return TestPKI(tmp_path_factory.mktemp("zerotls-pki"))


@pytest.fixture(scope="session")
def zerotls_ocsp(zerotls_pki: TestPKI) -> Iterator[LiveOCSP]:
    """A live OCSP responder on 127.0.0.1 for ``zerotls_pki``'s certificates."""
    live = LiveOCSP(zerotls_pki)
    yield live
    live.close()


class RunningTunnel:
    """A zerotls tunnel in a thread of its own, accepting mTLS on 127.0.0.1:``port`` and
    forwarding the connections its policy allows to a cleartext backend."""

    def __init__(
        self,
        pki: TestPKI,
        backend_port: int,
        allow: Sequence[str],
        *,
        server: Issued | None = None,
    ) -> None:
        import asyncio

        from zerotls.policy import Policy
        from zerotls.tls.config import ServerConfig
        from zerotls.tunnel import AuditLog, Target, Tunnel, TunnelConfig

        self.server = server or pki.server("tunnel", dns=("localhost",))
        # Bare paths ("svc/web") are SPIFFE IDs of this PKI's trust domain; any other --allow
        # form (spiffe://..., dns:..., pin:..., any) is taken as it is.
        ids = [a if ":" in a or a == "any" else pki._spiffe(a) or a for a in allow]
        config = TunnelConfig.one_route(
            ServerConfig(cert=self.server.cert, key=self.server.key, ca=pki.ca_path),
            Target(host="127.0.0.1", port=backend_port),
            Policy.allow_identities(ids),
            name="test",
            route="backend",
        )
        self.events: list[dict[str, Any]] = []
        """The audit records written so far (one per connection, when it closes)."""
        audit = AuditLog(None)
        audit.listeners.append(lambda _event, line: self.events.append(_json_line(line)))
        self._loop = asyncio.new_event_loop()
        self._tunnel = Tunnel(config, audit=audit)
        self._loop.run_until_complete(self._tunnel.start())
        self.port: int = next(iter(self._tunnel.addresses().values()))[1]
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="zerotls-test-tunnel", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, close every connection, end the thread (idempotent)."""
        import asyncio

        if not self._thread.is_alive():
            return

        async def stop() -> None:
            await self._tunnel.drain(1.0)  # open sessions get a second, then are aborted
            self._tunnel.close()
            for server in self._tunnel.servers:
                await server.wait_closed()
            await asyncio.sleep(0.1)  # let the closing transports finish before the loop ends

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(15)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


def _json_line(line: str) -> dict[str, Any]:
    import json

    value = json.loads(line)
    return value if isinstance(value, dict) else {"record": value}


@pytest.fixture
def zerotls_tunnel(zerotls_pki: TestPKI) -> Iterator[Any]:
    """A factory for running tunnels in front of test backends (see :class:`RunningTunnel`):
    ``zerotls_tunnel(backend_port, allow=["svc/web"])``."""
    made: list[RunningTunnel] = []

    def start(
        backend_port: int, allow: Sequence[str] = (), *, server: Issued | None = None
    ) -> RunningTunnel:
        tunnel = RunningTunnel(zerotls_pki, backend_port, allow, server=server)
        made.append(tunnel)
        return tunnel

    yield start
    for tunnel in made:
        tunnel.close()
