"""Secure renegotiation (RFC 5746) and client-initiated renegotiation (two connections).

Secure renegotiation support shows in one raw hello: the server echoes renegotiation_info.
Whether a *client* may start a renegotiation needs an established TLS 1.2 connection: the
engine connects, asks to renegotiate, and sees whether the server completes it or refuses
(``no_renegotiation`` alert, or closing). OpenSSL will not renegotiate with a server lacking
RFC 5746, so "insecure client-initiated renegotiation" is reported through the first check.
TLS 1.3 has no renegotiation: a TLS 1.3-only server is "not applicable".
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from zerotls._wire.handshake import ProtocolVersion
from zerotls._wire.suites import suites_for_version
from zerotls.audit.conversation import (
    FirstFlight,
    HandshakeOutcome,
    Recv,
    _pump,
    openssl_handshake,
)
from zerotls.audit.model import RenegotiationResult
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register
from zerotls.audit.probes.protocols import raw_hello_job

__all__ = ["RenegotiationProbe"]


def _renegotiate(conn: Any) -> Generator[bytes | Recv, bytes | None, dict[str, Any]]:
    from OpenSSL import SSL

    if not conn.renegotiate():
        return {"accepted": None, "error": "the engine refused to start a renegotiation"}
    try:
        yield from _pump(conn, conn.do_handshake)
    except SSL.Error as exc:
        text = str(exc)
        return {"accepted": False, "error": None if "renegotiation" in text else text}
    except EOFError:
        return {"accepted": False}
    except TimeoutError:
        return {"accepted": None, "error": "no answer to the renegotiation (timeout)"}
    return {"accepted": conn.total_renegotiations() > 0}


@register
class RenegotiationProbe(Probe):
    name = "renegotiation"
    title = "Renegotiation"
    cli_help = (
        "secure renegotiation (RFC 5746) and whether clients may start one, a DoS lever "
        "(two connections)"
    )

    def failed(self, reason: str) -> RenegotiationResult:
        return RenegotiationResult(None, None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        from OpenSSL import SSL

        sni = ctx.target.sni
        raw = raw_hello_job(
            ctx,
            "secure renegotiation",
            ProtocolVersion.TLSv1_2,
            list(suites_for_version(ProtocolVersion.TLSv1_2)),
        )
        engine = ctx.job(
            "client renegotiation",
            lambda: openssl_handshake(sni, max_version=SSL.TLS1_2_VERSION, after=_renegotiate),
        )
        flight, full = yield [raw, engine]
        if not isinstance(flight, FirstFlight) or flight.server_hello is None:
            reason = flight.describe_refusal() if isinstance(flight, FirstFlight) else flight
            return RenegotiationResult(
                None, None, error=f"not applicable: no TLS 1.2 or older handshake ({reason})"
            )
        secure = flight.server_hello.secure_renegotiation
        client: bool | None = None
        error = None
        if isinstance(full, HandshakeOutcome) and full.ok:
            client = full.extra.get("accepted")
            error = full.extra.get("error")
        elif isinstance(full, HandshakeOutcome):
            error = f"could not complete a TLS 1.2 handshake: {full.error}"
        return RenegotiationResult(secure, client if secure else None, error=error)
