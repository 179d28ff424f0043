"""asyncio DTLS against real peers (``openssl s_server -dtls1_2`` / ``s_client -dtls1_2``) and
against itself: mutual authentication, refusals, peers, idle timeout."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLIENT_ID, PKI, SERVER_ID
from tests.peers.openssl import OPENSSL, free_port, stop
from zerotls.dtls import DTLSAssociation, DTLSOptions, open_association, start_server
from zerotls.errors import (
    HandshakeTimeout,
    PolicyDenied,
    TLSAlert,
    VerificationError,
    ZeroTLSError,
)
from zerotls.tls.identity import Identity

FAST = DTLSOptions(initial_retransmit=0.2, handshake_timeout=10)


@contextlib.contextmanager
def dtls_s_server(
    cert: Path, key: Path, *extra: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-dtls1_2", "-accept", f"127.0.0.1:{port}",
         "-cert", str(cert), "-key", str(key), *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    time.sleep(0.3)  # UDP: nothing to poll; s_server binds within milliseconds
    try:
        yield port, proc
    finally:
        stop(proc)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def s_server_dtls(pki: PKI) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    with dtls_s_server(
        pki.server.cert, pki.server.key, "-CAfile", str(pki.ca_path), "-Verify", "1"
    ) as server:
        yield server


@pytest.mark.peers
def test_our_client_against_openssl_s_server(
    pki: PKI, s_server_dtls: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, proc = s_server_dtls

    async def main() -> None:
        ep = await open_association("127.0.0.1", port, pki.client_config(), options=FAST)
        assert ep.tls_version == "DTLSv1.2" and ep.cipher.startswith("ECDHE-ECDSA-AES")
        assert ep.identity is not None and ep.identity.spiffe_id == SERVER_ID
        ep.send(b"hello over dtls\n")
        await asyncio.sleep(0.2)
        assert proc.stdin is not None
        proc.stdin.write(b"pong\n")
        proc.stdin.flush()
        assert await asyncio.wait_for(ep.recv(), 5) == b"pong\n"
        ep.close()

    asyncio.run(main())
    stop(proc)
    assert proc.stdout is not None
    out = proc.stdout.read().decode(errors="replace")  # the fixture closes the pipes
    assert "hello over dtls" in out
    assert "CN = client" in out or "CN=client" in out  # s_server verified our certificate


@pytest.mark.peers
def test_our_client_refuses_s_server_of_another_ca(pki: PKI) -> None:
    ca, _ = pki.other_ca("dtls other CA")
    impostor = pki.write("dtls-impostor", ca=ca, dns=["localhost"], usage="server")
    with dtls_s_server(impostor.cert, impostor.key) as (port, _proc):
        with pytest.raises(VerificationError, match="not issued by a CA"):
            asyncio.run(open_association("127.0.0.1", port, pki.client_config(), options=FAST))


def s_client_dtls(
    pki: PKI, port: int, *, with_cert: bool, send: bytes, extra: tuple[str, ...] = ()
) -> str:
    cmd = [OPENSSL, "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}",
           "-servername", "localhost", "-CAfile", str(pki.ca_path), "-verify_return_error",
           "-ign_eof"]  # fmt: skip
    if with_cert:
        cmd += ["-cert", str(pki.client.cert), "-key", str(pki.client.key)]
    cmd += extra
    proc = subprocess.run(cmd, input=send, capture_output=True, timeout=20, check=False)
    return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


async def echo_once(ep: DTLSAssociation) -> None:
    ep.send(await ep.recv())


@pytest.mark.peers
def test_openssl_s_client_against_our_server(pki: PKI) -> None:
    seen: list[Identity | None] = []
    refused: list[ZeroTLSError] = []

    async def handler(ep: DTLSAssociation) -> None:
        seen.append(ep.identity)
        await echo_once(ep)

    async def main() -> None:
        server = await start_server(
            handler, "127.0.0.1", 0, pki.server_config(), options=FAST,
            on_handshake_failure=lambda exc, _addr: refused.append(exc),
        )  # fmt: skip
        async with server:
            loop = asyncio.get_running_loop()
            ok = await loop.run_in_executor(
                None, lambda: s_client_dtls(pki, server.port, with_cert=True, send=b"ping\n")
            )
            assert "Verify return code: 0 (ok)" in ok and "DTLSv1.2" in ok
            assert "ping" in ok.split("Verify return code")[1]  # our echo came back
            bad = await loop.run_in_executor(
                None, lambda: s_client_dtls(pki, server.port, with_cert=False, send=b"ping\n")
            )
            assert "certificate required" in bad or "handshake failure" in bad
            assert not server.peers  # both associations are gone

    asyncio.run(main())
    assert [i.spiffe_id if i else None for i in seen] == [CLIENT_ID]
    assert len(refused) == 1 and "no certificate" in str(refused[0])


@pytest.mark.peers
@pytest.mark.parametrize(
    "offer",
    [("-groups", "X25519"), ("-groups", "P-384"), ("-cipher", "ECDHE-ECDSA-AES128-SHA")],
    ids=["x25519-only-vs-p256-cert", "p384-only", "cbc-suite-only"],
)
def test_a_peer_with_nothing_in_common_gets_its_alert_and_is_reported(
    pki: PKI, offer: tuple[str, ...]
) -> None:
    # Before: the HelloVerifyRequest, then silence (no alert, no log line, no audit event).
    refused: list[ZeroTLSError] = []

    async def main() -> str:
        server = await start_server(
            echo_once, "127.0.0.1", 0, pki.server_config(), options=FAST,
            on_handshake_failure=lambda exc, _addr: refused.append(exc),
        )  # fmt: skip
        async with server:
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(
                None,
                lambda: s_client_dtls(pki, server.port, with_cert=True, send=b"x", extra=offer),
            )
            assert server.listener.refused == 1
            return out

    out = asyncio.run(main())
    assert "alert handshake failure" in out or "sslv3 alert handshake failure" in out, out
    assert len(refused) == 1
    assert refused[0].alert_sent == "handshake_failure"


def test_ours_to_ours_with_policy_and_peer_limits(pki: PKI) -> None:
    async def handler(ep: DTLSAssociation) -> None:
        while message := await ep.recv():
            ep.send(message.upper())

    def authorize(identity: Identity | None, addr: tuple[str, int]) -> ZeroTLSError | None:
        if identity is None or identity.spiffe_id != CLIENT_ID:
            return PolicyDenied(f"{identity} may not use this service")
        return None

    async def main() -> None:
        server = await start_server(
            handler, "127.0.0.1", 0, pki.server_config(), options=FAST, max_peers=1,
            idle_timeout=0.5, authorize=authorize,
        )  # fmt: skip
        async with server:
            ep = await open_association("127.0.0.1", server.port, pki.client_config(), options=FAST)
            for word in (b"one", b"two", b"three"):
                ep.send(word)
                assert await asyncio.wait_for(ep.recv(), 5) == word.upper()
            assert len(server.peers) == 1
            # A second peer while one is connected: max_peers = 1 turns it away unanswered.
            with pytest.raises(HandshakeTimeout):
                await open_association(
                    "127.0.0.1", server.port, pki.client_config(),
                    options=DTLSOptions(initial_retransmit=0.1, handshake_timeout=0.5),
                )  # fmt: skip
            assert server.refused_full >= 1
            # Idle for longer than idle_timeout: the server closes with close_notify.
            assert await asyncio.wait_for(ep.recv(), 5) == b""
            assert not server.peers
            # A client whose identity the policy refuses never reaches the handler.
            other = pki.write("dtls-other", spiffe_id="spiffe://test.zerotls.dev/x", usage="client")
            with pytest.raises(TLSAlert) as err:
                ep2 = await open_association(
                    "127.0.0.1", server.port,
                    pki.client_config(cert=other.cert, key=other.key), options=FAST,
                )  # fmt: skip
                await asyncio.wait_for(ep2.recv(), 5)
            assert err.value.description == "certificate_unknown"

    asyncio.run(main())


def test_connect_to_a_closed_port_fails_fast(pki: PKI) -> None:
    port = free_port()

    async def main() -> None:
        start = time.monotonic()
        with pytest.raises(ZeroTLSError, match="not reachable over UDP"):
            await open_association("127.0.0.1", port, pki.client_config(), options=FAST)
        assert time.monotonic() - start < 5

    asyncio.run(main())


def test_cli_connect_dtls_to_our_server(pki: PKI) -> None:
    """``zerotls connect --dtls``: one datagram each way, the server's identity printed."""
    import sys

    async def upper(ep: DTLSAssociation) -> None:
        ep.send((await ep.recv()).upper())

    async def main() -> str:
        server = await start_server(upper, "127.0.0.1", 0, pki.server_config(), options=FAST)
        async with server:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "zerotls", "connect", f"127.0.0.1:{server.port}", "--dtls",
                "--name", "localhost", "--ca", str(pki.ca_path), "--cert", str(pki.client.cert),
                "--key", str(pki.client.key), "--send", "ping over udp\n",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()
            return out.decode()

    out = asyncio.run(main())
    assert "/udp: DTLSv1.2" in out
    assert f"identity: {SERVER_ID}" in out
    assert "PING OVER UDP" in out
