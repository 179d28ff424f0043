"""The tunnel end to end, in process: real sockets, real TLS, a real cleartext backend."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from pathlib import Path

import pytest

from tests.conftest import CLIENT_ID, PKI
from tests.tunnel.helpers import (
    alive,
    collector_off,
    running,
    server_tunnel_config,
    start_backend,
)
from zerotls import ConnectionBroken, TLSAlert, open_connection
from zerotls._wire.proxy_protocol import PP2Type, pull_proxy_v2_untrusted
from zerotls.policy import Policy
from zerotls.tls.context import TLSContext
from zerotls.tls.engine import DataReceived, Event, TLSConnection
from zerotls.tunnel import Limits, Route, Target
from zerotls.tunnel.proxy import Session


def test_allowed_identity_reaches_the_backend_and_is_audited(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        async with running(server_tunnel_config(pki, backend.port)) as (tunnel, port, events):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"select 1;")
            assert await stream.readexactly(9) == b"select 1;"
            stream.write_eof()
            assert await stream.read() == b""
            await stream.aclose()
            (event,) = await events.wait(1)
        assert event["decision"] == "allow"
        assert event["spiffe_id"] == CLIENT_ID and event["route"] == "db"
        assert event["rule"] is not None and "spiffe://test.zerotls.dev/svc/web" in event["reason"]
        assert (event["bytes_in"], event["bytes_out"]) == (9, 9)
        assert event["tls_version"] == "TLSv1.3" and event["group"] == "X25519MLKEM768"
        assert event["close_reason"] == "client_close"
        assert event["source"].startswith("127.0.0.1:")
        assert tunnel.metrics.get("zerotls_connections_total", "front", "db", "allow") == 1

    asyncio.run(main())


def test_denied_identity_never_reaches_the_backend(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        policy = Policy.allow_identities(["spiffe://test.zerotls.dev/svc/admin"])
        async with running(server_tunnel_config(pki, backend.port, policy=policy)) as (
            tunnel,
            port,
            events,
        ):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            with pytest.raises(TLSAlert) as err:
                await stream.send(b"DROP TABLE users;")
                await stream.read()
            assert err.value.description == "certificate_unknown"
            (event,) = await events.wait(1)
            assert backend.connections == 0
        assert event["decision"] == "deny" and event["rule"] is None
        assert CLIENT_ID in event["reason"] and event["close_reason"] == "denied"
        assert event["spiffe_id"] == CLIENT_ID  # who was refused is recorded
        assert tunnel.metrics.get("zerotls_denied_total", "front", "db", "default") == 1

    asyncio.run(main())


def test_shadow_mode_logs_but_lets_through(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        deny_all = Policy.allow_identities(["spiffe://test.zerotls.dev/svc/admin"])
        shadow = Policy(rules=deny_all.rules, shadow=True)
        async with running(server_tunnel_config(pki, backend.port, policy=shadow)) as (
            _,
            port,
            events,
        ):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"ping")
            assert await stream.readexactly(4) == b"ping"
            await stream.aclose()
            (event,) = await events.wait(1)
        assert event["decision"] == "shadow-deny"

    asyncio.run(main())


def test_client_without_certificate_is_refused_and_audited(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        async with running(server_tunnel_config(pki, backend.port)) as (_, port, events):
            stream = await open_connection(
                "127.0.0.1", port, pki.client_config(cert=None, key=None)
            )
            with pytest.raises(TLSAlert, match="certificate_required"):
                await stream.send(b"x")
                await stream.read()
            (event,) = await events.wait(1)
        assert event["close_reason"] == "handshake_failed"
        assert event["alert"] == "certificate_required" and event["decision"] is None

    asyncio.run(main())


def test_backend_down_gives_a_fast_abort_and_an_audit_reason(pki: PKI) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]

    async def main() -> None:
        async with running(server_tunnel_config(pki, dead_port)) as (tunnel, port, events):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            with pytest.raises(ConnectionBroken):
                await stream.send(b"hello?")
                await asyncio.wait_for(stream.read(), 5)
            (event,) = await events.wait(1)
        assert event["close_reason"] == "backend_unreachable"
        assert "cannot reach 127.0.0.1" in event["error"]
        assert tunnel.metrics.get("zerotls_backend_errors_total", "front", "db", "unreachable")

    asyncio.run(main())


def test_backend_reset_reaches_the_client_as_an_abort(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend("reset-after-first")
        async with running(server_tunnel_config(pki, backend.port)) as (_, port, events):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"query")
            assert await stream.readexactly(14) == b"partial answer"
            with pytest.raises(ConnectionBroken):  # never a clean b"" after a reset
                await asyncio.wait_for(stream.read(), 5)
            (event,) = await events.wait(1)
        assert event["close_reason"] == "backend_reset"

    asyncio.run(main())


def test_half_close_is_propagated_both_ways(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend("reply-after-eof")
        async with running(server_tunnel_config(pki, backend.port)) as (_, port, events):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"request")
            stream.write_eof()  # close_notify -> the backend sees EOF ...
            reply = await asyncio.wait_for(stream.read(), 5)  # ... and still answers
            assert reply == b"reply after your EOF: request"
            assert await stream.read() == b""
            (event,) = await events.wait(1)
            assert backend.eofs == 1
        assert event["close_reason"] in {"client_close", "backend_close"}

    asyncio.run(main())


def test_client_truncation_is_passed_on_as_a_reset(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        async with running(server_tunnel_config(pki, backend.port)) as (_, port, events):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"abc")
            assert await stream.readexactly(3) == b"abc"
            transport = stream._protocol.transport
            assert transport is not None
            transport.abort()  # TCP gone without close_notify
            (event,) = await events.wait(1)
            await asyncio.sleep(0.05)
        assert event["close_reason"] == "client_reset"
        assert backend.eofs == 0  # the backend did not see a clean end of stream

    asyncio.run(main())


def test_sni_routing_picks_the_backend(pki: PKI) -> None:
    async def main() -> None:
        a, b = await start_backend(), await start_backend()
        allow = Policy.allow_identities(["any"])
        routes = (
            Route(
                name="a",
                sni=("a.internal",),
                target=Target(host="127.0.0.1", port=a.port),
                policy=allow,
            ),
            Route(name="fallback", target=Target(host="127.0.0.1", port=b.port), policy=allow),
        )
        server = pki.write("multi", dns=["a.internal", "localhost"], usage="server")
        cfg = server_tunnel_config(
            pki, 0, routes=routes, tls_overrides={"cert": server.cert, "key": server.key}
        )
        async with running(cfg) as (_, port, events):
            for name in ("a.internal", "localhost"):
                stream = await open_connection(
                    "127.0.0.1", port, pki.client_config(server_name=name)
                )
                await stream.send(b"hi")
                assert await stream.readexactly(2) == b"hi"
                await stream.aclose()
            lines = await events.wait(2)
        assert (a.connections, b.connections) == (1, 1)
        assert sorted(e["route"] for e in lines) == ["a", "fallback"]

    asyncio.run(main())


def test_proxy_protocol_tells_the_backend_who_calls(pki: PKI) -> None:
    async def main() -> None:
        got: list[bytes] = []

        async def capture(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            got.append(await reader.read(4096))
            writer.write(b"ok")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(capture, "127.0.0.1", 0)
        bport = server.sockets[0].getsockname()[1]
        cfg = server_tunnel_config(pki, bport, proxy_protocol=True)
        async with running(cfg) as (_, port, events):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"payload")
            assert await stream.readexactly(2) == b"ok"
            await stream.aclose()
            await events.wait(1)
        server.close()
        header, used = pull_proxy_v2_untrusted(got[0])
        assert got[0][used:] == b"payload"
        assert header.source is not None and header.source[0] == "127.0.0.1"
        assert header.tlvs[PP2Type.ZEROTLS_SPIFFE_ID] == CLIENT_ID.encode()
        assert header.ssl_tlvs[PP2Type.SUBTYPE_SSL_VERSION] == b"TLSv1.3"

    asyncio.run(main())


def test_per_identity_limit(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        cfg = server_tunnel_config(pki, backend.port, limits=Limits(max_per_identity=1))
        async with running(cfg) as (_, port, events):
            first = await open_connection("127.0.0.1", port, pki.client_config())
            await first.send(b"1")
            assert await first.readexactly(1) == b"1"
            second = await open_connection("127.0.0.1", port, pki.client_config())
            with pytest.raises(TLSAlert):
                await second.send(b"2")
                await second.read()
            await first.aclose()
            lines = await events.wait(2)
        denied = [e for e in lines if e["decision"] == "deny"]
        assert len(denied) == 1 and "max_per_identity" in denied[0]["reason"]

    asyncio.run(main())


def test_idle_timeout_closes_quiet_connections(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        cfg = server_tunnel_config(pki, backend.port, limits=Limits(idle_timeout=0.4))
        async with running(cfg) as (_, port, events):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"x")
            assert await stream.readexactly(1) == b"x"
            (event,) = await events.wait(1, timeout=5)
        assert event["close_reason"] == "timeout"

    asyncio.run(main())


def test_garbage_and_http_on_the_tls_port(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        async with running(server_tunnel_config(pki, backend.port)) as (tunnel, port, events):
            for junk in (
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                b"\x16\x03\x01\x00\x05hello",
                bytes(range(256)),
            ):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(junk)
                await writer.drain()
                reply = await asyncio.wait_for(reader.read(), 5)
                assert reply[:1] == b"\x15"  # a TLS alert record, not silence
                writer.close()
            lines = list(await events.wait(3))
            # The tunnel is still serving.
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"ok")
            assert await stream.readexactly(2) == b"ok"
            await stream.aclose()
        assert all(e["close_reason"] == "handshake_failed" for e in lines)
        assert any("plaintext HTTP" in (e["error"] or "") for e in lines)
        assert tunnel.metrics.get("zerotls_handshake_failures_total", "front", "other") >= 1

    asyncio.run(main())


def _handshake_over(sock: socket.socket, conn: TLSConnection) -> None:
    """Drive a sans-IO client connection's handshake over a blocking socket."""
    sock.sendall(conn.data_to_send())
    while conn.handshake is None:
        data = sock.recv(65536)
        assert data, "the tunnel closed during the handshake"
        conn.receive_data(data)


