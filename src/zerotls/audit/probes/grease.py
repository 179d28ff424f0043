"""GREASE tolerance (RFC 8701): does the server ignore values it does not know? (two
connections)

Clients such as Chrome and Firefox put reserved values (0x0A0A, 0x1A1A ... 0xFAFA) among
their cipher suites, groups, versions and extensions, so that servers keep ignoring what they
do not know instead of failing on it; a server or middlebox that chokes on them breaks those
clients today and every future extension tomorrow (the version intolerance that held TLS 1.3
back). The first hello is an ordinary one; the second the same with GREASE values in every
list. Tolerant: both get a ServerHello, and it never picks a GREASE value.
"""

from __future__ import annotations

from dataclasses import replace

from zerotls._wire.handshake import Extension, ProtocolVersion, build_client_hello
from zerotls._wire.suites import GROUPS, TLS13_SUITES, suites_for_version
from zerotls.audit.conversation import Conversation, FirstFlight, hello_exchange
from zerotls.audit.model import GreaseResult
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register

__all__ = ["GREASE", "GreaseProbe", "is_grease"]

GREASE = tuple(0x0A0A + 0x1010 * i for i in range(16))
"""The sixteen reserved values of RFC 8701 §2 (0x0A0A, 0x1A1A ... 0xFAFA)."""


def is_grease(value: int) -> bool:
    return value in GREASE


@register
class GreaseProbe(Probe):
    name = "grease"
    title = "GREASE tolerance (RFC 8701)"
    cli_help = (
        "whether the server ignores unknown suites, groups, versions and extensions, as "
        "Chrome and Firefox need (two connections)"
    )

    def failed(self, reason: str) -> GreaseResult:
        return GreaseResult(None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        sni = ctx.target.sni
        suites = [*TLS13_SUITES, *suites_for_version(ProtocolVersion.TLSv1_2)]
        groups = list(GROUPS)
        versions = [0x0304, 0x0303]

        def plain() -> Conversation[FirstFlight]:
            hello = build_client_hello(
                ProtocolVersion.TLSv1_3, suites, server_name=sni, groups=groups,
                supported_versions=versions,
            )  # fmt: skip
            return hello_exchange(hello)

        def greased() -> Conversation[FirstFlight]:
            hello = build_client_hello(
                ProtocolVersion.TLSv1_3,
                [GREASE[0], *suites],
                server_name=sni,
                groups=[GREASE[1], *groups],
                key_share_groups=[0x001D],
                supported_versions=[GREASE[2], *versions],
            )
            # An empty GREASE extension first and a one-byte one last, as browsers send.
            extensions = (Extension(GREASE[3]), *hello.extensions, Extension(GREASE[4], b"\0"))
            return hello_exchange(replace(hello, extensions=extensions))

        first, second = yield [ctx.job("plain hello", plain), ctx.job("GREASE hello", greased)]
        if not isinstance(first, FirstFlight) or first.server_hello is None:
            reason = first.describe_refusal() if isinstance(first, FirstFlight) else first
            return GreaseResult(None, error=f"no handshake to compare with ({reason})")
        if not isinstance(second, FirstFlight) or second.server_hello is None:
            why = second.describe_refusal() if isinstance(second, FirstFlight) else second
            return GreaseResult(
                False,
                detail=f"an ordinary hello is answered, the same hello with GREASE values is "
                f"not ({why})",
            )
        hello = second.server_hello
        picked = [
            what
            for what, value in (
                ("cipher suite", hello.cipher_suite),
                ("version", hello.selected_version),
                ("group", hello.selected_group),
            )
            if value is not None and is_grease(value)
        ]
        if picked:
            return GreaseResult(
                False, detail=f"the server chose a GREASE value as its {', '.join(picked)}"
            )
        return GreaseResult(True, detail="GREASE values were ignored, as RFC 8701 requires")
