"""Key-exchange groups (elliptic curves, finite-field groups, post-quantum hybrids), in order.

With TLS 1.3 the probe sends hellos with an *empty* key_share list: a server that supports one
of the offered groups must answer with a HelloRetryRequest naming the group it wants (RFC 8446
§4.1.4), so no key material is needed, not even for ML-KEM hybrids. The group is removed and
the rest offered again, until the server refuses. Servers without TLS 1.3 are enumerated the
same way through TLS 1.2 ECDHE suites, reading the curve from ServerKeyExchange.
"""

from __future__ import annotations

from typing import Any

from zerotls._wire.handshake import ProtocolVersion
from zerotls._wire.suites import CIPHER_SUITES, GROUPS, TLS13_SUITES
from zerotls.audit.conversation import FirstFlight
from zerotls.audit.model import GroupResult, GroupsResult
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register
from zerotls.audit.probes.protocols import raw_hello_job

__all__ = ["GroupsProbe"]

# Groups that TLS 1.3 allows (RFC 8446 §4.2.7 removed the old curves) and the new ones.
_TLS13_GROUPS = [g for g in GROUPS if g >= 23 and g not in (26, 27, 28)]
_ECDHE_SUITES = [c for c, s in CIPHER_SUITES.items() if s.kex == "ECDHE" and not s.tls13]
_EC_GROUPS = [g for g, info in GROUPS.items() if info.kind == "ec" and g <= 30]


def _result(code: int) -> GroupResult:
    info = GROUPS.get(code)
    if info is None:
        return GroupResult(code, f"0x{code:04x}", 0, "unknown", False, False)
    return GroupResult(code, info.name, info.bits, info.kind, info.post_quantum, info.deprecated)


@register
class GroupsProbe(Probe):
    name = "groups"
    title = "Key exchange groups"
    cli_help = (
        "named groups (x25519, P-256, FFDHE, X25519MLKEM768 ...) in the server's order, "
        "through HelloRetryRequest (one connection per group)"
    )

    def failed(self, reason: str) -> GroupsResult:
        return GroupsResult(version=None, error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        found = yield from self._enumerate(ctx, ProtocolVersion.TLSv1_3, list(_TLS13_GROUPS))
        version = "TLS 1.3"
        if not found:
            found = yield from self._enumerate(ctx, ProtocolVersion.TLSv1_2, list(_EC_GROUPS))
            version = "TLS 1.2 and below"
        if not found:
            return GroupsResult(version=None, error="no group accepted with TLS 1.3 or TLS 1.2")
        preference = None
        if len(found) >= 2:
            outcome = yield from self._one(ctx, self._version(version), list(reversed(found)))
            if outcome is not None:
                preference = outcome == found[0]
        return GroupsResult(
            version=version,
            groups=tuple(_result(g) for g in found),
            server_preference=preference,
        )

    @staticmethod
    def _version(label: str) -> int:
        return ProtocolVersion.TLSv1_3 if label == "TLS 1.3" else ProtocolVersion.TLSv1_2

    def _enumerate(self, ctx: ProbeContext, version: int, offer: list[int]) -> Any:
        found: list[int] = []
        while offer:
            group = yield from self._one(ctx, version, offer)
            if group is None or group not in offer:
                break
            found.append(group)
            offer.remove(group)
        return found

    @staticmethod
    def _one(ctx: ProbeContext, version: int, offer: list[int]) -> Any:
        if version == ProtocolVersion.TLSv1_3:
            job = raw_hello_job(
                ctx, "groups", version, list(TLS13_SUITES), groups=offer, key_share_groups=[]
            )
        else:
            job = raw_hello_job(ctx, "groups", version, _ECDHE_SUITES, groups=offer)
        outcomes = yield [job]
        flight = outcomes[0]
        if not isinstance(flight, FirstFlight) or flight.server_hello is None:
            return None
        hello = flight.server_hello
        if version == ProtocolVersion.TLSv1_3:
            return hello.selected_group if hello.selected_version == version else None
        # ECDHE through TLS 1.2 or whatever older version the server answers with.
        ske = flight.key_exchange
        return ske.group if ske is not None else None