def _has_ticket(ctx: TLSContext) -> bool:
    session = ctx.take_session()
    if session is None:
        return False
    ctx.keep_session(session)
    return True


def test_session_tickets_travel_with_the_first_answer(pki: PKI) -> None:
    """The tickets a handshake leaves wait for the target's first bytes and share their
    write: the client's first read after its Finished and request holds the answer and the
    tickets (one wake-up of the client, not two)."""

    async def main() -> None:
        backend = await start_backend()
        async with running(server_tunnel_config(pki, backend.port)) as (_, port, events):
            ctx = TLSContext(pki.client_config())

            def client() -> list[Event]:
                conn = ctx.connection()
                with socket.create_connection(("127.0.0.1", port)) as sock:
                    _handshake_over(sock, conn)
                    conn.send(b"ping")
                    sock.sendall(conn.data_to_send())  # our Finished and the request
                    got = conn.receive_data(sock.recv(65536))
                    conn.close()
                    sock.sendall(conn.data_to_send())
                    return got

            got = await asyncio.get_running_loop().run_in_executor(None, client)
            assert [e.data for e in got if isinstance(e, DataReceived)] == [b"ping"]
            assert ctx.take_session() is not None  # a ticket came in that same read
            await events.wait(1)

    asyncio.run(main())


