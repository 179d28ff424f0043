"""ROBOT (Return Of Bleichenbacher's Oracle Threat, 2017), by malformed RSA key exchanges.

A server that takes static RSA key exchange must answer a ClientKeyExchange the same way
whether or not its PKCS#1 v1.5 padding is valid (RFC 5246 §7.4.7.1: on bad padding, carry
on with a random premaster secret). If it answers otherwise (another alert, a close, a
silence), the difference is a padding oracle: with enough queries an attacker decrypts a
recorded session's premaster secret (no forward secrecy) or signs with the server's key.

The probe offers only static RSA suites, takes the server's RSA key from its certificate and
sends, on one connection each, five premaster secrets encrypted to it: well formed; with the
wrong first bytes; with the 0x00 separator too early (a secret of the wrong length); with no
separator at all; and well formed but with the wrong version inside. Each is followed at
once by ChangeCipherSpec and a Finished the server cannot decrypt, so a server that carries
on answers ``bad_record_mac`` to every one. Each answer is reduced to what a remote peer
sees (the alert, a close, or silence). All five alike: no oracle. If they differ, the
variants that differed are sent again; only an answer that repeats is reported, so one
lost packet or a restart cannot make a finding. TLS 1.2 and below, with static RSA only;
five connections, up to ten when the answers differ.

Building a padding that is wrong on purpose needs textbook RSA (``pow(m, e, n)``): that is
the attack's own primitive, used here only to encrypt to the server's public key.
"""

from __future__ import annotations

import os

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from zerotls._wire.alerts import alert_label
from zerotls._wire.handshake import (
    ContentType,
    HandshakeType,
    ProtocolVersion,
    build_client_hello,
    push_client_hello,
    push_handshake,
    push_record,
)
from zerotls._wire.suites import suite_info, suites_for_version
from zerotls.audit.conversation import Conversation, Recv, alerts_in, read_first_flight
from zerotls.audit.model import RobotResult
from zerotls.audit.probes.base import Job, JobFailed, Probe, ProbeContext, ProbeFlow, register
from zerotls.errors import ProbeError

__all__ = ["VARIANTS", "RobotProbe", "robot_conversation"]

VARIANTS = (
    "well formed",
    "wrong first bytes",
    "0x00 too early",
    "no 0x00 separator",
    "wrong version inside",
)
"""The premaster secrets sent, in order; the first is the reference."""
_WAIT = 3.0
"""Seconds to wait for each answer: a server that carries on answers at once."""
_CLIENT_VERSION = ProtocolVersion.TLSv1_2
NOT_APPLICABLE = "not applicable"


def _rsa_suites() -> list[int]:
    """Static RSA key exchange suites (no PSK, no export key in a ServerKeyExchange)."""
    out = []
    for code in suites_for_version(_CLIENT_VERSION):
        info = suite_info(code)
        if info.kex == "RSA" and "PSK" not in info.name and not info.export:
            out.append(code)
    return out


def _nonzero(count: int) -> bytes:
    out = bytearray()
    while len(out) < count:
        out += bytes(b for b in os.urandom(count) if b)
    return bytes(out[:count])


def premaster_block(variant: int, size: int) -> bytes:
    """The ``size``-byte PKCS#1 v1.5 block of ``variant`` (an index into :data:`VARIANTS`)."""
    secret = _CLIENT_VERSION.to_bytes(2, "big") + os.urandom(46)
    pad = _nonzero(size - 3 - len(secret))
    if variant == 0:
        return b"\x00\x02" + pad + b"\x00" + secret
    if variant == 1:
        return b"\x41\x17" + pad + b"\x00" + secret
    if variant == 2:  # the separator after 8 padding bytes: a secret far longer than 48
        return b"\x00\x02" + pad[:8] + b"\x00" + _nonzero(size - 11)
    if variant == 3:
        return b"\x00\x02" + _nonzero(size - 2)
    if variant == 4:
        return b"\x00\x02" + pad + b"\x00" + b"\x02\x02" + secret[2:]
    raise ValueError(f"no ROBOT variant {variant}")


