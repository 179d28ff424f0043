"""GREASE tolerance (RFC 8701): OpenSSL's s_server ignores the reserved values; a middlebox
in front of it that drops every hello carrying them (as broken load balancers did) is
reported, with the fix, while the ordinary hello still gets through it."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.audit.conftest import Certs, audit
from tests.peers.legacy import Server
from zerotls._wire.handshake import pull_client_hello_untrusted
from zerotls.audit.model import GreaseResult
from zerotls.audit.probes.grease import LARGE_HELLO, is_grease

pytestmark = pytest.mark.peers


def _grease(report: object) -> GreaseResult:
    result = report.results["grease"]  # type: ignore[attr-defined]
    assert isinstance(result, GreaseResult), result
    return result


def test_openssl_ignores_grease(tls12_13: Server, certs: Certs) -> None:
    report = audit(tls12_13, certs.ca, probes=("grease",))
    result = _grease(report)
    assert result.tolerant is True, result
    assert "grease.intolerant" not in {f.id for f in report.findings}


def _pipe(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        a.close()  # each direction closes the socket it reads; the other closes the other


@contextlib.contextmanager
def _middlebox(upstream: Server, drop: Callable[[bytes], bool]) -> Iterator[str]:
    """A TCP relay to ``upstream`` that closes any connection whose first record (the
    ClientHello) ``drop`` refuses, and relays every other one untouched."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def handle(client: socket.socket) -> None:
        head = b""
        while len(head) < 5 or len(head) < 5 + int.from_bytes(head[3:5], "big"):
            chunk = client.recv(65536)
            if not chunk:
                client.close()
                return
            head += chunk
        if drop(head[: 5 + int.from_bytes(head[3:5], "big")]):
            client.close()  # the broken box: the connection is dropped
            return
        upstream_sock = socket.create_connection(("127.0.0.1", upstream.port))
        upstream_sock.sendall(head)
        threading.Thread(target=_pipe, args=(upstream_sock, client), daemon=True).start()
        _pipe(client, upstream_sock)

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(client,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _lists_grease(record: bytes) -> bool:
    hello = pull_client_hello_untrusted(record[9:])
    return any(is_grease(s) for s in hello.cipher_suites)


@pytest.fixture
def intolerant_middlebox(tls12_13: Server) -> Iterator[str]:
    """Drops any ClientHello that lists a GREASE cipher suite."""
    with _middlebox(tls12_13, _lists_grease) as address:
        yield address


@pytest.fixture
def size_capped_middlebox(tls12_13: Server) -> Iterator[str]:
    """Drops any ClientHello record over 1024 bytes (what broke post-quantum hellos)."""
    with _middlebox(tls12_13, lambda record: len(record) > 1024) as address:
        yield address


def test_a_middlebox_that_drops_grease_is_reported(intolerant_middlebox: str, certs: Certs) -> None:
    report = audit(intolerant_middlebox, certs.ca, probes=("grease",))
    result = _grease(report)
    assert result.tolerant is False, result
    assert "the same hello with GREASE values is not" in result.detail
    finding = next(f for f in report.findings if f.id == "grease.intolerant")
    assert "RFC 8701" in (finding.fix or "")


def test_a_middlebox_that_caps_the_hello_size_is_reported(
    size_capped_middlebox: str, intolerant_middlebox: str, tls12_13: Server, certs: Certs
) -> None:
    capped = audit(size_capped_middlebox, certs.ca, probes=("grease",))
    result = _grease(capped)
    assert result.tolerant is True and result.large_hello is False, result
    assert f"padded to {LARGE_HELLO} bytes" in result.large_hello_detail
    finding = next(f for f in capped.findings if f.id == "hello.size_intolerant")
    assert "X25519MLKEM768" in finding.fix
    # The GREASE-dropping box and s_server itself answer the large hello.
    for target in (intolerant_middlebox, tls12_13):
        report = audit(target, certs.ca, probes=("grease",))
        assert _grease(report).large_hello is True
        assert "hello.size_intolerant" not in {f.id for f in report.findings}