def test_session_tickets_reach_a_client_whose_target_stays_silent(pki: PKI) -> None:
    """With nothing to send them with, the held tickets go out on their own, and the client
    resumes with one."""

    async def main() -> None:
        backend = await start_backend("reply-after-eof")  # says nothing until our EOF
        async with running(server_tunnel_config(pki, backend.port)) as (_, port, events):
            ctx = TLSContext(pki.client_config())

            def client() -> tuple[bool, bool]:
                resumed = []
                for _ in range(2):
                    conn = ctx.connection()
                    with socket.create_connection(("127.0.0.1", port)) as sock:
                        _handshake_over(sock, conn)
                        sock.sendall(conn.data_to_send())  # our Finished
                        sock.settimeout(5)
                        while not _has_ticket(ctx):  # the tickets, after the hold
                            data = sock.recv(65536)
                            assert data, "the tunnel closed before sending a ticket"
                            assert not conn.receive_data(data)  # tickets, no data
                        resumed.append(conn.resumed)
                        conn.close()
                        sock.sendall(conn.data_to_send())
                return resumed[0], resumed[1]

            first, second = await asyncio.get_running_loop().run_in_executor(None, client)
            assert (first, second) == (False, True)
            lines = await events.wait(2)
            assert [e["resumed"] for e in lines] == [False, True]

    asyncio.run(main())


