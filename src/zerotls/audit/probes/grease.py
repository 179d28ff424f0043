"""GREASE tolerance (RFC 8701): does the server ignore values it does not know? (two
connections)

Clients such as Chrome and Firefox put reserved values (0x0A0A, 0x1A1A ... 0xFAFA) among
their cipher suites, groups, versions and extensions, so that servers keep ignoring what they
do not know instead of failing on it; a server or middlebox that chokes on them breaks those
clients today and every future extension tomorrow (the version intolerance that held TLS 1.3
back). The first hello is an ordinary one; the second the same with GREASE values in every
list. Tolerant: both get a ServerHello, and it never picks a GREASE value.

A third hello is the ordinary one grown to :data:`LARGE_HELLO` bytes with the padding
extension (RFC 7685), the size a ClientHello with a post-quantum key share has
(X25519MLKEM768: 1,216 bytes of it): middleboxes that assume a hello fits in one segment, or
cap it, broke Chrome and Firefox when they turned ML-KEM on. (three connections)
"""

from __future__ import annotations

from dataclasses import replace

from zerotls._wire.handshake import (
    ContentType,
    Extension,
    ProtocolVersion,
    build_client_hello,
    push_client_hello,
    push_record,
)
from zerotls._wire.suites import GROUPS, TLS13_SUITES, suites_for_version
from zerotls.audit.conversation import Conversation, FirstFlight, hello_exchange
from zerotls.audit.model import GreaseResult
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register

__all__ = ["GREASE", "LARGE_HELLO", "GreaseProbe", "is_grease"]

LARGE_HELLO = 1800
"""Bytes of the large ClientHello record: about a hybrid post-quantum hello's size, more than
one Ethernet segment holds."""
_PADDING = 21  # RFC 7685

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
        "Chrome and Firefox need, and whether a hello the size of a post-quantum one is "
        "answered (three connections)"
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

        def large() -> Conversation[FirstFlight]:
            hello = build_client_hello(
                ProtocolVersion.TLSv1_3, suites, server_name=sni, groups=groups,
                supported_versions=versions,
            )  # fmt: skip
            size = len(push_record(ContentType.handshake, push_client_hello(hello)))
            pad = Extension(_PADDING, bytes(max(0, LARGE_HELLO - size - 4)))
            return hello_exchange(replace(hello, extensions=(*hello.extensions, pad)))

        first, second, third = yield [
            ctx.job("plain hello", plain),
            ctx.job("GREASE hello", greased),
            ctx.job("large hello", large),
        ]
        if not isinstance(first, FirstFlight) or first.server_hello is None:
            reason = first.describe_refusal() if isinstance(first, FirstFlight) else first
            return GreaseResult(None, error=f"no handshake to compare with ({reason})")
        if isinstance(third, FirstFlight) and third.server_hello is not None:
            large_hello: bool | None = True
            size_detail = f"a {LARGE_HELLO}-byte ClientHello is answered"
        else:
            why = (
                third.describe_refusal()
                if isinstance(third, FirstFlight)
                else getattr(third, "reason", third)
            )
            large_hello = False
            size_detail = (
                f"an ordinary hello is answered, the same hello padded to {LARGE_HELLO} bytes "
                f"(the size of a post-quantum one) is not ({why})"
            )
        result = _judge_grease(second)
        return replace(result, large_hello=large_hello, large_hello_detail=size_detail)


def _judge_grease(second: object) -> GreaseResult:
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
