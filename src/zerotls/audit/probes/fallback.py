"""TLS_FALLBACK_SCSV (RFC 7507): does the server refuse a downgraded retry? (two connections)

The first hello lists every version, so the server answers with its highest. The second offers
the version just below it, with TLS_FALLBACK_SCSV, as a browser retrying after a failed
handshake would: a server that honours the signal answers ``inappropriate_fallback``.
"""

from __future__ import annotations

from zerotls._wire.alerts import AlertDescription
from zerotls._wire.handshake import ProtocolVersion
from zerotls._wire.suites import TLS13_SUITES, suites_for_version
from zerotls.audit.conversation import FirstFlight
from zerotls.audit.model import FallbackResult
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register
from zerotls.audit.probes.protocols import raw_hello_job

__all__ = ["FallbackProbe"]

_ALL_VERSIONS = (0x0304, 0x0303, 0x0302, 0x0301, 0x0300)


@register
class FallbackProbe(Probe):
    name = "fallback"
    title = "Downgrade protection (TLS_FALLBACK_SCSV)"
    cli_help = "TLS_FALLBACK_SCSV, which stops forced protocol downgrades (two connections)"

    def failed(self, reason: str) -> FallbackResult:
        return FallbackResult(None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        suites = list(TLS13_SUITES) + list(suites_for_version(ProtocolVersion.TLSv1_2))
        first = raw_hello_job(
            ctx,
            "highest version",
            ProtocolVersion.TLSv1_3,
            suites,
            supported_versions=_ALL_VERSIONS,
            key_share_groups=None,
        )
        (flight,) = yield [first]
        if not isinstance(flight, FirstFlight) or flight.server_hello is None:
            reason = flight.describe_refusal() if isinstance(flight, FirstFlight) else flight
            return FallbackResult(None, error=f"no handshake to start from ({reason})")
        highest = flight.server_hello.selected_version
        if highest <= ProtocolVersion.SSLv3:
            return FallbackResult(None, detail="SSLv3 is the highest version: nothing below it")
        lower = highest - 1
        second = raw_hello_job(
            ctx,
            "fallback",
            lower,
            list(suites_for_version(lower)),
            fallback_scsv=True,
        )
        (retry,) = yield [second]
        names = {v.value: v.label for v in ProtocolVersion}
        if not isinstance(retry, FirstFlight):
            return FallbackResult(None, error=str(retry.reason))
        if retry.alert is not None and retry.alert.description == (
            AlertDescription.inappropriate_fallback
        ):
            return FallbackResult(
                True, detail=f"a {names[lower]} retry was refused (inappropriate_fallback)"
            )
        if retry.server_hello is not None and retry.server_hello.selected_version == lower:
            return FallbackResult(
                False, detail=f"a {names[lower]} retry with the SCSV was accepted"
            )
        return FallbackResult(
            None,
            detail=f"the server speaks only {names.get(highest, hex(highest))} "
            f"({retry.describe_refusal()} to {names[lower]}): no downgrade is possible",
        )
