"""grpcio over mutual TLS with zerotls certificates: a real grpcio server and client, the
policy interceptor allowing and denying SPIFFE IDs per method, the audit records, and the
checks grpcio cannot make refused up front."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import pytest

grpc = pytest.importorskip("grpc", reason="grpcio is not installed (pip install 'zerotls[spiffe]')")

from tests.conftest import CLIENT_ID, PKI, SERVER_ID  # noqa: E402
from zerotls.errors import ConfigError  # noqa: E402
from zerotls.grpc import (  # noqa: E402
    PolicyInterceptor,
    channel_credentials,
    channel_options,
    server_credentials,
)
from zerotls.policy import Policy  # noqa: E402

SAY = "/zerotls.test.Echo/Say"
ADMIN = "/zerotls.test.Echo/Admin"


def _handler() -> Any:
    def say(request: bytes, context: Any) -> bytes:
        return b"echo: " + request

    def admin(request: bytes, context: Any) -> bytes:
        return b"admin done"

    methods = {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Admin": grpc.unary_unary_rpc_method_handler(admin),
    }
    return grpc.method_handlers_generic_handler("zerotls.test.Echo", methods)


@pytest.fixture
def server(pki: PKI) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    audit: list[dict[str, Any]] = []
    policy = Policy.from_dict(
        {
            "rule": [
                {"name": "web may say", "effect": "allow", "spiffe": [CLIENT_ID], "routes": [SAY]}
            ]
        }
    )
    srv = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[PolicyInterceptor(policy, audit=audit.append)],
    )
    srv.add_generic_rpc_handlers((_handler(),))
    port = srv.add_secure_port("127.0.0.1:0", server_credentials(pki.server_config()))
    srv.start()
    try:
        yield port, audit
    finally:
        srv.stop(grace=0).wait()


def _call(pki: PKI, port: int, method: str, **client: object) -> bytes:
    cfg = pki.client_config(**client)
    with grpc.secure_channel(
        f"127.0.0.1:{port}", channel_credentials(cfg), options=channel_options(cfg)
    ) as channel:
        stub = channel.unary_unary(method)
        return stub(b"hi", timeout=10)  # type: ignore[no-any-return]


def test_an_allowed_spiffe_id_calls_the_method_it_may(
    pki: PKI, server: tuple[int, list[dict[str, Any]]]
) -> None:
    port, audit = server
    assert _call(pki, port, SAY) == b"echo: hi"
    (record,) = audit
    assert record["spiffe_id"] == CLIENT_ID and record["decision"] == "allow"
    assert record["route"] == SAY and record["mode"] == "grpc" and record["rule"] == "web may say"


def test_other_methods_and_other_identities_are_denied_with_the_reason(
    pki: PKI, server: tuple[int, list[dict[str, Any]]], tmp_path: Path
) -> None:
    port, audit = server
    with pytest.raises(grpc.RpcError) as caught:
        _call(pki, port, ADMIN)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert f"no rule allows {CLIENT_ID}" in caught.value.details()
    other = pki.write("other", spiffe_id="spiffe://test.zerotls.dev/svc/other", usage="client")
    with pytest.raises(grpc.RpcError) as caught:
        _call(pki, port, SAY, cert=other.cert, key=other.key)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert [r["decision"] for r in audit] == ["deny", "deny"]
    assert audit[1]["spiffe_id"] == "spiffe://test.zerotls.dev/svc/other"


def test_a_client_of_another_ca_never_gets_through_the_handshake(
    pki: PKI, server: tuple[int, list[dict[str, Any]]]
) -> None:
    port, audit = server
    ca, _ = pki.other_ca("grpc stranger CA")
    stranger = pki.write("stranger", ca=ca, spiffe_id=CLIENT_ID, usage="client")
    with pytest.raises(grpc.RpcError) as caught:
        _call(pki, port, SAY, cert=stranger.cert, key=stranger.key)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # grpcio's handshake refused it
    assert audit == []


def test_checks_grpcio_cannot_make_are_refused_not_skipped(pki: PKI) -> None:
    with pytest.raises(ConfigError, match="no hook for pins or an expected SPIFFE ID"):
        channel_credentials(pki.client_config(expect_identity=SERVER_ID))
    with pytest.raises(ConfigError, match="no hook for pins"):
        channel_credentials(
            pki.client_config(pins=["n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="])
        )
