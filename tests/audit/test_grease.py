"""GREASE tolerance (RFC 8701): OpenSSL's s_server ignores the reserved values; a middlebox
in front of it that drops every hello carrying them (as broken load balancers did) is
reported, with the fix, while the ordinary hello still gets through it."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.audit.conftest import Certs, audit
from tests.peers.legacy import Server
from zerotls._wire.handshake import pull_client_hello_untrusted
from zerotls.audit.model import GreaseResult
from zerotls.audit.probes.grease import is_grease

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


@pytest.fixture
def intolerant_middlebox(tls12_13: Server) -> Iterator[str]:
    """A TCP relay to s_server that closes any connection whose ClientHello lists a GREASE
    cipher suite, and relays every other one untouched."""
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
        hello = pull_client_hello_untrusted(head[9 : 5 + int.from_bytes(head[3:5], "big")])
        if any(is_grease(s) for s in hello.cipher_suites):
            client.close()  # the broken box: an unknown value, so the connection is dropped
            return
        upstream = socket.create_connection(("127.0.0.1", tls12_13.port))
        upstream.sendall(head)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

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
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    listener.close()


def test_a_middlebox_that_drops_grease_is_reported(intolerant_middlebox: str, certs: Certs) -> None:
    report = audit(intolerant_middlebox, certs.ca, probes=("grease",))
    result = _grease(report)
    assert result.tolerant is False, result
    assert "the same hello with GREASE values is not" in result.detail
    finding = next(f for f in report.findings if f.id == "grease.intolerant")
    assert "RFC 8701" in (finding.fix or "")
