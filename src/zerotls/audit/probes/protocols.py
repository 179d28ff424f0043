"""Protocol versions SSLv2 to TLS 1.3, and the cipher suites each accepts, in server order.

Enumeration takes few connections: per version, offer every suite not yet seen; the server
picks one (that is one accepted suite, and, when the server imposes its order, the next in its
preference); remove it and offer the rest again, until the server refuses. A version costs
``accepted + 1`` connections, plus one to tell server preference from client preference (offer
the accepted suites in reverse: a server with its own order still picks the same first suite).
All versions run side by side. The first hello of each version also answers "is this version
spoken?": a server that replies with a lower version, an alert or silence does not speak it.
"""

from __future__ import annotations

from typing import Any

from zerotls._wire.handshake import ProtocolVersion, build_client_hello
from zerotls._wire.suites import (
    GROUPS,
    SSL2_CIPHER_KINDS,
    suite_info,
    suites_for_version,
)
from zerotls.audit.conversation import FirstFlight, SSL2Outcome, hello_exchange, sslv2_exchange
from zerotls.audit.model import ProtocolsResult, SuiteResult, VersionResult
from zerotls.audit.probes.base import Job, JobFailed, Probe, ProbeContext, ProbeFlow, register

__all__ = ["ProtocolsProbe", "raw_hello_job", "suite_result"]

TLS_VERSIONS: tuple[int, ...] = (
    ProtocolVersion.SSLv3,
    ProtocolVersion.TLSv1_0,
    ProtocolVersion.TLSv1_1,
    ProtocolVersion.TLSv1_2,
    ProtocolVersion.TLSv1_3,
)


def _preferred_first(codes: tuple[int, ...]) -> list[int]:
    """Order our offer like a modern client: AEAD with forward secrecy first, broken last.

    Against a server that follows the client's order, this makes the first suite found the
    one a modern client would get.
    """

    def rank(code: int) -> tuple[int, int, int]:
        info = suite_info(code)
        return (info.insecure, info.weak, -(info.forward_secrecy * 2 + info.aead))

    return sorted(codes, key=rank)


def raw_hello_job(
    ctx: ProbeContext, label: str, version: int, suites: list[int], **kwargs: Any
) -> Job[FirstFlight]:
    """A job sending one of our ClientHellos (every group offered) and reading the flight."""
    sni = ctx.target.sni
    groups = kwargs.pop("groups", list(GROUPS))
    record_version = 0x0300 if version == ProtocolVersion.SSLv3 else 0x0301

    def conversation() -> Any:
        hello = build_client_hello(version, suites, server_name=sni, groups=groups, **kwargs)
        return hello_exchange(hello, record_version=record_version)

    return ctx.job(label, conversation)


def _suite_result(code: int, flight: FirstFlight) -> SuiteResult:
    selected = None
    if suite_info(code).tls13 and flight.server_hello is not None:
        selected = flight.server_hello.selected_group
    return suite_result(code, flight.key_exchange, selected)


def group_name(code: int) -> str:
    g = GROUPS.get(code)
    return g.name if g else f"0x{code:04x}"


def suite_result(code: int, ske: Any, selected_group: int | None = None) -> SuiteResult:
    """A suite the server accepted, with the group or DH size its key exchange showed
    (``ske``: the parsed ServerKeyExchange; ``selected_group``: TLS 1.3's key share)."""
    info = suite_info(code)
    group = dh_bits = None
    if ske is not None and ske.group is not None:
        group = group_name(ske.group)
    if ske is not None and ske.dh_prime_bits is not None:
        dh_bits = ske.dh_prime_bits
    if selected_group is not None:
        group = group_name(selected_group)
    return SuiteResult(
        code=code,
        name=info.name,
        openssl_name=info.openssl_name,
        bits=info.bits,
        kex=info.kex,
        forward_secrecy=info.forward_secrecy,
        aead=info.aead,
        insecure=info.insecure,
        weak=info.weak,
        group=group,
        dh_bits=dh_bits,
    )


