"""Client certificates: does the server ask for one, require it, and from which CAs?

The first thing an operator auditing a zero-trust endpoint wants to know. One full handshake
per version (TLS 1.3, then TLS 1.2) with the bundled OpenSSL and no client certificate of
ours; OpenSSL's message callback reports every handshake message received, so a
CertificateRequest is seen even in TLS 1.3, where it is encrypted. Required: the TLS 1.2
handshake fails after the request, or the TLS 1.3 server sends ``certificate_required``
after our (empty) Certificate. Two connections.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from zerotls.audit.conversation import HandshakeOutcome, openssl_handshake, send_application_data
from zerotls.audit.model import ClientAuthResult, ClientAuthVersion
from zerotls.audit.probes.base import JobFailed, Probe, ProbeContext, ProbeFlow, register

__all__ = ["ClientAuthProbe"]


def _verdict(conn: Any) -> Generator[Any, Any, dict[str, Any]]:
    """Wait a moment on the open connection: a TLS 1.3 server that requires a certificate
    says ``certificate_required`` right after our Finished."""
    yield from send_application_data(conn, b"", wait=1.0, limit=1)
    return {}


@register
class ClientAuthProbe(Probe):
    name = "client-auth"
    title = "Client certificates"
    cli_help = (
        "whether the server asks for or requires a client certificate, and which CAs it "
        "names (two connections)"
    )

    def failed(self, reason: str) -> ClientAuthResult:
        return ClientAuthResult(error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        from OpenSSL import SSL

        sni = ctx.target.sni
        jobs = [
            ctx.job(
                "client-auth TLS 1.3",
                lambda: openssl_handshake(sni, watch_client_auth=True, after=_verdict),
            ),
            ctx.job(
                "client-auth TLS 1.2",
                lambda: openssl_handshake(
                    sni, max_version=SSL.TLS1_2_VERSION, watch_client_auth=True
                ),
            ),
        ]
        outcomes = yield jobs
        versions = []
        for label, outcome in zip(("TLS 1.3", "TLS 1.2"), outcomes, strict=True):
            versions.append(_judge(label, outcome))
        return ClientAuthResult(tuple(versions))


def _judge(label: str, outcome: Any) -> ClientAuthVersion:
    if isinstance(outcome, JobFailed) or not isinstance(outcome, HandshakeOutcome):
        return ClientAuthVersion(label, None, detail=str(getattr(outcome, "reason", outcome)))
    if outcome.ok and outcome.version != label:
        return ClientAuthVersion(label, None, detail=f"the server chose {outcome.version}")
    requested = bool(outcome.certificate_request)
    if not requested:
        if not outcome.ok:
            return ClientAuthVersion(label, None, detail=outcome.error or "handshake failed")
        return ClientAuthVersion(label, False, False)
    if not outcome.ok:
        required, detail = True, outcome.error or "refused without a certificate"
    else:
        error = str(outcome.extra.get("error", ""))
        required = "certificate required" in error or "handshake failure" in error
        detail = error
    return ClientAuthVersion(label, True, required, outcome.client_ca, detail)
