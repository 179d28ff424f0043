"""Client mode (legacy client -> mTLS), reload and drain, in process."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from tests.conftest import PKI, SERVER_ID
from tests.tunnel.helpers import running, server_tunnel_config, start_backend
from zerotls import TLSAlert, open_connection
from zerotls.policy import Policy
from zerotls.tunnel import ListenerConfig, Route, Target, Tunnel, TunnelConfig


def _client_config(pki: PKI, remote_port: int, **tls: object) -> TunnelConfig:
    route = Route(
        name="remote",
        target=Target(host="127.0.0.1", port=remote_port),
        client_tls=pki.client_config(server_name=None, expect_identity=SERVER_ID, **tls),
    )
    return TunnelConfig(
        listeners=(
            ListenerConfig(
                name="legacy",
                mode="client",
                listen=Target(host="127.0.0.1", port=0),
                routes=(route,),
            ),
        )
    )


def test_legacy_client_through_both_tunnel_modes(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        async with running(server_tunnel_config(pki, backend.port)) as (_, sport, sevents):
            async with running(_client_config(pki, sport)) as (_, cport, cevents):
                reader, writer = await asyncio.open_connection("127.0.0.1", cport)
                writer.write(b"plaintext from a legacy client")
                await writer.drain()
                got = await asyncio.wait_for(reader.readexactly(30), 5)
                assert got == b"plaintext from a legacy client"
                writer.write_eof()
                assert await asyncio.wait_for(reader.read(), 5) == b""
                writer.close()
                (client_event,) = await cevents.wait(1)
                (server_event,) = await sevents.wait(1)
        assert client_event["mode"] == "client" and client_event["spiffe_id"] == SERVER_ID
        assert client_event["bytes_in"] == 30 and client_event["bytes_out"] == 30
        assert server_event["decision"] == "allow" and server_event["bytes_in"] == 30

    asyncio.run(main())


def test_client_mode_refuses_an_unexpected_server(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        async with running(server_tunnel_config(pki, backend.port)) as (_, sport, _e):
            cfg = _client_config(pki, sport)
            route = dataclasses.replace(
                cfg.listeners[0].routes[0],
                client_tls=pki.client_config(
                    server_name=None, expect_identity="spiffe://test.zerotls.dev/x"
                ),
            )
            cfg = dataclasses.replace(
                cfg, listeners=(dataclasses.replace(cfg.listeners[0], routes=(route,)),)
            )
            async with running(cfg) as (_, cport, cevents):
                reader, writer = await asyncio.open_connection("127.0.0.1", cport)
                writer.write(b"secret")
                await writer.drain()
                with pytest.raises(ConnectionResetError):
                    await asyncio.wait_for(reader.read(), 5)  # an abort, not a clean close
                writer.close()
                (event,) = await cevents.wait(1)
        assert event["close_reason"] == "handshake_failed"
        assert "identity mismatch" in event["error"]
        assert backend.connections == 0

    asyncio.run(main())


def test_reload_swaps_policy_for_new_connections_only(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        cfg = server_tunnel_config(pki, backend.port)
        async with running(cfg) as (tunnel, port, events):
            old = await open_connection("127.0.0.1", port, pki.client_config())
            await old.send(b"1")
            assert await old.readexactly(1) == b"1"
            deny = Policy.allow_identities(["spiffe://test.zerotls.dev/svc/nobody"])
            route = dataclasses.replace(cfg.listeners[0].routes[0], policy=deny)
            new_cfg = dataclasses.replace(
                cfg, listeners=(dataclasses.replace(cfg.listeners[0], routes=(route,)),)
            )
            assert tunnel.reload(new_cfg) is True
            # The open connection continues under the policy it was admitted with ...
            await old.send(b"2")
            assert await old.readexactly(1) == b"2"
            # ... a new one meets the new policy.
            fresh = await open_connection("127.0.0.1", port, pki.client_config())
            with pytest.raises(TLSAlert):
                await fresh.send(b"3")
                await fresh.read()
            await old.aclose()
            await events.wait(2)
        assert tunnel.config_version == 2

    asyncio.run(main())


def test_broken_reload_keeps_the_old_material(pki: PKI, tmp_path: Path) -> None:
    async def main() -> None:
        backend = await start_backend()
        cfg = server_tunnel_config(pki, backend.port)
        broken_key = tmp_path / "broken.key"
        broken_key.write_text("not a key")
        tls = dataclasses.replace(cfg.listeners[0].tls, key=broken_key)  # type: ignore[type-var]
        broken = dataclasses.replace(
            cfg, listeners=(dataclasses.replace(cfg.listeners[0], tls=tls),)
        )
        async with running(cfg) as (tunnel, port, _events):
            assert tunnel.reload(broken) is False
            assert "broken.key" in tunnel.status()["last_reload"]["error"]
            stream = await open_connection("127.0.0.1", port, pki.client_config())
            await stream.send(b"still")
            assert await stream.readexactly(5) == b"still"
            await stream.aclose()
        assert tunnel.metrics.get("zerotls_reloads_total", "failure") == 1

    asyncio.run(main())


def test_drain_lets_open_connections_finish(pki: PKI) -> None:
    async def main() -> None:
        backend = await start_backend()
        tunnel = Tunnel(server_tunnel_config(pki, backend.port))
        await tunnel.start()
        port = next(iter(tunnel.addresses().values()))[1]
        stream = await open_connection("127.0.0.1", port, pki.client_config())
        await stream.send(b"a")
        assert await stream.readexactly(1) == b"a"

        async def finish_soon() -> None:
            await asyncio.sleep(0.2)
            await stream.send(b"b")
            assert await stream.readexactly(1) == b"b"
            await stream.aclose()

        task = asyncio.create_task(finish_soon())
        aborted = await tunnel.drain(timeout=5)
        await task
        assert aborted == 0
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        tunnel.close()
        await asyncio.sleep(0.1)  # let the closing transports finish before the loop ends

    asyncio.run(main())


def test_file_watch_reloads_on_a_kubernetes_style_symlink_swap(pki: PKI, tmp_path: Path) -> None:
    """Secrets mounted by Kubernetes change by re-pointing ..data; the paths stay the same."""
    import os
    import shutil

    from zerotls.tunnel.watch import watch_files

    mount = tmp_path / "secret"
    mount.mkdir()
    first = mount / "..2026_11_28_v1"
    first.mkdir()
    shutil.copy(pki.server.cert, first / "tls.crt")
    shutil.copy(pki.server.key, first / "tls.key")
    os.symlink(first.name, mount / "..data")
    for name in ("tls.crt", "tls.key"):
        os.symlink(f"..data/{name}", mount / name)
    config_file = tmp_path / "tunnel.toml"

    async def main() -> None:
        backend = await start_backend()
        config_file.write_text(
            '[[listener]]\nname = "front"\nlisten = "127.0.0.1:0"\n[listener.tls]\n'
            f'cert = "{mount / "tls.crt"}"\nkey = "{mount / "tls.key"}"\nca = "{pki.ca_path}"\n'
            f'[[listener.route]]\nname = "db"\ntarget = "127.0.0.1:{backend.port}"\n'
            f'[[listener.route.rule]]\nname = "any"\neffect = "allow"\nany_identity = true\n'
        )
        cfg = TunnelConfig.from_toml(config_file)
        async with running(cfg) as (tunnel, port, _events):
            watcher = asyncio.create_task(watch_files(tunnel, interval=0.1))
            before = await open_connection("127.0.0.1", port, pki.client_config())
            old_pin = before.identity.spki_pin if before.identity else None
            await before.aclose()
            rotated = pki.write(
                "k8s-rotated", spiffe_id=SERVER_ID, dns=["localhost"], usage="server"
            )
            second = mount / "..2026_11_28_v2"
            second.mkdir()
            shutil.copy(rotated.cert, second / "tls.crt")
            shutil.copy(rotated.key, second / "tls.key")
            os.symlink(second.name, mount / "..data_tmp")
            os.replace(mount / "..data_tmp", mount / "..data")  # the atomic swap
            async with asyncio.timeout(10):
                while tunnel.config_version < 2:
                    await asyncio.sleep(0.05)
            after = await open_connection("127.0.0.1", port, pki.client_config())
            assert after.identity is not None
            assert after.identity.spki_pin == rotated.issued.pin != old_pin
            await after.aclose()
            watcher.cancel()

    asyncio.run(main())