def test_resumed_sessions_are_authorized_again(pki: PKI) -> None:
    """TLS 1.3 resumption skips certificate verification; the policy must still decide."""
    import ssl

    from zerotls import to_ssl_context

    async def main() -> None:
        backend = await start_backend()
        cfg = server_tunnel_config(pki, backend.port)
        async with running(cfg) as (tunnel, port, events):
            ctx = to_ssl_context(pki.client_config())

            def session_roundtrip(session: ssl.SSLSession | None) -> tuple[bool, object]:
                with (
                    socket.create_connection(("127.0.0.1", port)) as raw,
                    ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls,
                ):
                    tls.sendall(b"ping")
                    assert tls.recv(4) == b"ping"
                    return tls.session_reused, tls.session

            loop = asyncio.get_running_loop()
            reused, session = await loop.run_in_executor(None, session_roundtrip, None)
            assert not reused
            reused, _ = await loop.run_in_executor(None, session_roundtrip, session)
            assert reused
            lines = await events.wait(2)
            assert [e["decision"] for e in lines] == ["allow", "allow"]
            assert lines[1]["resumed"] is True and lines[1]["spiffe_id"] == CLIENT_ID
            # Now deny web: a ticket issued before must not get around the new policy.
            deny = Policy.allow_identities(["spiffe://test.zerotls.dev/svc/nobody"])
            import dataclasses

            route = dataclasses.replace(cfg.listeners[0].routes[0], policy=deny)
            listener = dataclasses.replace(cfg.listeners[0], routes=(route,))
            tunnel.runtimes["front"] = dataclasses.replace(
                tunnel.runtimes["front"], config=listener
            )  # same TLS context (same ticket keys), new policy
            with pytest.raises((ssl.SSLError, OSError, AssertionError)):
                await loop.run_in_executor(None, session_roundtrip, session)
            lines = await events.wait(3)
            assert lines[2]["decision"] == "deny" and lines[2]["resumed"] is True

    asyncio.run(main())


