"""CCS injection (CVE-2014-0224), by a ChangeCipherSpec sent before any key exchange.

After the server's first flight (ServerHelloDone), the probe sends ChangeCipherSpec at once,
with no ClientKeyExchange before it. A fixed server refuses it: an ``unexpected_message``
alert, or a close. A vulnerable OpenSSL (before 1.0.1h, 1.0.0m, 0.9.8za) accepts it in
silence and switches its reading side to keys made from an empty master secret, which an
attacker in the middle can compute. A second ChangeCipherSpec shows it: the server now
tries to decrypt it and answers ``bad_record_mac`` or ``decryption_failed``. A server that
stays silent through both is reported as unknown, not as vulnerable. TLS 1.2 and below
only (TLS 1.3 has no such state). One connection.
"""

from __future__ import annotations

from zerotls._wire.handshake import (
    ContentType,
    ProtocolVersion,
    build_client_hello,
    push_client_hello,
    push_record,
)
from zerotls._wire.suites import GROUPS, suites_for_version
from zerotls.audit.conversation import Conversation, Recv, alerts_in, read_first_flight
from zerotls.audit.model import CCSInjectionResult
from zerotls.audit.probes.base import JobFailed, Probe, ProbeContext, ProbeFlow, register

__all__ = ["CCSInjectionProbe", "ccs_injection_conversation"]

_WAIT = 2.0
"""Seconds to wait for the server's answer to each ChangeCipherSpec: a refusal is
immediate, so silence this long means it was taken."""
UNEXPECTED_MESSAGE = 10
KEYED_ALERTS = {20: "bad_record_mac", 21: "decryption_failed"}


def ccs_injection_conversation(server_name: str | None) -> Conversation[CCSInjectionResult]:
    """The whole probe on one connection."""
    hello = build_client_hello(
        ProtocolVersion.TLSv1_2,
        list(suites_for_version(ProtocolVersion.TLSv1_2)),
        server_name=server_name,
        groups=list(GROUPS),
    )
    answer = yield push_record(ContentType.handshake, push_client_hello(hello))
    flight = yield from read_first_flight(answer)
    sh = flight.server_hello
    if sh is None:
        return CCSInjectionResult(False, "no TLS 1.2 or older handshake: not applicable")
    if not flight.done:
        return CCSInjectionResult(None, "the server's first flight did not end")
    version = sh.selected_version
    ccs = push_record(ContentType.change_cipher_spec, b"\x01", version)
    for attempt in (1, 2):
        data = yield Recv(timeout=_WAIT, send=ccs)
        if data == b"":
            if attempt == 1:
                return CCSInjectionResult(False, "the early ChangeCipherSpec was refused (closed)")
            return CCSInjectionResult(
                None, "the server took the early ChangeCipherSpec in silence, then closed"
            )
        if data is None:
            continue  # silence: taken, try the second one
        for alert in alerts_in(data):
            description = alert[1] if len(alert) == 2 else None
            if attempt == 1 and description == UNEXPECTED_MESSAGE:
                return CCSInjectionResult(
                    False, "the early ChangeCipherSpec was refused (unexpected_message)"
                )
            if attempt == 2 and (description in KEYED_ALERTS or len(alert) != 2):
                said = KEYED_ALERTS.get(description or -1, "an encrypted alert")
                return CCSInjectionResult(
                    True,
                    "the server took a ChangeCipherSpec before any key exchange, then failed "
                    f"to decrypt the next record ({said}): its keys came from an empty "
                    "master secret",
                )
            return CCSInjectionResult(
                False, f"the early ChangeCipherSpec was refused (alert {description})"
            )
    return CCSInjectionResult(
        None, "the server answered neither ChangeCipherSpec: neither refused nor taken"
    )


@register
class CCSInjectionProbe(Probe):
    name = "ccs"
    title = "CCS injection"
    cli_help = "CCS injection (CVE-2014-0224): an early ChangeCipherSpec (one connection)"

    def failed(self, reason: str) -> CCSInjectionResult:
        return CCSInjectionResult(None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        sni = ctx.target.sni
        (outcome,) = yield [ctx.job("ccs", lambda: ccs_injection_conversation(sni))]
        if isinstance(outcome, JobFailed):
            return CCSInjectionResult(None, error=outcome.reason)
        return outcome
