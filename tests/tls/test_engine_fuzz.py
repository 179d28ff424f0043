"""Whatever bytes reach the engine, only zerotls errors come out; chunking never matters."""

from __future__ import annotations

import contextlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PKI
from zerotls.errors import ZeroTLSError
from zerotls.tls.context import TLSContext
from zerotls.tls.engine import DataReceived, HandshakeCompleted

_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(chunks=st.lists(st.binary(max_size=600), max_size=6))
def test_server_engine_on_garbage(pki: PKI, chunks: list[bytes]) -> None:
    conn = TLSContext(pki.server_config()).connection()
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
        conn.receive_data(b"")
    except ZeroTLSError:
        pass
    conn.data_to_send()  # never raises, even after a failure (it holds the alert)


@_SETTINGS
@given(
    prefix=st.sampled_from(
        [b"\x16\x03\x03", b"\x16\x03\x01\x00", b"\x15\x03\x03\x00\x02", b"\x17\x03\x03"]
    ),
    body=st.binary(max_size=400),
)
def test_client_engine_on_record_shaped_garbage(pki: PKI, prefix: bytes, body: bytes) -> None:
    conn = TLSContext(pki.client_config()).connection()
    conn.data_to_send()
    with contextlib.suppress(ZeroTLSError):
        conn.receive_data(prefix + body)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_any_chunking_of_a_real_handshake_works(pki: PKI, seed: int) -> None:
    rng = random.Random(seed)
    client = TLSContext(pki.client_config()).connection()
    server = TLSContext(pki.server_config()).connection()
    got = b""
    for _ in range(20):
        for src, dst in ((client, server), (server, client)):
            data = src.data_to_send()
            while data:
                cut = rng.randint(1, max(1, len(data)))
                for event in dst.receive_data(data[:cut]):
                    if isinstance(event, DataReceived):
                        got += event.data
                    if isinstance(event, HandshakeCompleted) and dst is client:
                        client.send(b"hello")
                data = data[cut:]
        if got:
            break
    assert got == b"hello"
