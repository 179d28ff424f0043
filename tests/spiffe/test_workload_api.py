"""Identities from a SPIFFE Workload API: the official gRPC protocol over a unix socket
(tests/spiffe/agent.py), real OpenSSL handshakes between zerotls engines and against
openssl s_client, rotation, federation, an agent that goes away, and refused updates."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("grpc", reason="grpcio is not installed (pip install 'zerotls[spiffe]')")

from cryptography.hazmat.primitives import serialization

from tests.peers.openssl import OPENSSL
from tests.spiffe.agent import Agent, Identity
from tests.tls.pair import pair
from zerotls.errors import ConfigError
from zerotls.pki import CA
from zerotls.spiffe import StaleSVIDError, WorkloadAPI, WorkloadAPIError
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.context import TLSContext

A = "a.example"
B = "b.example"


@pytest.fixture(scope="module")
def cas() -> dict[str, CA]:
    return {A: CA.create("trust domain a"), B: CA.create("trust domain b")}


@pytest.fixture
def sockdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # unix socket paths are limited to 108 bytes: a short directory
    import tempfile

    return Path(tempfile.mkdtemp(prefix="zt-wl-", dir="/tmp"))


def _agent(sockdir: Path, name: str, spiffe_id: str, ca: CA, **kw: object) -> Agent:
    return Agent(sockdir / f"{name}.sock", Identity(spiffe_id, ca, **kw)).start()  # type: ignore[arg-type]


@pytest.fixture
def agents(sockdir: Path, cas: dict[str, CA]) -> Iterator[dict[str, Agent]]:
    made = {
        "server": _agent(sockdir, "server", f"spiffe://{A}/db", cas[A]),
        "client": _agent(sockdir, "client", f"spiffe://{A}/web", cas[A]),
    }
    yield made
    for agent in made.values():
        agent.stop()


def _source(agent: Agent, **kw: object) -> WorkloadAPI:
    return WorkloadAPI(agent.address, timeout=5, **kw).start()  # type: ignore[arg-type]


def _configs(server: WorkloadAPI, client: WorkloadAPI) -> tuple[ClientConfig, ServerConfig]:
    return (
        ClientConfig(identity=client, expect_identity=f"spiffe://{A}/db"),
        ServerConfig(identity=server, allowed_identities={f"spiffe://{A}/web"}),
    )


def test_handshake_with_svids_from_the_workload_api(agents: dict[str, Agent]) -> None:
    with _source(agents["server"]) as server, _source(agents["client"]) as client:
        status = server.status()
        assert status["spiffe_id"] == f"spiffe://{A}/db" and status["connected"]
        assert status["trust_domains"] == [A]
        p = pair(*_configs(server, client))
    assert p.client_error is None and p.server_error is None
    assert p.server.identity is not None
    assert p.server.identity.spiffe_id == f"spiffe://{A}/web"
    assert p.client.identity is not None
    assert p.client.identity.spiffe_id == f"spiffe://{A}/db"
    # The security header is sent on every call (the agent refuses calls without it).
    assert agents["server"].calls_without_header == 0


def test_a_rotation_is_used_by_the_next_handshake(agents: dict[str, Agent]) -> None:
    with _source(agents["server"]) as server, _source(agents["client"]) as client:
        client_cfg, server_cfg = _configs(server, client)
        server_ctx, client_ctx = TLSContext(server_cfg), TLSContext(client_cfg)
        first = server_ctx.certificate
        assert first is not None
        before = server.version
        issued = agents["server"].rotate()
        assert server.wait_for_version(before, 5)
        c, s = client_ctx.connection(), server_ctx.connection()
        from tests.tls.pair import Pair

        p = Pair(c, s).run()
        assert p.client_error is None and p.server_error is None
        assert server_ctx.certificate is not None
        assert server_ctx.certificate.serial_number == issued.cert.serial_number
        assert server_ctx.certificate.serial_number != first.serial_number


def test_federation_picks_the_bundle_of_the_peers_trust_domain(
    sockdir: Path, cas: dict[str, CA], agents: dict[str, Agent]
) -> None:
    foreign = _agent(sockdir, "foreign", f"spiffe://{B}/web", cas[B])
    try:
        foreign.federate(A, cas[A])  # the b.example client trusts a.example's servers
        with _source(agents["server"]) as server, _source(foreign) as client:
            client_cfg = ClientConfig(identity=client, expect_identity=f"spiffe://{A}/db")
            server_cfg = ServerConfig(identity=server)
            # The server's agent has no bundle for b.example: refused, and the message says so.
            p = pair(client_cfg, server_cfg)
            assert p.server_error is not None
            assert "trust domain b.example, for which there is no bundle" in str(p.server_error)
            before = server.version
            agents["server"].federate(B, cas[B])  # federation added while running
            assert server.wait_for_version(before, 5)
            p = pair(client_cfg, server_cfg)
            assert p.client_error is None and p.server_error is None
            assert p.server.identity is not None
            assert p.server.identity.spiffe_id == f"spiffe://{B}/web"
    finally:
        foreign.stop()


def test_a_ca_of_one_trust_domain_cannot_vouch_for_another(
    cas: dict[str, CA], agents: dict[str, Agent], tmp_path: Path
) -> None:
    # A client certificate for spiffe://a.example/web issued by b.example's CA (files, not an
    # agent: no agent would hand this out). The server knows both bundles, so OpenSSL alone
    # would accept the chain; the trust domain in the ID picks a.example's bundle, which did
    # not sign it.
    forged = cas[B].issue("web", spiffe_id=f"spiffe://{A}/web", usage="client")
    forged.write(tmp_path / "forged.pem", tmp_path / "forged.key")
    (tmp_path / "a.pem").write_bytes(cas[A].cert_pem)
    before = agents["server"].identity.issued
    agents["server"].federate(B, cas[B])
    with _source(agents["server"]) as server:
        assert sorted(server.context().bundles) == [A, B] and before is not None
        p = pair(
            ClientConfig(
                cert=tmp_path / "forged.pem",
                key=tmp_path / "forged.key",
                ca=tmp_path / "a.pem",
                expect_identity=f"spiffe://{A}/db",
            ),
            ServerConfig(identity=server),
        )
    assert p.server_error is not None
    assert "not in the bundle of its trust domain a.example" in str(p.server_error)


def test_the_agent_going_away_and_coming_back(sockdir: Path, cas: dict[str, CA]) -> None:
    agent = _agent(sockdir, "flaky", f"spiffe://{A}/db", cas[A], ttl=dt.timedelta(seconds=3))
    source = _source(agent)
    try:
        first = source.svid().serial
        agent.stop()
        time.sleep(0.5)
        assert not source.connected and source.svid().serial == first  # still valid: kept
        time.sleep(3)  # the SVID expires while the agent is down
        with pytest.raises(StaleSVIDError, match="expired at .* no newer one came"):
            source.context()
        cfg = ServerConfig(identity=source, require_client_cert=False)
        with pytest.raises(StaleSVIDError, match="no handshake is made with an expired"):
            TLSContext(cfg)
        agent.identity.ttl = dt.timedelta(hours=1)
        agent.identity.mint()
        before = source.version
        agent.start()  # back on the same socket: the source reconnects by itself
        assert source.wait_for_version(before, 15)
        assert source.connected and source.svid().serial != first
        assert TLSContext(cfg).certificate is not None
    finally:
        source.close()
        agent.stop()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"uri_san": False}, "carries no SPIFFE ID"),
        ({"signer": CA.create("not the bundle")}, "is not signed by a CA of the bundle"),
    ],
)
def test_unusable_updates_are_refused_with_the_reason(
    sockdir: Path, cas: dict[str, CA], kwargs: dict[str, object], message: str
) -> None:
    agent = _agent(sockdir, "bad", f"spiffe://{A}/db", cas[A], **kwargs)
    try:
        source = WorkloadAPI(agent.address, timeout=1.5)
        with pytest.raises(WorkloadAPIError, match=message):
            source.start()
    finally:
        agent.stop()


def test_addresses_and_missing_agents_say_what_to_do(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPIFFE_ENDPOINT_SOCKET", raising=False)
    with pytest.raises(ConfigError, match="set SPIFFE_ENDPOINT_SOCKET"):
        WorkloadAPI()
    with pytest.raises(ConfigError, match="absolute path"):
        WorkloadAPI("unix://relative.sock")
    with pytest.raises(ConfigError, match="must be an IP address"):
        WorkloadAPI("tcp://agent.local:8081")
    with pytest.raises(WorkloadAPIError, match="is the agent running"):
        WorkloadAPI(f"unix://{sockdir}/nobody.sock", timeout=0.5).start()
    monkeypatch.setenv("SPIFFE_ENDPOINT_SOCKET", f"unix://{sockdir}/env.sock")
    assert WorkloadAPI().address == f"unix://{sockdir}/env.sock"
    with pytest.raises(ConfigError, match="replaces cert, key and ca"):
        ServerConfig(identity=WorkloadAPI(), cert="x.pem", key="x.key")
    with pytest.raises(ConfigError, match="identity source"):
        ServerConfig(identity="unix:///run/agent.sock", require_client_cert=False)


def test_openssl_s_client_accepts_the_svid_and_presents_one(
    agents: dict[str, Agent], tmp_path: Path
) -> None:
    """Interop: the SVIDs dumped to files, checked by something that is not zerotls."""
    from zerotls.tls.sync import serve

    client_issued = agents["client"].identity.issued
    assert client_issued is not None
    (tmp_path / "client.pem").write_bytes(client_issued.cert_chain_pem)
    (tmp_path / "client.key").write_bytes(
        client_issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "bundle.pem").write_bytes(agents["server"].identity.ca.cert_pem)
    with _source(agents["server"]) as source:
        cfg = ServerConfig(identity=source, allowed_identities={f"spiffe://{A}/web"})
        srv = serve(lambda sock: sock.sendall(b"hello from db\n"), "127.0.0.1", 0, cfg)
        import threading

        threading.Thread(target=srv.serve_forever, daemon=True).start()
        with srv:
            port = srv.port
            done = subprocess.run(
                [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                 str(tmp_path / "bundle.pem"), "-cert", str(tmp_path / "client.pem"), "-key",
                 str(tmp_path / "client.key"), "-verify_return_error", "-ign_eof"],
                input=b"", capture_output=True, timeout=20, check=False,
            )  # fmt: skip
    out = done.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, out[-2000:]
    assert "hello from db" in out


def test_grpc_credentials_follow_the_workload_api(agents: dict[str, Agent]) -> None:
    """grpcio with SVIDs from the agents: dynamic server credentials pick up a rotation."""
    from concurrent import futures

    import grpc

    from zerotls.grpc import PolicyInterceptor, channel_credentials, server_credentials
    from zerotls.policy import Policy

    with _source(agents["server"]) as server_src, _source(agents["client"]) as client_src:
        policy = Policy.allow_identities([f"spiffe://{A}/web"])
        srv = grpc.server(
            futures.ThreadPoolExecutor(max_workers=2), interceptors=[PolicyInterceptor(policy)]
        )
        handler = grpc.method_handlers_generic_handler(
            "t.S", {"M": grpc.unary_unary_rpc_method_handler(lambda req, ctx: b"ok " + req)}
        )
        srv.add_generic_rpc_handlers((handler,))
        port = srv.add_secure_port(
            "127.0.0.1:0", server_credentials(ServerConfig(identity=server_src))
        )
        srv.start()
        try:
            creds = channel_credentials(ClientConfig(identity=client_src, server_name="localhost"))

            def call() -> bytes:
                # grpcio checks the target name against the certificate (DNS SANs, else
                # the common name: these SVIDs' CN is "db"); the SPIFFE ID is judged by the
                # policy interceptor on the server, as grpcio's client cannot check it.
                options = [("grpc.ssl_target_name_override", "db")]
                with grpc.secure_channel(f"127.0.0.1:{port}", creds, options=options) as ch:
                    return ch.unary_unary("/t.S/M")(b"1", timeout=10)  # type: ignore[no-any-return]

            assert call() == b"ok 1"
            before = server_src.version
            agents["server"].rotate()
            assert server_src.wait_for_version(before, 5)
            assert call() == b"ok 1"  # the next handshake: the rotated SVID
        finally:
            srv.stop(grace=0).wait()


def test_to_ssl_context_takes_the_source(agents: dict[str, Agent], cas: dict[str, CA]) -> None:
    """A stdlib ssl server and client from Workload API sources, talking to each other over
    a real socket: the SVIDs are presented, the trust domain's bundle verifies them."""
    import socket
    import threading

    from zerotls.tls.stdlib import check_peer, to_ssl_context

    with _source(agents["server"]) as server, _source(agents["client"]) as client:
        client_cfg, server_cfg = _configs(server, client)
        sctx = to_ssl_context(server_cfg, allow_post_handshake_checks=True)
        cctx = to_ssl_context(client_cfg, allow_post_handshake_checks=True)
        assert sctx.zerotls_identity_version == server.version  # type: ignore[attr-defined]
        listener = socket.create_server(("127.0.0.1", 0))
        seen: list[str] = []

        def accept() -> None:
            conn, _ = listener.accept()
            with sctx.wrap_socket(conn, server_side=True) as tls:
                seen.append(check_peer(tls, server_cfg).spiffe_id or "")
                tls.sendall(tls.recv(5))

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        with (
            socket.create_connection(listener.getsockname()) as raw,
            cctx.wrap_socket(raw, server_hostname=None) as tls,
        ):
            peer = check_peer(tls, client_cfg)
            assert tls.version() == "TLSv1.3"
            tls.sendall(b"hello")
            assert tls.recv(5) == b"hello"
        thread.join(5)
        listener.close()
        assert peer.spiffe_id == f"spiffe://{A}/db" and seen == [f"spiffe://{A}/web"]
        # Peers from two trust domains cannot be kept apart by the stdlib: refused.
        two = ServerConfig(
            identity=server,
            allowed_identities={f"spiffe://{A}/web", f"spiffe://{B}/web"},
        )
        with pytest.raises(ConfigError, match="2 trust domains"):
            to_ssl_context(two, allow_post_handshake_checks=True)
        # And a trust domain the agent has no bundle for.
        other = ClientConfig(identity=client, expect_identity=f"spiffe://{B}/db")
        with pytest.raises(ConfigError, match="no bundle for trust domain b.example"):
            to_ssl_context(other, allow_post_handshake_checks=True)
