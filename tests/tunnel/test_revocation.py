"""Revocation through the tunnel: refused in the handshake, audited, hard or soft per route,
and the tunnel's own certificate stapled for clients that require it."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import PKI
from tests.tunnel.helpers import running, server_tunnel_config, start_backend
from zerotls import TLSAlert, open_connection
from zerotls.pki.ocsp import CertStatus, OCSPResponder, serve
from zerotls.tunnel import TunnelConfig


def test_revoked_client_is_refused_and_audited(pki: PKI, tmp_path: Path) -> None:
    bad = pki.write("tun-revoked", spiffe_id="spiffe://test.zerotls.dev/svc/web", usage="client")
    crl = tmp_path / "crl.pem"
    entries = [(bad.issued.cert.serial_number, dt.datetime.now(dt.UTC), "key_compromise")]
    crl.write_bytes(pki.ca.crl(entries).public_bytes(serialization.Encoding.PEM))

    async def main() -> None:
        backend = await start_backend()
        cfg = server_tunnel_config(pki, backend.port, tls_overrides={"crls": (crl,)})
        async with running(cfg) as (_, port, events):
            stream = await open_connection(
                "127.0.0.1", port, pki.client_config(cert=bad.cert, key=bad.key)
            )
            with pytest.raises(TLSAlert) as err:
                await stream.send(b"hello")
                await stream.read()
            assert err.value.description == "certificate_revoked"
            good = await open_connection("127.0.0.1", port, pki.client_config())
            await good.send(b"hi")
            assert await good.readexactly(2) == b"hi"
            await good.aclose()
            lines = await events.wait(2)
            assert backend.connections == 1
        refused = next(e for e in lines if e["close_reason"] == "handshake_failed")
        assert refused["revocation"] == "revoked (key_compromise)"
        assert refused["alert"] == "certificate_revoked"
        allowed = next(e for e in lines if e["decision"] == "allow")
        assert allowed["revocation"] == f"crl good (file {crl})"

    asyncio.run(main())


def test_unknown_status_is_hard_or_soft_per_route(pki: PKI, tmp_path: Path) -> None:
    other, _ = pki.other_ca("tunnel unrelated CA")
    crl = tmp_path / "unrelated.pem"
    crl.write_bytes(other.crl([]).public_bytes(serialization.Encoding.PEM))
    server = pki.write("tun-multi", dns=["soft.internal", "hard.internal"], usage="server")

    async def main() -> None:
        soft_be, hard_be = await start_backend(), await start_backend()
        allow = [
            {"name": "web", "effect": "allow", "spiffe": ["spiffe://test.zerotls.dev/svc/web"]}
        ]
        data = {
            "listener": [
                {
                    "name": "front",
                    "listen": "127.0.0.1:0",
                    "tls": {
                        "cert": str(server.cert),
                        "key": str(server.key),
                        "ca": str(pki.ca_path),
                        "crls": [str(crl)],
                    },
                    "route": [
                        {
                            "name": "soft",
                            "sni": "soft.internal",
                            "target": f"127.0.0.1:{soft_be.port}",
                            "revocation": "soft",
                            "rule": allow,
                        },
                        {
                            "name": "hard",
                            "sni": "hard.internal",
                            "target": f"127.0.0.1:{hard_be.port}",
                            "rule": allow,
                        },
                    ],
                }
            ]
        }
        cfg = TunnelConfig.from_dict(data, base_dir=tmp_path)
        assert cfg.listeners[0].tls is not None and cfg.listeners[0].tls.revocation == "soft"
        assert [r.revocation for r in cfg.listeners[0].routes] == ["soft", "hard"]
        async with running(cfg) as (_, port, events):
            ok = await open_connection(
                "127.0.0.1", port, pki.client_config(server_name="soft.internal")
            )
            await ok.send(b"hi")
            assert await ok.readexactly(2) == b"hi"
            await ok.aclose()
            refused = await open_connection(
                "127.0.0.1", port, pki.client_config(server_name="hard.internal")
            )
            with pytest.raises(TLSAlert) as err:
                await refused.send(b"hi")
                await refused.read()
            assert err.value.description == "certificate_unknown"
            lines = await events.wait(2)
        assert (soft_be.connections, hard_be.connections) == (1, 0)
        soft = next(e for e in lines if e["route"] == "soft")
        hard = next(e for e in lines if e["route"] == "hard")
        assert soft["decision"] == "allow"
        assert soft["revocation"].startswith("unknown, soft-fail: no CRL of CN=test root CA")
        assert hard["decision"] == "deny"
        assert "requires a known revocation status" in hard["reason"]

    asyncio.run(main())


def test_tunnel_staples_its_certificate(pki: PKI) -> None:
    statuses: dict[int, CertStatus] = {}
    responder = serve(OCSPResponder(pki.ca, lambda s: statuses.get(s, CertStatus("unknown"))))
    thread = threading.Thread(target=responder.serve_forever, args=(0.05,))
    thread.start()
    try:
        server = pki.write(
            "tun-stapled", dns=["localhost"], usage="server", ocsp_url=responder.url,
            must_staple=True,
        )  # fmt: skip
        statuses[server.issued.cert.serial_number] = CertStatus("good")

        async def main() -> None:
            backend = await start_backend()
            cfg = server_tunnel_config(
                pki, backend.port, tls_overrides={"cert": server.cert, "key": server.key}
            )
            async with running(cfg) as (_, port, events):
                stream = await open_connection("127.0.0.1", port, pki.client_config(ocsp="require"))
                await stream.send(b"hi")
                assert await stream.readexactly(2) == b"hi"
                await stream.aclose()
                await events.wait(1)

        asyncio.run(main())
    finally:
        responder.shutdown()
        responder.server_close()
        thread.join(5)