def _answer(data: bytes | None, closed: bool) -> str:
    """What a remote peer sees, in words: the first alert, then whether it closed."""
    if data is None and not closed:
        return "silence"
    alerts = alerts_in(data or b"")
    if alerts and len(alerts[0]) == 2:
        said = f"alert {alert_label(alerts[0][1])}"
    elif alerts:
        said = "an encrypted alert"
    elif data:
        said = "records"
    else:
        said = "no alert"
    return said + (", then closed" if closed else ", then silence")


def robot_conversation(server_name: str | None, variant: int) -> Conversation[str]:
    """One malformed (or well-formed) RSA key exchange; returns the server's answer in words,
    or :data:`NOT_APPLICABLE` when the server takes no static RSA key exchange."""
    hello = build_client_hello(_CLIENT_VERSION, _rsa_suites(), server_name=server_name)
    answer = yield push_record(ContentType.handshake, push_client_hello(hello))
    flight = yield from read_first_flight(answer)
    if flight.server_hello is None and flight.timed_out:
        raise ProbeError("no answer to a ClientHello offering static RSA suites")
    if flight.server_hello is None or not flight.certificates:
        return NOT_APPLICABLE  # refused: no static RSA (or no TLS 1.2 and below)
    if not flight.done:
        raise ProbeError("the server's first flight did not end")
    key = x509.load_der_x509_certificate(flight.certificates[0]).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return NOT_APPLICABLE  # an RSA suite with another key: nothing to encrypt to
    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    block = int.from_bytes(premaster_block(variant, size), "big")
    encrypted = pow(block, numbers.e, numbers.n).to_bytes(size, "big")
    version = flight.server_hello.selected_version
    body = len(encrypted).to_bytes(2, "big") + encrypted
    flight_out = (
        push_record(
            ContentType.handshake, push_handshake(HandshakeType.client_key_exchange, body), version
        )
        + push_record(ContentType.change_cipher_spec, b"\x01", version)
        + push_record(ContentType.handshake, os.urandom(48), version)  # a Finished, undecryptable
    )
    seen = b""
    data = yield Recv(timeout=_WAIT, send=flight_out)
    while data:
        seen += data
        data = yield Recv(timeout=_WAIT)
    return _answer(seen or None, closed=data == b"")


def _seen(outcome: str | JobFailed) -> str | JobFailed:
    """A connection reset once connected is an answer too (an oracle may reset)."""
    if isinstance(outcome, JobFailed) and outcome.reason.startswith("connection failed"):
        return "connection reset"
    return outcome


@register
class RobotProbe(Probe):
    name = "robot"
    title = "ROBOT (RSA padding oracle)"
    cli_help = (
        "ROBOT: five malformed RSA key exchanges, answered alike or not "
        "(static RSA servers only; five connections, up to ten)"
    )

    def failed(self, reason: str) -> RobotResult:
        return RobotResult(None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        sni = ctx.target.sni

        def job(variant: int, attempt: int) -> Job[str]:
            return ctx.job(f"robot-{variant}-{attempt}", lambda: robot_conversation(sni, variant))

        first = [_seen(o) for o in (yield [job(v, 1) for v in range(len(VARIANTS))])]
        failed = [o for o in first if isinstance(o, JobFailed)]
        if failed:
            return RobotResult(None, error=failed[0].reason)
        answers = [str(a) for a in first]
        if NOT_APPLICABLE in answers:
            return RobotResult(False, detail="no static RSA key exchange: not applicable")
        differ = [v for v, a in enumerate(answers) if a != answers[0]]
        if not differ:
            return RobotResult(
                False, tuple(answers), f"all five key exchanges answered alike ({answers[0]})"
            )
        again = [_seen(o) for o in (yield [job(v, 2) for v in (0, *differ)])]
        if any(isinstance(o, JobFailed) for o in again):
            return RobotResult(None, tuple(answers), "the answers differed once, then a "
                               "connection failed: not confirmed")  # fmt: skip
        repeat = dict(zip((0, *differ), again, strict=True))
        if any(repeat[v] != answers[v] for v in repeat):
            return RobotResult(
                None,
                tuple(answers),
                "the answers differed, but not the same way twice: no stable oracle seen",
            )
        told = "; ".join(f"{VARIANTS[v]}: {answers[v]}" for v in differ)
        return RobotResult(
            True,
            tuple(answers),
            f"a well-formed key exchange got {answers[0]}, but {told}: the server tells "
            "valid RSA padding from invalid, a Bleichenbacher oracle",
        )
