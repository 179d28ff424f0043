"""Session resumption by session ID and by ticket (four connections, two at a time).

Each mechanism takes two engine handshakes: the first obtains a session, the second offers it
back and checks whether the server resumed it. Session IDs are tested with TLS 1.2 and tickets
off; tickets at the highest version (with TLS 1.3, the ticket arrives after the handshake, so
the probe waits briefly for it). A TLS 1.3 ticket also says how much 0-RTT early data the
server accepts with it (its early_data extension), which is reported: early data can be
replayed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from typing import Any

from zerotls.audit.conversation import Conversation, HandshakeOutcome, Recv, openssl_handshake
from zerotls.audit.model import ResumptionResult
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register

__all__ = ["ResumptionProbe"]

_TICKET_WAIT = 0.25
"""Seconds to wait for a TLS 1.3 NewSessionTicket; servers send it right after Finished."""


def _collect_ticket(conn: Any) -> Generator[bytes | Recv, bytes | None, dict[str, Any]]:
    from OpenSSL import SSL

    if conn.get_protocol_version_name() != "TLSv1.3":
        return {}
    data = yield Recv(_TICKET_WAIT)
    if data:
        conn.bio_write(data)
        with contextlib.suppress(SSL.WantReadError, SSL.ZeroReturnError):
            conn.recv(1)
    return {}


def _resume(
    sni: str | None, first: HandshakeOutcome
) -> Callable[[], Conversation[HandshakeOutcome]]:
    return lambda: openssl_handshake(sni, resume=first)


@register
class ResumptionProbe(Probe):
    name = "resumption"
    title = "Session resumption"
    cli_help = "session resumption by session ID and by ticket (four connections)"

    def failed(self, reason: str) -> ResumptionResult:
        return ResumptionResult(None, None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        from OpenSSL import SSL

        sni = ctx.target.sni
        by_id = ctx.job(
            "session id",
            lambda: openssl_handshake(sni, max_version=SSL.TLS1_2_VERSION, tickets=False),
        )
        by_ticket = ctx.job("ticket", lambda: openssl_handshake(sni, after=_collect_ticket))
        first_id, first_ticket = yield [by_id, by_ticket]
        jobs = []
        kinds = []
        for kind, first in (("id", first_id), ("ticket", first_ticket)):
            if isinstance(first, HandshakeOutcome) and first.ok and first.session is not None:
                jobs.append(ctx.job(f"resume {kind}", _resume(sni, first)))
                kinds.append(kind)
        results: dict[str, bool | None] = {"id": None, "ticket": None}
        if jobs:
            outcomes = yield jobs
            for kind, outcome in zip(kinds, outcomes, strict=True):
                if isinstance(outcome, HandshakeOutcome) and outcome.ok:
                    results[kind] = outcome.reused
        error = None
        if not kinds:
            error = "no handshake completed with the engine"
        early = None
        if (
            isinstance(first_ticket, HandshakeOutcome)
            and first_ticket.ok
            and first_ticket.version == "TLS 1.3"
            and first_ticket.session is not None
        ):
            from zerotls.tls._ossl import session_max_early_data

            early = session_max_early_data(first_ticket.session)
        return ResumptionResult(results["id"], results["ticket"], error=error, max_early_data=early)
