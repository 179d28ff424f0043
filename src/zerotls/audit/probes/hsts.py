"""HTTP Strict Transport Security on HTTPS endpoints (one connection: a GET over TLS)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from zerotls.audit.conversation import (
    HandshakeOutcome,
    Recv,
    openssl_handshake,
    send_application_data,
)
from zerotls.audit.model import HSTSResult
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register

__all__ = ["HSTSProbe", "parse_hsts"]

_MAX_HEAD = 32 * 1024
_HTTPS_PORTS = (443, 8443)


def parse_hsts(value: str) -> tuple[int | None, bool, bool]:
    """``max-age``, ``includeSubDomains`` and ``preload`` of an HSTS header (RFC 6797 §6.1)."""
    max_age = None
    subdomains = preload = False
    for part in value.split(";"):
        key, _, arg = part.strip().partition("=")
        key = key.strip().lower()
        if key == "max-age":
            digits = arg.strip().strip('"')
            max_age = int(digits) if digits.isdigit() else None
        elif key == "includesubdomains":
            subdomains = True
        elif key == "preload":
            preload = True
    return max_age, subdomains, preload


def _get(host: str) -> Any:
    def after(conn: Any) -> Generator[bytes | Recv, bytes | None, dict[str, Any]]:
        request = (
            f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: zerotls-audit\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n"
        ).encode()
        response = yield from send_application_data(conn, request, limit=_MAX_HEAD)
        return {"response": response}

    return after


@register
class HSTSProbe(Probe):
    name = "hsts"
    title = "HTTP Strict Transport Security"
    cli_help = (
        "the Strict-Transport-Security header, on ports 443/8443 and https:// targets "
        "(one connection)"
    )

    def failed(self, reason: str) -> HSTSResult:
        return HSTSResult(None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        if ctx.target.starttls is not None:
            return HSTSResult(None, error=f"not applicable to {ctx.target.starttls}")
        if not (ctx.target.https or ctx.target.port in _HTTPS_PORTS):
            # Waiting for an HTTP answer from a service that is not HTTP would cost a whole
            # timeout; only ask where HTTPS is expected.
            return HSTSResult(
                None,
                error=f"not applicable: port {ctx.target.port} is not an HTTPS port "
                "(give https://HOST:PORT to check HSTS there)",
            )
        host = ctx.target.sni or ctx.target.host
        (outcome,) = yield [
            ctx.job("hsts", lambda: openssl_handshake(ctx.target.sni, after=_get(host)))
        ]
        if not isinstance(outcome, HandshakeOutcome):
            return HSTSResult(None, error=str(outcome.reason))
        if not outcome.ok:
            return HSTSResult(None, error=f"no TLS handshake with the engine: {outcome.error}")
        response: bytes = outcome.extra.get("response", b"")
        head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        if not lines or not lines[0].startswith("HTTP/"):
            return HSTSResult(
                None, error="not applicable: not an HTTP service (no HTTP response to GET /)"
            )
        status_parts = lines[0].split(" ", 2)
        status = (
            int(status_parts[1]) if len(status_parts) > 1 and status_parts[1].isdigit() else None
        )
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "strict-transport-security":
                max_age, subdomains, preload = parse_hsts(value)
                return HSTSResult(value.strip(), max_age, subdomains, preload, http_status=status)
        return HSTSResult(None, http_status=status)
