"""httpx on the zerotls transports against nginx (a server zerotls did not write): mutual
TLS, HTTP/1.1 and h2, a wrong pin, a wrong identity, a revoked staple, resumption; sync and
async."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install 'zerotls[httpx]')")

from tests.conftest import PKI, SERVER_ID  # noqa: E402
from tests.peers.nginx import NGINX, nginx_https  # noqa: E402
from tests.tls import ocsp_util  # noqa: E402
from zerotls.errors import PinMismatch, VerificationError  # noqa: E402
from zerotls.httpx import AsyncZeroTLSTransport, ZeroTLSTransport, tls_info, zerotls_error  # noqa: E402

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which(NGINX) is None and not Path(NGINX).exists(), reason="no nginx"),
]


def _mtls(pki: PKI, **extra: object) -> dict[str, object]:
    return {"ca": pki.ca_path, "cert": pki.client.cert, "key": pki.client.key, **extra}


def test_mutual_tls_to_nginx_with_the_servers_identity(pki: PKI, tmp_path: Path) -> None:
    with nginx_https(tmp_path, pki.server.cert, pki.server.key, client_ca=pki.ca_path) as port:
        transport = ZeroTLSTransport(**_mtls(pki, expect_identity=SERVER_ID))
        with httpx.Client(transport=transport) as client:
            response = client.get(f"https://localhost:{port}/")
    assert response.status_code == 200
    assert "client=CN=client" in response.text  # nginx verified our client certificate
    info = tls_info(response)
    assert info.identity is not None and info.identity.spiffe_id == SERVER_ID
    assert info.tls_version == "TLSv1.3" and info.cipher and info.group
    assert response.http_version == "HTTP/1.1"


def test_h2_through_nginx(pki: PKI, tmp_path: Path) -> None:
    with nginx_https(tmp_path, pki.server.cert, pki.server.key, http2=True) as port:
        with httpx.Client(transport=ZeroTLSTransport(ca=pki.ca_path, http2=True)) as client:
            response = client.get(f"https://localhost:{port}/")
    assert response.status_code == 200 and response.http_version == "HTTP/2"
    assert tls_info(response).alpn == "h2"


def test_the_second_connection_resumes(pki: PKI, tmp_path: Path) -> None:
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    with nginx_https(tmp_path, pki.server.cert, pki.server.key) as port:
        transport = ZeroTLSTransport(ca=pki.ca_path, limits=no_reuse)
        with httpx.Client(transport=transport) as client:
            first = client.get(f"https://localhost:{port}/")
            first.read()
            second = client.get(f"https://localhost:{port}/")
    assert not tls_info(first).handshake.resumed
    assert tls_info(second).handshake.resumed


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        ({"pins": ["n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="]}, PinMismatch, "not pinned"),
        (
            {"expect_identity": "spiffe://test.zerotls.dev/svc/other"},
            VerificationError,
            "identity mismatch",
        ),
    ],
)
def test_a_refused_server_is_an_httpx_error_that_carries_the_reason(
    pki: PKI, tmp_path: Path, options: dict[str, object], error: type[Exception], text: str
) -> None:
    with nginx_https(tmp_path, pki.server.cert, pki.server.key) as port:
        with httpx.Client(transport=ZeroTLSTransport(ca=pki.ca_path, **options)) as client:
            with pytest.raises(httpx.ConnectError, match=text) as caught:
                client.get(f"https://localhost:{port}/")
    assert isinstance(zerotls_error(caught.value), error)


def test_a_revoked_staple_is_refused(pki: PKI, tmp_path: Path) -> None:
    staple = tmp_path / "staple.der"
    staple.write_bytes(ocsp_util.response(pki.server.issued.cert, pki.ca, status="revoked"))
    with nginx_https(tmp_path, pki.server.cert, pki.server.key, staple=staple) as port:
        transport = ZeroTLSTransport(ca=pki.ca_path, ocsp="require")
        with httpx.Client(transport=transport) as client:
            with pytest.raises(httpx.ConnectError, match="revoked") as caught:
                client.get(f"https://localhost:{port}/")
    assert zerotls_error(caught.value) is not None


def test_async_client_success_and_refusal(pki: PKI, tmp_path: Path) -> None:
    async def run(port: int) -> None:
        transport = AsyncZeroTLSTransport(**_mtls(pki, expect_identity=SERVER_ID), http2=True)
        async with httpx.AsyncClient(transport=transport) as client:
            responses = await asyncio.gather(
                *(client.get(f"https://localhost:{port}/{i}") for i in range(5))
            )
        assert all(r.status_code == 200 and r.http_version == "HTTP/2" for r in responses)
        assert tls_info(responses[0]).identity.spiffe_id == SERVER_ID  # type: ignore[union-attr]
        bad = AsyncZeroTLSTransport(ca=pki.ca_path, expect_identity="spiffe://x.test/y")
        async with httpx.AsyncClient(transport=bad) as client:
            with pytest.raises(httpx.ConnectError, match="identity mismatch"):
                await client.get(f"https://localhost:{port}/")

    with nginx_https(
        tmp_path, pki.server.cert, pki.server.key, client_ca=pki.ca_path, http2=True
    ) as port:
        asyncio.run(run(port))


def test_bad_options_fail_when_the_transport_is_made(pki: PKI) -> None:
    from zerotls.errors import ConfigError

    with pytest.raises(ConfigError, match="cert and key go together"):
        ZeroTLSTransport(ca=pki.ca_path, cert=pki.client.cert)
    with pytest.raises(ConfigError, match="not both"):
        ZeroTLSTransport(pki.client_config(), ca=pki.ca_path)
