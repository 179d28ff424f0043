"""The UDP tunnel: DTLS in front of a UDP service and back out, through an impairing relay,
with policy and audit events; and the command as a process against ``openssl s_client``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import CLIENT_ID, PKI
from tests.peers.openssl import OPENSSL, free_port, stop
from tests.peers.udp import start_echo, start_relay
from tests.tunnel.helpers import alive, collector_off
from zerotls.dtls import DTLSOptions, open_association
from zerotls.errors import ConfigError, TLSAlert
from zerotls.policy import Policy
from zerotls.tunnel import AuditLog
from zerotls.tunnel.config import Target
from zerotls.tunnel.udp import UDPTunnel, UDPTunnelConfig, _Session

FAST = DTLSOptions(initial_retransmit=0.1, max_retransmit=1.0, handshake_timeout=20)


class Events:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def __call__(self, _event: object, line: str) -> None:
        self.lines.append(json.loads(line))


def server_tunnel(
    pki: PKI, target_port: int, policy: Policy, events: Events, **extra: Any
) -> UDPTunnel:
    audit = AuditLog(None)
    audit.listeners.append(events)
    config = UDPTunnelConfig(
        mode="server",
        listen=Target("127.0.0.1", 0),
        target=Target("127.0.0.1", target_port),
        tls=pki.server_config(),
        policy=policy,
        options=FAST,
        idle_timeout=5,
        **extra,
    )
    return UDPTunnel(config, audit=audit)


def test_allowed_peer_reaches_the_service_and_is_audited(pki: PKI) -> None:
    async def main() -> Events:
        echo, echo_transport, echo_port = await start_echo()
        events = Events()
        tunnel = server_tunnel(pki, echo_port, Policy.allow_identities([CLIENT_ID]), events)
        await tunnel.start()
        try:
            ep = await open_association(*tunnel.address, pki.client_config(), options=FAST)
            for i in range(3):
                ep.send(f"query {i}".encode())
                assert await asyncio.wait_for(ep.recv(), 5) == f"echo:query {i}".encode()
            ep.close()
            deadline = time.monotonic() + 5
            while not events.lines and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            tunnel.close()
            echo_transport.close()
        assert echo.received == [b"query 0", b"query 1", b"query 2"]
        return events

    events = asyncio.run(main())
    (event,) = events.lines
    assert event["transport"] == "udp" and event["decision"] == "allow"
    assert event["spiffe_id"] == CLIENT_ID and event["tls_version"] == "DTLSv1.2"
    assert (event["datagrams_in"], event["datagrams_out"]) == (3, 3)
    assert (event["bytes_in"], event["bytes_out"]) == (21, 36)
    assert event["close_reason"] == "client_close"


def test_denied_peer_never_reaches_the_service(pki: PKI) -> None:
    async def main() -> Events:
        echo, echo_transport, echo_port = await start_echo()
        events = Events()
        policy = Policy.allow_identities(["spiffe://test.zerotls.dev/svc/admin"])
        tunnel = server_tunnel(pki, echo_port, policy, events)
        await tunnel.start()
        try:
            with pytest.raises(TLSAlert) as err:
                await open_association(*tunnel.address, pki.client_config(), options=FAST)
            assert err.value.description == "certificate_unknown"
            await asyncio.sleep(0.1)
        finally:
            tunnel.close()
            echo_transport.close()
        assert echo.received == []
        assert tunnel.metrics.get("zerotls_denied_total", "dtls", "default", "default") == 1
        return events

    events = asyncio.run(main())
    (event,) = events.lines
    assert event["decision"] == "deny" and event["close_reason"] == "denied"
    assert event["spiffe_id"] == CLIENT_ID and "transport" in event


def test_legacy_udp_client_through_both_tunnels_over_a_lossy_link(pki: PKI) -> None:
    """legacy client -> client tunnel -> 20% loss, reordering, duplicates -> server tunnel ->
    UDP service. The handshake survives the loss; the client retries like a DNS resolver."""

    async def main() -> tuple[int, int, int, list[dict[str, Any]]]:
        _echo, echo_transport, echo_port = await start_echo()
        server_events, client_events = Events(), Events()
        server = server_tunnel(pki, echo_port, Policy.allow_identities([CLIENT_ID]), server_events)
        await server.start()
        relay, relay_port, relay_transports = await start_relay(server.address, seed=3)
        audit = AuditLog(None)
        audit.listeners.append(client_events)
        client = UDPTunnel(
            UDPTunnelConfig(
                mode="client",
                listen=Target("127.0.0.1", 0),
                target=Target("127.0.0.1", relay_port),
                tls=pki.client_config(),
                options=FAST,
                idle_timeout=5,
            ),
            audit=audit,
        )
        await client.start()
        loop = asyncio.get_running_loop()
        answers: asyncio.Queue[bytes] = asyncio.Queue()

        class Legacy(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                answers.put_nowait(data)

        legacy, _ = await loop.create_datagram_endpoint(Legacy, remote_addr=client.address)
        answered = tries = 0
        try:
            for i in range(30):
                question = f"q{i}".encode()
                for _attempt in range(8):  # resend on timeout, as UDP applications do
                    tries += 1
                    legacy.sendto(question)
                    try:
                        expected = b"echo:" + question
                        while await asyncio.wait_for(answers.get(), 0.5) != expected:
                            pass  # a late answer to an earlier retry
                        answered += 1
                        break
                    except TimeoutError:
                        continue
        finally:
            legacy.close()
            client.close()
            server.close()
            echo_transport.close()
            for t in relay_transports:
                t.close()
            await asyncio.sleep(0.05)
        return answered, tries, relay.lost, client_events.lines

    answered, tries, lost, client_lines = asyncio.run(main())
    assert answered == 30
    assert lost > 0 and tries > 30  # the link really lost datagrams, and retries covered it
    (event,) = client_lines  # one legacy client address: one DTLS session, one event
    assert event["mode"] == "client" and event["transport"] == "udp"
    assert event["datagrams_in"] == tries and event["datagrams_out"] >= answered


def test_config_refuses_cleartext_off_the_machine(pki: PKI) -> None:
    with pytest.raises(ConfigError, match="not loopback"):
        UDPTunnelConfig(
            mode="server",
            listen=Target("0.0.0.0", 8853),
            target=Target("10.0.0.5", 53),
            tls=pki.server_config(),
        )


@contextlib.contextmanager
def echo_in_thread() -> Iterator[tuple[Any, int]]:
    """The UDP echo service on its own event loop in a thread (for process tests)."""
    loop = asyncio.new_event_loop()
    echo, echo_transport, echo_port = loop.run_until_complete(start_echo())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield echo, echo_port
    finally:

        async def close_echo() -> None:
            echo_transport.close()
            await asyncio.sleep(0.01)  # let the transport release its socket

        asyncio.run_coroutine_threadsafe(close_echo(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@contextlib.contextmanager
def dtls_server_process(
    pki: PKI, port: int, target_port: int, *extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``zerotls tunnel dtls-server`` as a process; yields once it has said it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "zerotls", "tunnel", "dtls-server", "--listen",
         f"127.0.0.1:{port}", "--target", f"127.0.0.1:{target_port}", "--cert",
         str(pki.server.cert), "--key", str(pki.server.key), "--ca", str(pki.ca_path),
         "--allow", CLIENT_ID, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        assert b"DTLS tunnel (server)" in proc.stderr.readline()
        yield proc
    finally:
        stop(proc)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None and pipe is not proc.stdout:
                pipe.close()


def audit_events(proc: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    """The audit events a stopped tunnel process wrote to stdout."""
    assert proc.stdout is not None
    text = proc.stdout.read().decode()
    proc.stdout.close()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.peers
def test_cli_dtls_server_with_openssl_s_client(pki: PKI) -> None:
    port = free_port()
    with echo_in_thread() as (echo, echo_port):
        with dtls_server_process(pki, port, echo_port) as proc:
            out = subprocess.run(
                [OPENSSL, "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}",
                 "-servername", "localhost", "-CAfile", str(pki.ca_path), "-cert",
                 str(pki.client.cert), "-key", str(pki.client.key), "-verify_return_error"],
                input=b"ping\n", capture_output=True, timeout=20, check=False,
            )  # fmt: skip
            assert "Verify return code: 0 (ok)" in out.stdout.decode(errors="replace")
        events = audit_events(proc)
    assert echo.received == [b"ping\n"]
    assert events and events[0]["spiffe_id"] == CLIENT_ID and events[0]["datagrams_in"] == 1


def test_garbage_is_counted_and_a_certless_peer_is_refused_and_audited(pki: PKI) -> None:
    async def main() -> tuple[Events, UDPTunnel, list[bytes]]:
        echo, echo_transport, echo_port = await start_echo()
        events = Events()
        tunnel = server_tunnel(pki, echo_port, Policy.allow_identities([CLIENT_ID]), events)
        await tunnel.start()
        loop = asyncio.get_running_loop()
        try:
            noise, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=tunnel.address
            )
            for junk in (b"GET / HTTP/1.0\r\n\r\n", b"\x00" * 100, b"\x16\xfe"):
                noise.sendto(junk)
            await asyncio.sleep(0.1)
            noise.close()
            ep = await open_association(*tunnel.address, pki.client_config(), options=FAST)
            ep.send(b"real")
            assert await asyncio.wait_for(ep.recv(), 5) == b"echo:real"
            server = tunnel._server
            assert server is not None
            peer = server.peers[next(iter(server.peers))]
            raw = peer._send  # inject garbage on the established peer's own address
            for junk in (b"\xff" * 40, b"hello"):
                peer.datagram_received(junk)
            assert peer.garbage == 2 and server.garbage == 5
            assert raw is peer._send
            ep.send(b"still")  # the association survives the garbage
            assert await asyncio.wait_for(ep.recv(), 5) == b"echo:still"
            ep.close()
            with pytest.raises(TLSAlert) as err:
                await open_association(
                    *tunnel.address, pki.client_config(cert=None, key=None), options=FAST
                )
            assert err.value.description == "handshake_failure"  # DTLS 1.2 has no other
            await asyncio.sleep(0.2)
            status = tunnel.status()
        finally:
            tunnel.close()
            echo_transport.close()
        assert status["dropped_not_dtls"] >= 3
        return events, tunnel, echo.received

    events, _tunnel, received = asyncio.run(main())
    assert received == [b"real", b"still"]
    refused = [e for e in events.lines if e["close_reason"] == "handshake_failed"]
    assert len(refused) == 1 and refused[0]["alert"] == "handshake_failure"
    assert "no certificate" in refused[0]["error"]


def test_a_half_made_session_does_not_stay_behind(pki: PKI) -> None:
    """Authorized inside the handshake, then the peer vanished before finishing it: when the
    server gives up on the association, the tunnel forgets the session and audits it."""
    from zerotls.dtls import DTLSAssociation, DTLSConnection
    from zerotls.tls.context import TLSContext

    async def main() -> tuple[Events, UDPTunnel]:
        _echo, echo_transport, echo_port = await start_echo()
        events = Events()
        tunnel = server_tunnel(pki, echo_port, Policy.allow_identities([CLIENT_ID]), events)
        await tunnel.start()
        try:
            peer = ("127.0.0.1", 40404)
            identity = pki.client.issued.identity
            assert tunnel._authorize(identity, peer) is None  # what the handshake would do
            assert peer in tunnel.sessions
            stalled = DTLSConnection(TLSContext(pki.client_config(), datagram=True))
            endpoint = DTLSAssociation(stalled, lambda _d: None, peer, asyncio.get_running_loop())
            tunnel._peer_finished(endpoint, None)
            assert peer not in tunnel.sessions
        finally:
            tunnel.close()
            echo_transport.close()
        return events, tunnel

    events, _ = asyncio.run(main())
    (event,) = events.lines
    assert event["close_reason"] == "timeout" and event["decision"] == "allow"
    assert event["error"] == "the handshake did not complete"


@pytest.mark.peers
def test_cli_dtls_server_with_two_workers_keeps_each_peer_on_one(pki: PKI) -> None:
    """SO_REUSEPORT spreads peers over the workers by address hash, so each peer's cookie
    exchange and association stay with one worker: every client gets through."""

    async def clients(port: int) -> list[bytes]:
        replies = []
        for i in range(8):  # eight source ports: both workers get some (hash)
            ep = await open_association("127.0.0.1", port, pki.client_config(), options=FAST)
            ep.send(f"n{i}".encode())
            replies.append(await asyncio.wait_for(ep.recv(), 5))
            ep.close()
        return replies

    from tests.tunnel.test_tunnel_processes import http_get

    port, admin = free_port(), free_port()
    with echo_in_thread() as (echo, echo_port):
        with dtls_server_process(
            pki, port, echo_port, "--workers", "2", "--admin", f"127.0.0.1:{admin}"
        ) as proc:
            time.sleep(0.3)  # the second worker binds too
            replies = asyncio.run(clients(port))
            time.sleep(1.5)  # each worker publishes its figures once a second
            _, metrics = http_get(f"http://127.0.0.1:{admin}/metrics")
            _, status_text = http_get(f"http://127.0.0.1:{admin}/status")
            status = json.loads(status_text)
        events = audit_events(proc)
    assert replies == [f"echo:n{i}".encode() for i in range(8)]
    assert len(echo.received) == 8
    assert len(events) == 8 and {e["spiffe_id"] for e in events} == {CLIENT_ID}
    # /metrics adds both workers up: all eight sessions, whichever worker served them.
    line = 'zerotls_connections_total{listener="dtls-server",route="default",decision="allow"}'
    assert f"{line} 8" in metrics, metrics
    workers = status["workers"]
    assert len({w["pid"] for w in workers}) == 2
    assert sum(w["sessions_ended"] for w in workers) == 8


def test_the_per_identity_limit_holds_over_udp_too(pki: PKI) -> None:
    """The same authorization path as TCP: the second association of an identity that may hold
    one is refused with an alert and audited; the first one ending frees the slot."""

    async def main() -> Events:
        _echo, echo_transport, echo_port = await start_echo()
        events = Events()
        tunnel = server_tunnel(
            pki, echo_port, Policy.allow_identities([CLIENT_ID]), events, max_per_identity=1
        )
        await tunnel.start()
        try:
            first = await open_association(*tunnel.address, pki.client_config(), options=FAST)
            first.send(b"one")
            assert await asyncio.wait_for(first.recv(), 5) == b"echo:one"
            with pytest.raises(TLSAlert) as refused:
                await open_association(*tunnel.address, pki.client_config(), options=FAST)
            assert (
                refused.value.description == "certificate_unknown"
            )  # OpenSSL cannot say access_denied there
            first.close()
            deadline = time.monotonic() + 5
            while len(events.lines) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            again = await open_association(*tunnel.address, pki.client_config(), options=FAST)
            again.send(b"two")
            assert await asyncio.wait_for(again.recv(), 5) == b"echo:two"
            again.close()
            while len(events.lines) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            tunnel.close()
            echo_transport.close()
        return events

    events = asyncio.run(main())
    decisions = sorted((e["decision"], e["reason"] or "") for e in events.lines)
    assert [d for d, _ in decisions] == ["allow", "allow", "deny"], events.lines
    assert "already holds 1 connections (limits.max_per_identity)" in decisions[2][1]


def test_drain_lets_sessions_finish_refuses_newcomers_then_closes_with_notify(pki: PKI) -> None:
    async def main() -> tuple[Events, bool, bool]:
        _echo, echo_transport, echo_port = await start_echo()
        events = Events()
        tunnel = server_tunnel(pki, echo_port, Policy.allow_identities([CLIENT_ID]), events)
        await tunnel.start()
        ep = await open_association(*tunnel.address, pki.client_config(), options=FAST)
        ep.send(b"before")
        assert await asyncio.wait_for(ep.recv(), 5) == b"echo:before"
        drained = asyncio.get_running_loop().create_task(tunnel.drain(1.0))
        await asyncio.sleep(0.2)
        ep.send(b"during")  # an open session goes on while the drain waits
        during_ok = await asyncio.wait_for(ep.recv(), 5) == b"echo:during"
        newcomer_refused = False
        try:
            await open_association(
                *tunnel.address,
                pki.client_config(),
                options=DTLSOptions(initial_retransmit=0.1, handshake_timeout=0.6),
            )
        except Exception:
            newcomer_refused = True
        left = await drained
        assert left == 1  # still open at the deadline: closed with close_notify
        assert await asyncio.wait_for(ep.recv(), 2) == b""  # the tunnel's close_notify came
        assert ep.conn.peer_closed
        echo_transport.close()
        return events, during_ok, newcomer_refused

    events, during_ok, newcomer_refused = asyncio.run(main())
    assert during_ok and newcomer_refused
    assert [e["close_reason"] for e in events.lines] == ["shutdown"]


def test_a_handshake_that_fails_after_authorization_frees_its_identity_slot(pki: PKI) -> None:
    """A replayed certificate (public in DTLS 1.2) passes authorization, then fails at
    CertificateVerify: that must not hold the identity's slot, or max_per_identity replays
    would lock the identity out."""
    from zerotls.errors import VerificationError

    events = Events()
    tunnel = server_tunnel(pki, 9, Policy.allow_identities([CLIENT_ID]), events, max_per_identity=1)
    identity = pki.client.issued.identity
    for port in range(3):
        addr = ("127.0.0.1", 40000 + port)
        assert tunnel._authorize(identity, addr) is None  # the slot is free each time
        tunnel._handshake_failed(VerificationError("bad CertificateVerify"), addr)
    assert not tunnel.identity_limits.held


def test_ended_udp_sessions_are_freed_without_the_cyclic_gc(pki: PKI) -> None:
    # The relay's closures point at the session and its association: unlinked when it ends,
    # or every session would wait, with its DTLS engine, for a collection.
    async def main() -> int:
        _, echo_transport, echo_port = await start_echo()
        events = Events()
        tunnel = server_tunnel(pki, echo_port, Policy.allow_identities([CLIENT_ID]), events)
        await tunnel.start()
        try:
            for i in range(3):
                ep = await open_association(*tunnel.address, pki.client_config(), options=FAST)
                ep.send(b"query %d" % i)
                assert await asyncio.wait_for(ep.recv(), 5) == b"echo:query %d" % i
                ep.close()
            deadline = time.monotonic() + 5
            while len(events.lines) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)  # the transports' last callbacks
            assert [e["close_reason"] for e in events.lines] == ["client_close"] * 3
            return alive(_Session)
        finally:
            tunnel.close()
            echo_transport.close()

    with collector_off():
        assert asyncio.run(main()) == 0
