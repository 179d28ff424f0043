"""Our client against our server over asyncio and blocking sockets, and stdlib interop."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from pathlib import Path

import pytest

from tests.conftest import CLIENT_ID, PKI, SERVER_ID
from zerotls import (
    ConfigError,
    ConnectionBroken,
    HandshakeTimeout,
    PinMismatch,
    TLSAlert,
    TransportError,
    VerificationError,
    ZeroTLSError,
    check_peer,
    connect,
    open_connection,
    serve,
    start_server,
    to_ssl_context,
)
from zerotls.tls import TLSSocket, TLSStream


async def _echo(stream: TLSStream) -> None:
    while data := await stream.read(65536):
        await stream.send(data)


def test_asyncio_client_and_server(pki: PKI) -> None:
    seen: list[str | None] = []

    async def handler(stream: TLSStream) -> None:
        seen.append(stream.identity.spiffe_id if stream.identity else None)
        await _echo(stream)

    async def main() -> None:
        async with await start_server(handler, "127.0.0.1", 0, pki.server_config()) as srv:
            stream = await open_connection("127.0.0.1", srv.port, pki.client_config())
            assert stream.identity is not None and stream.identity.spiffe_id == SERVER_ID
            assert (stream.tls_version, stream.group) == ("TLSv1.3", "X25519MLKEM768")
            payload = bytes(range(256)) * 4096  # 1 MiB, exercises flow control
            stream.write(payload)
            await stream.drain()
            assert await stream.readexactly(len(payload)) == payload
            stream.write_eof()
            assert await stream.read() == b""  # the server's close_notify: a clean end
            await stream.aclose()

    asyncio.run(main())
    assert seen == [CLIENT_ID]


def test_asyncio_refusal_reaches_the_client_as_an_alert(pki: PKI) -> None:
    refusals: list[ZeroTLSError] = []

    async def main() -> None:
        srv = await start_server(
            _echo,
            "127.0.0.1",
            0,
            pki.server_config(),
            on_handshake_failure=lambda e, _p: refusals.append(e),
        )
        async with srv:
            stream = await open_connection(
                "127.0.0.1", srv.port, pki.client_config(cert=None, key=None)
            )
            # TLS 1.3: the server decides after the client's Finished, so the alert is read.
            with pytest.raises(TLSAlert) as err:
                await stream.send(b"hi")
                await stream.read()
            assert err.value.description == "certificate_required"
            await asyncio.sleep(0.05)

    asyncio.run(main())
    assert len(refusals) == 1 and isinstance(refusals[0], VerificationError)


def test_asyncio_client_verification_failure(pki: PKI) -> None:
    async def main() -> None:
        async with await start_server(_echo, "127.0.0.1", 0, pki.server_config()) as srv:
            with pytest.raises(PinMismatch):
                await open_connection(
                    "127.0.0.1",
                    srv.port,
                    pki.client_config(pins=frozenset({pki.client.issued.pin})),
                )

    asyncio.run(main())


def test_asyncio_handshake_timeout_on_a_silent_client(pki: PKI) -> None:
    refusals: list[ZeroTLSError] = []

    async def main() -> None:
        cfg = pki.server_config(handshake_timeout=0.3)
        srv = await start_server(
            _echo, "127.0.0.1", 0, cfg, on_handshake_failure=lambda e, _p: refusals.append(e)
        )
        async with srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            # Say nothing; the server must give up and close (slowloris protection).
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
            await writer.wait_closed()

    asyncio.run(main())
    assert len(refusals) == 1 and isinstance(refusals[0], HandshakeTimeout)


def test_asyncio_truncated_stream_is_an_error_not_eof(pki: PKI) -> None:
    async def handler(stream: TLSStream) -> None:
        stream.write(b"partial")
        await stream.drain()
        stream._protocol.transport.abort()  # type: ignore[union-attr]  # no close_notify

    async def main() -> None:
        async with await start_server(handler, "127.0.0.1", 0, pki.server_config()) as srv:
            stream = await open_connection("127.0.0.1", srv.port, pki.client_config())
            assert await stream.readexactly(7) == b"partial"
            with pytest.raises(ConnectionBroken):
                await stream.read()

    asyncio.run(main())


def test_asyncio_connect_refused_is_a_transport_error(pki: PKI) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening

    async def main() -> None:
        with pytest.raises(TransportError, match="cannot connect"):
            await open_connection("127.0.0.1", port, pki.client_config())

    asyncio.run(main())


def _start_sync_server(pki: PKI, **overrides: object) -> tuple[object, threading.Thread]:
    def handler(tls: TLSSocket) -> None:
        while data := tls.recv():
            tls.sendall(data)

    server = serve(handler, "127.0.0.1", 0, pki.server_config(**overrides))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


def test_blocking_client_and_server(pki: PKI) -> None:
    server, thread = _start_sync_server(pki)
    with server:  # type: ignore[attr-defined]
        with connect("127.0.0.1", server.port, pki.client_config()) as tls:  # type: ignore[attr-defined]
            assert tls.identity is not None and tls.identity.spiffe_id == SERVER_ID
            tls.sendall(b"x" * 100_000)
            assert tls.recv_exactly(100_000) == b"x" * 100_000
            tls.shutdown_write()
            assert tls.recv() == b""
    thread.join(5)


def test_blocking_client_refused_by_wrong_ca(pki: PKI) -> None:
    _, other = pki.other_ca("sync other CA")
    server, thread = _start_sync_server(pki)
    with server:  # type: ignore[attr-defined]
        with pytest.raises(VerificationError, match="not issued by a CA"):
            connect("127.0.0.1", server.port, pki.client_config(ca=other))  # type: ignore[attr-defined]
    thread.join(5)


def test_stdlib_client_from_to_ssl_context_against_our_server(pki: PKI) -> None:
    server, thread = _start_sync_server(pki)
    ctx = to_ssl_context(pki.client_config())
    assert ctx.minimum_version is ssl.TLSVersion.TLSv1_3
    assert ctx.check_hostname and not ctx.hostname_checks_common_name
    with server:  # type: ignore[attr-defined]
        with socket.create_connection(("127.0.0.1", server.port)) as raw:  # type: ignore[attr-defined]
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() == "TLSv1.3"
                tls.sendall(b"stdlib")
                assert tls.recv(100) == b"stdlib"
        # Negative twin: the stdlib context verifies the name too.
        with socket.create_connection(("127.0.0.1", server.port)) as raw:  # type: ignore[attr-defined]
            with pytest.raises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname="db.example")
    thread.join(5)


def test_stdlib_server_from_to_ssl_context_requires_client_certs(pki: PKI) -> None:
    ctx = to_ssl_context(pki.server_config())
    assert ctx.verify_mode is ssl.CERT_REQUIRED


def test_to_ssl_context_refuses_pins_unless_asked_by_name(pki: PKI) -> None:
    cfg = pki.client_config(pins=frozenset({pki.server.issued.pin}))
    with pytest.raises(ConfigError, match="allow_post_handshake_checks"):
        to_ssl_context(cfg)
    ctx = to_ssl_context(cfg, allow_post_handshake_checks=True)
    server, thread = _start_sync_server(pki)
    with server:  # type: ignore[attr-defined]
        with socket.create_connection(("127.0.0.1", server.port)) as raw:  # type: ignore[attr-defined]
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                assert check_peer(tls, cfg).spiffe_id == SERVER_ID
                bad = pki.client_config(pins=frozenset({pki.client.issued.pin}))
                with pytest.raises(PinMismatch):
                    check_peer(tls, bad)
    thread.join(5)


def test_handshake_timeout_blocking(pki: PKI, tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(HandshakeTimeout):
            connect("127.0.0.1", port, pki.client_config(handshake_timeout=0.3))