def test_max_lifetime_ends_long_connections(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        cfg = server_tunnel_config(pki, backend.port, limits=Limits(max_lifetime=0.5))
        async with running(cfg) as (_, port, events):
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            ended_after = None
            for i in range(20):  # busy, never idle: only the lifetime can end it
                try:
                    await stream.send(b"k")
                    if await stream.read(1) != b"k":
                        ended_after = i
                        break
                except ConnectionBroken:
                    ended_after = i
                    break
                await asyncio.sleep(0.1)
            assert ended_after is not None and ended_after >= 3  # lived about 0.5 s, not less
            (event,) = await events.wait(1, timeout=5)
        assert event["close_reason"] == "lifetime"

    asyncio.run(main())


def test_max_connections_refuses_at_accept(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        cfg = server_tunnel_config(pki, backend.port, limits=Limits(max_connections=1))
        async with running(cfg) as (_, port, events):
            first = await open_connection("127.0.0.1", port, pki.client_config())
            await first.send(b"1")
            assert await first.readexactly(1) == b"1"
            with pytest.raises((ConnectionBroken, OSError)):
                await open_connection("127.0.0.1", port, pki.client_config())
            await first.aclose()
            lines = list(await events.wait(2))
        limited = [e for e in lines if e["close_reason"] == "limit"]
        assert len(limited) == 1 and "max_connections" in limited[0]["error"]

    asyncio.run(main())


def test_a_resumed_session_refused_for_revocation_names_who_it_was(
    pki: PKI, tmp_path: Path
) -> None:
    import ssl

    from cryptography.hazmat.primitives import serialization

    from zerotls import to_ssl_context

    revoked = pki.write("resume-revoked", spiffe_id=CLIENT_ID, usage="client")
    crl = tmp_path / "crl.pem"
    crl.write_bytes(pki.ca.crl([]).public_bytes(serialization.Encoding.PEM))

    async def main() -> list[dict[str, object]]:
        backend = await start_backend()
        cfg = server_tunnel_config(
            pki, backend.port, tls_overrides={"crls": (crl,), "crl_refresh": 1}
        )
        async with running(cfg) as (_tunnel, port, events):
            ctx = to_ssl_context(pki.client_config(cert=revoked.cert, key=revoked.key))

            def roundtrip(session: ssl.SSLSession | None) -> ssl.SSLSession | None:
                with (
                    socket.create_connection(("127.0.0.1", port)) as raw,
                    ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls,
                ):
                    tls.sendall(b"ping")
                    assert tls.recv(4) == b"ping"
                    return tls.session

            loop = asyncio.get_running_loop()
            session = await loop.run_in_executor(None, roundtrip, None)
            entry = (revoked.issued.cert.serial_number, dt.datetime.now(dt.UTC), "key_compromise")
            crl.write_bytes(pki.ca.crl([entry]).public_bytes(serialization.Encoding.PEM))
            await asyncio.sleep(2.2)  # a crl_refresh (1 s) or two: the refresher re-reads the file
            with pytest.raises((ssl.SSLError, OSError, AssertionError)):
                await loop.run_in_executor(None, roundtrip, session)
            return await events.wait(2)

    lines = asyncio.run(main())
    refused = lines[1]
    assert refused["resumed"] is True and refused["close_reason"] == "handshake_failed"
    assert refused["spiffe_id"] == CLIENT_ID  # was null: who was refused matters most
    assert str(refused["revocation"]).startswith("revoked")


@pytest.mark.peers
def test_an_sni_with_a_trailing_dot_and_capitals_takes_its_route(pki: PKI) -> None:
    """``A.Internal.`` is ``a.internal`` for routing as for policy globs (it fell through to
    the default route while the policy ignored the dot)."""
    from tests.peers.openssl import s_client

    async def main() -> list[dict[str, object]]:
        a, b = await start_backend(), await start_backend()
        allow = Policy.allow_identities(["spiffe://test.zerotls.dev/svc/web"])
        routes = (
            Route(name="a", sni=("a.internal",), target=Target(host="127.0.0.1", port=a.port),
                  policy=allow),
            Route(name="fallback", target=Target(host="127.0.0.1", port=b.port), policy=allow),
        )  # fmt: skip
        server = pki.write("dotted", dns=["a.internal", "localhost"], usage="server")
        cfg = server_tunnel_config(
            pki, 0, routes=routes, tls_overrides={"cert": server.cert, "key": server.key}
        )
        async with running(cfg) as (_, port, events):
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(None, lambda: s_client(
                port, ca=pki.ca_path, cert=pki.client.cert, key=pki.client.key,
                servername="A.Internal.", send=b"hi\n", extra=["-no_ign_eof"],
            ).stdout)  # fmt: skip
            assert "Verify return code: 0 (ok)" in out
            return await events.wait(1)

    [event] = asyncio.run(main())
    assert event["route"] == "a" and event["sni"] == "a.internal"


def test_finished_sessions_are_freed_without_the_cyclic_gc(pki: PKI) -> None:
    # A session that outlives its connection until a collection holds its OpenSSL connection
    # and both transports: thousands of them under load. With the collector off, every kind
    # of ending must still free the session.
    async def main() -> None:
        backend = await start_backend()
        async with running(server_tunnel_config(pki, backend.port)) as (_, port, events):
            ok, cut = [await open_connection("127.0.0.1", port, pki.client_config()) for _ in "ab"]
            for stream in (ok, cut):  # both through to the backend and back
                await stream.send(b"ping")
                assert await stream.readexactly(4) == b"ping"
            await ok.aclose()  # a clean close
            assert cut._protocol.transport is not None
            cut._protocol.transport.abort()  # truncation: TCP gone without close_notify
            anonymous = await open_connection(
                "127.0.0.1", port, pki.client_config(cert=None, key=None)
            )
            with pytest.raises(TLSAlert):  # a failed handshake
                await anonymous.send(b"x")
                await anonymous.read()
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()  # a TCP probe that sends nothing
            got = await events.wait(4)
            await asyncio.sleep(0.2)  # the transports' last callbacks
            assert sorted(e["close_reason"] for e in got) == [
                "client_close",
                "client_close",
                "client_reset",
                "handshake_failed",
            ]
            assert alive(Session) == 0

    with collector_off():
        asyncio.run(main())
