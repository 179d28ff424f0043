"""Heartbleed (CVE-2014-0160), by a raw heartbeat request before the handshake ends.

After the server's first flight (ServerHelloDone), the probe sends a heartbeat request whose
declared payload length (16 KiB) exceeds the one byte it carries, then a fatal alert. A fixed
server discards the request silently (RFC 6520 §4) and closes on the alert; a vulnerable one
first answers with 16 KiB of its own memory. Reading until the close therefore needs no
timeout. A server that does not echo the heartbeat extension cannot be vulnerable.
One connection.
"""

from __future__ import annotations

from zerotls._wire.handshake import (
    ContentType,
    ExtensionType,
    ProtocolVersion,
    RecordReader,
    build_client_hello,
    push_alert,
    push_client_hello,
    push_heartbeat_request,
    push_record,
)
from zerotls._wire.suites import GROUPS, suites_for_version
from zerotls.audit.conversation import Conversation, Recv, read_first_flight
from zerotls.audit.model import HeartbleedResult
from zerotls.audit.probes.base import JobFailed, Probe, ProbeContext, ProbeFlow, register

__all__ = ["HeartbleedProbe", "heartbleed_conversation"]

_CLAIMED = 0x4000


def heartbleed_conversation(server_name: str | None) -> Conversation[HeartbleedResult]:
    """The whole probe on one connection."""
    hello = build_client_hello(
        ProtocolVersion.TLSv1_2,
        list(suites_for_version(ProtocolVersion.TLSv1_2)),
        server_name=server_name,
        groups=list(GROUPS),
        heartbeat=True,
    )
    answer = yield push_record(ContentType.handshake, push_client_hello(hello))
    flight = yield from read_first_flight(answer)
    sh = flight.server_hello
    if sh is None or not flight.done:
        return HeartbleedResult(
            False, error=None if sh is None else "the server's first flight did not end"
        )
    if sh.extension(ExtensionType.heartbeat) is None:
        return HeartbleedResult(False, heartbeat_extension=False)
    version = sh.selected_version
    data = yield push_heartbeat_request(b"\x01", claimed_length=_CLAIMED, version=version) + (
        push_alert(40, version=version)  # handshake_failure: we end it, the server closes
    )
    reader = RecordReader()
    received = 0
    while data:
        for record in reader.feed_untrusted(data):
            if record.content_type == ContentType.heartbeat:
                received += len(record.payload)
        if received > 3 + 1 + 16:  # more than our one byte could ever come back as
            return HeartbleedResult(True, heartbeat_extension=True, leaked_bytes=received - 4)
        data = yield Recv()
    return HeartbleedResult(False, heartbeat_extension=True)


@register
class HeartbleedProbe(Probe):
    name = "heartbleed"
    title = "Heartbleed"
    cli_help = "Heartbleed (CVE-2014-0160) with a raw over-long heartbeat (one connection)"

    def failed(self, reason: str) -> HeartbleedResult:
        return HeartbleedResult(None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        sni = ctx.target.sni
        (outcome,) = yield [ctx.job("heartbleed", lambda: heartbleed_conversation(sni))]
        if isinstance(outcome, JobFailed):
            return HeartbleedResult(None, error=outcome.reason)
        return outcome
