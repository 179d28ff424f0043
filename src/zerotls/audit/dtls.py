"""Auditing DTLS endpoints: versions, suites, cookies (amplification) and the certificate.

``zerotls audit dtls://HOST:PORT`` (or ``--dtls``) speaks DTLS 1.0 and 1.2 (RFC 4347, RFC
6347) over UDP with the raw codec: every ClientHello is ours, so any version and suite can be
offered and the server's answer is read as it is, with no DTLS library in between.

Theory of operation. One probe is a handshake started and abandoned: send a ClientHello,
read the server's flight (datagrams until ServerHelloDone, an alert or silence), reassemble
its handshake fragments by message sequence, then send a fatal ``user_canceled`` alert so the
server drops the half-open association at once (many servers serve one at a time). RFC 6347
§4.2.1 lets a server answer an unverified ClientHello with a small HelloVerifyRequest
carrying a cookie, which the client must echo: a server that sends its whole flight
(certificates included) to any source address instead is a reflection amplifier, and the
first probe of each version measures that ratio. A HelloVerifyRequest is answered with the
cookie, once.

Per version, suites are enumerated as for TLS: offer everything not yet seen, the server
picks one, remove it, until it refuses (bounded by ``MAX_PROBES``). The findings and the
grade are the TLS auditor's (:mod:`zerotls.audit.findings`, :mod:`zerotls.audit.grading`):
DTLS 1.0 is TLS 1.1's record layer and is judged like it; DTLS 1.2 like TLS 1.2.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from zerotls._wire.dtls import split_records_untrusted
from zerotls._wire.handshake import (
    ProtocolVersion,
    build_client_hello,
    pull_certificate_untrusted,
    pull_server_hello_untrusted,
    pull_server_key_exchange_untrusted,
    push_client_hello,
)
from zerotls._wire.suites import GROUPS, suite_info, suites_for_version
from zerotls.audit.certs import analyze_chain, load_trust_store
from zerotls.audit.findings import findings_for
from zerotls.audit.grading import grade
from zerotls.audit.model import (
    DTLSCookieResult,
    ProtocolsResult,
    SuiteResult,
    Target,
    TargetReport,
    VersionResult,
)
from zerotls.audit.probes.protocols import suite_result
from zerotls.errors import DecodeError

__all__ = ["DTLS_VERSIONS", "audit_dtls"]

DTLS_VERSIONS: Final = {0xFEFF: "DTLS 1.0", 0xFEFD: "DTLS 1.2"}
"""Wire code to name, oldest first."""
_TLS_EQUIVALENT: Final = {0xFEFF: ProtocolVersion.TLSv1_1, 0xFEFD: ProtocolVersion.TLSv1_2}

MAX_PROBES: Final = 40
"""Handshakes per version at most (suite enumeration)."""
_HS_HEADER: Final = 12
_HELLO_VERIFY_REQUEST: Final = 3
_SERVER_HELLO: Final = 2
_CERTIFICATE: Final = 11
_SERVER_KEY_EXCHANGE: Final = 12
_SERVER_HELLO_DONE: Final = 14


@dataclass(slots=True)
class Flight:
    """What the server sent back to one ClientHello."""

    messages: dict[int, bytes] = field(default_factory=dict)
    """Handshake type to reassembled body (the first of each type)."""
    alert: tuple[int, int] | None = None
    bytes_received: int = 0
    datagrams: int = 0
    record_version: int | None = None

    @property
    def cookie(self) -> bytes | None:
        body = self.messages.get(_HELLO_VERIFY_REQUEST)
        if body is None or len(body) < 3:
            return None
        n = body[2]
        return body[3 : 3 + n]


class _Association:
    """One client port, its record sequence numbers and its handshake message sequence."""

    def __init__(self, address: tuple[str, int], timeout: float) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.timeout = timeout
        self.record_seq = 0
        self.message_seq = 0

    def close(self) -> None:
        self.sock.close()

    def record(self, content_type: int, payload: bytes, version: int = 0xFEFF) -> bytes:
        header = bytes((content_type,)) + version.to_bytes(2, "big") + b"\x00\x00"
        header += self.record_seq.to_bytes(6, "big") + len(payload).to_bytes(2, "big")
        self.record_seq += 1
        return header + payload

    def hello(self, version: int, suites: list[int], cookie: bytes, random: bytes) -> bytes:
        """A DTLS ClientHello record: the TLS body with the cookie after the session id."""
        tls = push_client_hello(
            build_client_hello(
                _TLS_EQUIVALENT[version],
                suites,
                groups=[g for g in GROUPS if GROUPS[g].kind == "ec"],
                heartbeat=False,
                session_ticket=False,
                random=random,
            )
        )[4:]
        # version(2) random(32) session_id<1>; DTLS puts cookie<1> right after it.
        cut = 35 + tls[34]
        body = version.to_bytes(2, "big") + tls[2:cut]
        body += bytes((len(cookie),)) + cookie + tls[cut:]
        header = bytes((1,)) + len(body).to_bytes(3, "big")
        header += (
            self.message_seq.to_bytes(2, "big") + b"\x00\x00\x00" + len(body).to_bytes(3, "big")
        )
        self.message_seq += 1
        return self.record(22, header + body)

    def exchange(self, datagram: bytes) -> tuple[int, Flight]:
        """Send one datagram; read the answer until ServerHelloDone, an alert or silence."""
        self.sock.send(datagram)
        flight = Flight()
        fragments: dict[int, tuple[int, bytearray, set[tuple[int, int]]]] = {}
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionRefusedError:
                flight.alert = flight.alert or (0, 0)
                break
            flight.bytes_received += len(data)
            flight.datagrams += 1
            try:
                records = split_records_untrusted(data)
            except DecodeError:
                break
            for rec in records:
                ctype = rec[0]
                flight.record_version = int.from_bytes(rec[1:3], "big")
                payload = rec[13:]
                if ctype == 21 and len(payload) >= 2:
                    flight.alert = (payload[0], payload[1])
                elif ctype == 22 and rec[3:5] == b"\x00\x00":
                    _reassemble(payload, fragments, flight)
            if flight.alert or any(
                t in flight.messages for t in (_SERVER_HELLO_DONE, _HELLO_VERIFY_REQUEST)
            ):
                break
        return len(datagram), flight

    def cancel(self, version: int) -> None:
        """Abandon the handshake: a fatal user_canceled alert (epoch 0), in the version the
        server answered with, so that it drops the association at once."""
        with contextlib.suppress(OSError):
            self.sock.send(self.record(21, b"\x02\x5a", version))


def _reassemble(
    payload: bytes,
    fragments: dict[int, tuple[int, bytearray, set[tuple[int, int]]]],
    flight: Flight,
) -> None:
    pos = 0
    while pos + _HS_HEADER <= len(payload):
        msg_type = payload[pos]
        length = int.from_bytes(payload[pos + 1 : pos + 4], "big")
        seq = int.from_bytes(payload[pos + 4 : pos + 6], "big")
        offset = int.from_bytes(payload[pos + 6 : pos + 9], "big")
        frag_len = int.from_bytes(payload[pos + 9 : pos + 12], "big")
        chunk = payload[pos + _HS_HEADER : pos + _HS_HEADER + frag_len]
        pos += _HS_HEADER + frag_len
        if length > 2**17 or offset + len(chunk) > length:
            return
        kind, buf, got = fragments.setdefault(seq, (msg_type, bytearray(length), set()))
        buf[offset : offset + len(chunk)] = chunk
        got.add((offset, offset + len(chunk)))
        covered = 0
        for start, end in sorted(got):
            if start > covered:
                break
            covered = max(covered, end)
        if covered >= length and kind not in flight.messages:
            flight.messages[kind] = bytes(buf)


@dataclass(frozen=True, slots=True)
class _Probe:
    sent: int
    flight: Flight
    verified: Flight | None
    """The flight after echoing the cookie (None: no HelloVerifyRequest came)."""

    @property
    def answer(self) -> Flight:
        return self.verified or self.flight


RETRANSMISSIONS: Final = 2
"""A hello met by silence is sent again this many times (RFC 6347 §4.2.4: DTLS loses
datagrams, and a server that serves one association at a time may still be busy)."""


def _probe(address: tuple[str, int], version: int, suites: list[int], timeout: float) -> _Probe:
    assoc = _Association(address, timeout)
    try:
        random = os.urandom(32)
        hello = assoc.hello(version, suites, b"", random)
        sent, flight = assoc.exchange(hello)
        for _ in range(RETRANSMISSIONS):
            if flight.datagrams or flight.alert:
                break
            sent, flight = assoc.exchange(hello)
        verified = None
        if flight.cookie is not None:
            again = assoc.hello(version, suites, flight.cookie, random)
            _, verified = assoc.exchange(again)
            for _ in range(RETRANSMISSIONS):
                if verified.datagrams or verified.alert:
                    break
                _, verified = assoc.exchange(again)
        answer = verified or flight
        assoc.cancel(answer.record_version or version)
        return _Probe(sent, flight, verified)
    finally:
        assoc.close()


def _suite(code: int, flight: Flight) -> SuiteResult:
    ske = None
    body = flight.messages.get(_SERVER_KEY_EXCHANGE)
    kex = suite_info(code).kex
    if body is not None and kex in ("ECDHE", "DHE"):
        with contextlib.suppress(DecodeError, TypeError):
            ske = pull_server_key_exchange_untrusted(body, kex)
    return suite_result(code, ske)


def audit_dtls(
    target: Target, *, timeout: float = 1.0, ca_file: Path | None = None
) -> TargetReport:
    """Audit one DTLS endpoint (blocking; UDP to ``target``).

    Args:
        target: the endpoint (its ``dtls`` flag is not needed here).
        timeout: seconds to wait for each flight.
        ca_file: trust these CA certificates instead of the system store.
    """
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    try:
        info = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        return _failed(target, started, t0, f"cannot resolve {target.host}: {exc.strerror}")
    address = (str(info[0][4][0]), int(info[0][4][1]))
    connections = 0
    cookie: DTLSCookieResult | None = None
    chain: tuple[bytes, ...] = ()
    found: dict[int, VersionResult] = {}
    # Newest first: some servers (GnuTLS's) ignore a client's alert in mid-handshake and stay
    # busy with the abandoned association until their own timeout; the version that matters
    # most is then the one that got through.
    for code, name in reversed(DTLS_VERSIONS.items()):
        remaining = [
            c for c in suites_for_version(_TLS_EQUIVALENT[code]) if "RC4" not in suite_info(c).name
        ]
        accepted: list[SuiteResult] = []
        supported: bool | None = None
        error = None
        while remaining and connections < MAX_PROBES * len(DTLS_VERSIONS):
            probe = _probe(address, code, remaining, timeout)
            connections += 1
            flight = probe.answer
            if cookie is None and (probe.flight.datagrams or probe.flight.alert):
                cookie = _cookie_result(probe)
            body = flight.messages.get(_SERVER_HELLO)
            if body is None:
                if supported is None and flight.datagrams:
                    supported = False  # an alert or a HelloVerifyRequest loop: refused
                elif supported is None:
                    error = (
                        f"no answer after {1 + RETRANSMISSIONS} tries (a server still busy "
                        "with an abandoned handshake answers nobody else)"
                    )
                break
            try:
                hello = pull_server_hello_untrusted(body)
            except DecodeError as exc:
                error = f"unreadable ServerHello: {exc}"
                break
            if hello.legacy_version != code:
                supported = supported or False
                break
            supported = True
            if hello.cipher_suite not in remaining:
                break  # a server that picks what was not offered: stop, do not loop
            accepted.append(_suite(hello.cipher_suite, flight))
            remaining.remove(hello.cipher_suite)
            cert_body = flight.messages.get(_CERTIFICATE)
            if cert_body and not chain:
                try:
                    chain = pull_certificate_untrusted(cert_body)
                except DecodeError:
                    chain = ()
        found[code] = VersionResult(
            name, code, supported, tuple(accepted), server_preference=None, error=error
        )
    versions = [found[code] for code in DTLS_VERSIONS]
    if (
        connections
        and not any(v.supported for v in versions)
        and (cookie is None or not cookie.answered)
    ):
        return _failed(
            target, started, t0,
            f"no DTLS answer from {target.label} over UDP (nothing listens, or it is not DTLS)",
            address[0],
        )  # fmt: skip
    results: dict[str, object] = {
        "protocols": ProtocolsResult(versions=tuple(versions), connections=connections),
        "dtls_cookie": cookie,
    }
    if chain:
        results["certificate"] = analyze_chain(
            chain,
            hostname=target.sni or target.host,
            store=load_trust_store(ca_file),
            now=dt.datetime.now(dt.UTC),
            version=next((v.version for v in reversed(versions) if v.supported), None),
        )
    findings = findings_for(target, results)
    return TargetReport(
        target=target,
        address=address[0],
        started=started.isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - t0, 3),
        results=results,
        findings=findings,
        grade=grade(results, findings),
        connections=connections,
    )


def _cookie_result(probe: _Probe) -> DTLSCookieResult:
    first = probe.flight
    return DTLSCookieResult(
        answered=bool(first.datagrams),
        hello_verify_request=first.cookie is not None,
        request_bytes=probe.sent,
        response_bytes=first.bytes_received,
        amplification=round(first.bytes_received / probe.sent, 2) if probe.sent else 0.0,
        cookie_bytes=len(first.cookie or b""),
    )


def _failed(
    target: Target, started: dt.datetime, t0: float, reason: str, address: str | None = None
) -> TargetReport:
    return TargetReport(
        target=target,
        address=address,
        started=started.isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - t0, 3),
        results={},
        error=reason,
    )
