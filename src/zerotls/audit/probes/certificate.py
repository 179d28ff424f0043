"""The certificate chain, its OCSP staple and pins (two connections, side by side).

One connection completes a real handshake with the engine (TLS 1.2 or 1.3: the only way to see
a TLS 1.3 certificate, which is encrypted); the other sends a raw TLS 1.2 hello, which also
reaches servers too old for the engine and shows the chain as sent. The engine's chain wins
when both succeed. Verdicts come from :func:`zerotls.audit.certs.analyze_chain`.
"""

from __future__ import annotations

import datetime as dt

from zerotls._wire.handshake import ExtensionType, ProtocolVersion
from zerotls._wire.suites import suites_for_version
from zerotls.audit.certs import analyze_chain, load_trust_store
from zerotls.audit.conversation import FirstFlight, HandshakeOutcome, openssl_handshake
from zerotls.audit.model import CertificateResult
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register
from zerotls.audit.probes.protocols import raw_hello_job

__all__ = ["CertificateProbe"]

_LABELS = {0x0300: "SSLv3", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2"}


@register
class CertificateProbe(Probe):
    name = "certificate"
    title = "Certificate"
    cli_help = (
        "the chain against the trust store (or --ca): expiry, name, trust, completeness, "
        "key, SHA-1, must-staple, SCTs, the OCSP staple, --pin drift (two connections)"
    )

    def failed(self, reason: str) -> CertificateResult:
        return CertificateResult(error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        sni = ctx.target.sni
        engine = ctx.job("certificate (engine)", lambda: openssl_handshake(sni))
        raw = raw_hello_job(
            ctx,
            "certificate (raw)",
            ProtocolVersion.TLSv1_2,
            list(suites_for_version(ProtocolVersion.TLSv1_2)),
        )
        full, flight = yield [engine, raw]
        ders: tuple[bytes, ...] = ()
        staple: bytes | None = None
        sct_extension: bytes | None = None
        version: str | None = None
        errors: list[str] = []
        if isinstance(full, HandshakeOutcome) and full.ok and full.chain:
            ders, staple, version = full.chain, full.ocsp_response, full.version
        elif isinstance(full, HandshakeOutcome):
            errors.append(f"handshake: {full.error}")
        else:
            errors.append(f"handshake: {getattr(full, 'reason', full)}")
        if isinstance(flight, FirstFlight) and flight.certificates:
            if not ders:
                ders = flight.certificates
                version = _LABELS.get(flight.version or 0)
            if staple is None and flight.ocsp_response and flight.certificates == ders:
                staple = flight.ocsp_response
            if flight.server_hello is not None and flight.certificates == ders:
                sct_extension = flight.server_hello.extension(
                    ExtensionType.signed_certificate_timestamp
                )
        elif isinstance(flight, FirstFlight):
            errors.append(f"raw hello: {flight.describe_refusal()}")
        if not ders:
            return CertificateResult(error="no certificate obtained (" + "; ".join(errors) + ")")
        options = ctx.options
        now = options.now or dt.datetime.now(dt.UTC)
        hostname = ctx.target.sni or ctx.target.host
        return analyze_chain(
            ders,
            hostname=hostname,
            store=load_trust_store(options.ca_file),
            now=now,
            warn_days=options.warn_days,
            pins=options.pins,
            ocsp_response=staple,
            version=version,
            sct_extension=sct_extension,
        )
