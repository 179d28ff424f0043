"""The requests and aiohttp recipes of docs/python.md, executed as they are written there,
against nginx requiring our client certificate: the right server is reached, a wrong
expected identity or pin is refused with the zerotls error, verify=False is refused."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

requests = pytest.importorskip("requests")
aiohttp = pytest.importorskip("aiohttp")

from tests.conftest import PKI, SERVER_ID  # noqa: E402
from tests.peers.nginx import NGINX, nginx_https  # noqa: E402
from zerotls import ClientConfig  # noqa: E402
from zerotls.errors import PinMismatch, VerificationError  # noqa: E402

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which(NGINX) is None and not Path(NGINX).exists(), reason="no nginx"),
]

DOCS = Path(__file__).resolve().parent.parent / "docs" / "python.md"


def recipe(title: str) -> dict[str, Any]:
    """Run the python block under ``### title`` in docs/python.md; return its names."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split(f"### {title}\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, f"no python block under {title}"
    names: dict[str, Any] = {"__name__": f"recipe_{title}"}
    exec(compile(code.group(1), f"docs/python.md ({title})", "exec"), names)  # noqa: S102 - our own docs
    return names


def _config(pki: PKI, **kw: Any) -> ClientConfig:
    return ClientConfig(
        ca=pki.ca_path, cert=pki.client.cert, key=pki.client.key,
        **({"expect_identity": SERVER_ID} | kw),
    )  # fmt: skip


def test_requests_recipe(pki: PKI, tmp_path: Path) -> None:
    adapter_cls = recipe("requests")["ZeroTLSAdapter"]
    with nginx_https(tmp_path, pki.server.cert, pki.server.key, client_ca=pki.ca_path) as port:
        url = f"https://localhost:{port}/"
        with requests.Session() as http:
            http.mount(url, adapter_cls(_config(pki)))
            response = http.get(url, timeout=5)
            assert response.status_code == 200 and "client=CN=client" in response.text
            with pytest.raises(ValueError, match="does not turn verification off"):
                http.get(url, timeout=5, verify=False)
        with requests.Session() as http:
            http.mount(url, adapter_cls(_config(pki, expect_identity="spiffe://x.example/db")))
            with pytest.raises(VerificationError, match="spiffe://x.example/db"):
                http.get(url, timeout=5)
        with requests.Session() as http:
            pin = "sha256/" + "A" * 43 + "="
            http.mount(url, adapter_cls(_config(pki, pins=frozenset({pin}))))
            with pytest.raises(PinMismatch):
                http.get(url, timeout=5)


def test_aiohttp_recipe(pki: PKI, tmp_path: Path) -> None:
    connector_cls = recipe("aiohttp")["ZeroTLSConnector"]

    async def get(config: ClientConfig, url: str) -> str:
        try:
            async with (
                aiohttp.ClientSession(connector=connector_cls(config)) as http,
                http.get(url) as response,
            ):
                return str(await response.text())
        finally:
            # aiohttp's advice: TLS transports finish closing a moment after the session;
            # without it a socket is left for the garbage collector to find.
            await asyncio.sleep(0.25)

    with nginx_https(tmp_path, pki.server.cert, pki.server.key, client_ca=pki.ca_path) as port:
        url = f"https://localhost:{port}/"
        assert "client=CN=client" in asyncio.run(get(_config(pki), url))
        with pytest.raises(VerificationError, match="spiffe://x.example/db"):
            asyncio.run(get(_config(pki, expect_identity="spiffe://x.example/db"), url))