@register
class ProtocolsProbe(Probe):
    name = "protocols"
    title = "Protocols and cipher suites"
    cli_help = (
        "SSLv2 to TLS 1.3 and every cipher suite each accepts, in the server's order "
        "(raw hellos: one connection per accepted suite, plus one per version)"
    )

    def failed(self, reason: str) -> ProtocolsResult:
        return ProtocolsResult(versions=(), error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        connections = 0
        remaining: dict[int, list[int]] = {
            v: _preferred_first(suites_for_version(v)) for v in TLS_VERSIONS
        }
        accepted: dict[int, list[SuiteResult]] = {v: [] for v in TLS_VERSIONS}
        status: dict[int, bool | None] = dict.fromkeys(TLS_VERSIONS)
        errors: dict[int, str] = {}
        active: list[int] = list(TLS_VERSIONS)
        sslv2: SSL2Outcome | JobFailed | None = None
        first_round = True
        while active:
            jobs: list[Job[Any]] = [
                raw_hello_job(ctx, f"{ProtocolVersion(v).label} suites", v, remaining[v])
                for v in active
            ]
            if first_round:
                jobs.append(ctx.job("SSLv2 hello", sslv2_exchange))
            outcomes = yield jobs
            connections += len(jobs)
            if first_round:
                sslv2 = outcomes.pop()
            still: list[int] = []
            for version, outcome in zip(active, outcomes, strict=True):
                verdict = self._step(version, outcome, remaining[version], accepted[version])
                if isinstance(verdict, str):
                    if first_round:
                        # Silence may be a slow server: only a timeout leaves it undecided.
                        status[version] = None if verdict.startswith("!timeout") else False
                    if verdict.startswith("!"):
                        errors[version] = verdict.lstrip("!")
                    continue
                status[version] = True
                if remaining[version]:
                    still.append(version)
            active = still
            first_round = False

        # Server preference: offer what was accepted, reversed.
        preference: dict[int, bool | None] = dict.fromkeys(TLS_VERSIONS)
        multi = [v for v in TLS_VERSIONS if len(accepted[v]) >= 2]
        if multi:
            jobs = [
                raw_hello_job(
                    ctx,
                    f"{ProtocolVersion(v).label} preference",
                    v,
                    [s.code for s in reversed(accepted[v])],
                )
                for v in multi
            ]
            outcomes = yield jobs
            connections += len(jobs)
            for version, outcome in zip(multi, outcomes, strict=True):
                hello = outcome.server_hello if isinstance(outcome, FirstFlight) else None
                if hello is not None and hello.selected_version == version:
                    preference[version] = hello.cipher_suite == accepted[version][0].code
        versions = [self._sslv2(sslv2)]
        for v in TLS_VERSIONS:
            versions.append(
                VersionResult(
                    version=ProtocolVersion(v).label,
                    code=v,
                    supported=status[v],
                    suites=tuple(accepted[v]),
                    server_preference=preference[v],
                    error=errors.get(v),
                )
            )
        return ProtocolsResult(versions=tuple(versions), connections=connections)

    @staticmethod
    def _step(
        version: int, outcome: Any, remaining: list[int], accepted: list[SuiteResult]
    ) -> str | None:
        """Fold one answer in; a string says why enumeration of ``version`` stops
        (prefixed with ``!`` when the answer was not a clean refusal)."""
        if isinstance(outcome, JobFailed):
            return "!" + outcome.reason
        flight: FirstFlight = outcome
        hello = flight.server_hello
        if hello is None:
            return flight.describe_refusal()
        if hello.selected_version != version:
            return f"server answered with version {hello.selected_version:#06x}"
        if hello.cipher_suite not in remaining:
            # RFC 5246 §7.4.1.3: the suite must be one the client offered.
            return f"!server chose suite {hello.cipher_suite:#06x}, which was not offered"
        remaining.remove(hello.cipher_suite)
        accepted.append(_suite_result(hello.cipher_suite, flight))
        return None

    @staticmethod
    def _sslv2(outcome: SSL2Outcome | JobFailed | None) -> VersionResult:
        if isinstance(outcome, SSL2Outcome) and outcome.supported:
            suites = tuple(
                SuiteResult(
                    code=k,
                    name=SSL2_CIPHER_KINDS[k].name if k in SSL2_CIPHER_KINDS else f"0x{k:06x}",
                    openssl_name=None,
                    bits=SSL2_CIPHER_KINDS[k].bits if k in SSL2_CIPHER_KINDS else 0,
                    kex="RSA",
                    forward_secrecy=False,
                    aead=False,
                    insecure=True,
                    weak=True,
                )
                for k in outcome.cipher_kinds
            )
            return VersionResult("SSLv2", 0x0002, True, suites)
        if isinstance(outcome, JobFailed):
            # A modern server often just resets an SSLv2 hello: that is a refusal too.
            return VersionResult("SSLv2", 0x0002, False, error=None)
        return VersionResult("SSLv2", 0x0002, False)
