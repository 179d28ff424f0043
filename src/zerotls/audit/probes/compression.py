"""TLS compression (CRIME): offer DEFLATE before null in one raw hello (one connection)."""

from __future__ import annotations

from zerotls._wire.handshake import ProtocolVersion
from zerotls._wire.suites import suites_for_version
from zerotls.audit.conversation import FirstFlight
from zerotls.audit.model import CompressionResult
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register
from zerotls.audit.probes.protocols import raw_hello_job

__all__ = ["CompressionProbe"]


@register
class CompressionProbe(Probe):
    name = "compression"
    title = "TLS compression"
    cli_help = "TLS-level compression, which leaks secrets (CRIME) (one connection)"

    def failed(self, reason: str) -> CompressionResult:
        return CompressionResult(None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        job = raw_hello_job(
            ctx,
            "compression",
            ProtocolVersion.TLSv1_2,
            list(suites_for_version(ProtocolVersion.TLSv1_2)),
            compression=True,
        )
        (flight,) = yield [job]
        if not isinstance(flight, FirstFlight):
            return CompressionResult(None, error=str(flight.reason))
        if flight.server_hello is None:
            # TLS 1.3 removed compression (RFC 8446 §4.1.2): a 1.3-only server cannot have it.
            return CompressionResult(False, error=None)
        return CompressionResult(flight.server_hello.compression_method == 1)
