"""Client simulations: which kinds of client can connect, and what each would negotiate.
(one connection per simulated client)

Each simulated client is the ClientHello of a class of real clients, reduced to what decides
the outcome: the versions, cipher suites and groups they offer, in their order. The server's
answer says whether such a client connects and with which version, suite and group, or why
it is refused. Nothing here is a weakness by itself: a TLS 1.3-only zero-trust endpoint
refusing the TLS 1.0 generation is the point. It says, before a change goes out, who would
be left behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from zerotls._wire.handshake import ProtocolVersion
from zerotls._wire.suites import suite_info
from zerotls.audit.conversation import FirstFlight
from zerotls.audit.model import ClientSimulationResult, SimulatedClient
from zerotls.audit.probes.base import Probe, ProbeContext, ProbeFlow, register
from zerotls.audit.probes.protocols import group_name, raw_hello_job

__all__ = ["CLIENTS", "ClientProfile", "ClientsProbe"]

_X25519, _P256, _P384, _HYBRID = 0x001D, 0x0017, 0x0018, 0x11EC
_GCM_ECDHE = [0xC02B, 0xC02F, 0xC02C, 0xC030]  # ECDHE-ECDSA/RSA AES-GCM
_CHACHA = [0xCCA9, 0xCCA8]  # ECDHE-ECDSA/RSA ChaCha20-Poly1305
_CBC_ECDHE = [0xC009, 0xC013, 0xC00A, 0xC014]  # ECDHE-ECDSA/RSA AES-CBC-SHA
_CBC_RSA = [0x002F, 0x0035, 0x000A]  # static RSA AES-CBC, 3DES
_TLS13 = [0x1301, 0x1302, 0x1303]
# What TLS 1.3 clients still offer for TLS 1.2 servers (Chrome's and OpenSSL's lists keep
# ECDHE-CBC and static RSA AES at the end, for compatibility).
_COMPAT = [0xC013, 0xC014, 0xC009, 0xC00A, 0x009C, 0x009D, 0x002F, 0x0035]


@dataclass(frozen=True, slots=True)
class ClientProfile:
    name: str
    """Which clients it stands for (a generation, not one build)."""
    versions: tuple[int, ...]
    """Offered versions, highest first."""
    suites: tuple[int, ...]
    groups: tuple[int, ...]
    key_shares: tuple[int, ...] | None = None
    """TLS 1.3: the groups it sends key shares for (None: its first group)."""


CLIENTS: tuple[ClientProfile, ...] = (
    ClientProfile(
        "TLS 1.0 generation (Windows 7 IE 8-10, Android 4.0-4.3, Java 6)",
        (ProtocolVersion.TLSv1_0,),
        (*_CBC_ECDHE, *_CBC_RSA),
        (_P256, _P384),
    ),
    ClientProfile(
        "TLS 1.2 without AEAD (Android 4.4, Java 7, OpenSSL 1.0.0)",
        (ProtocolVersion.TLSv1_2, ProtocolVersion.TLSv1_1, ProtocolVersion.TLSv1_0),
        (*_CBC_ECDHE, *_CBC_RSA),
        (_P256, _P384),
    ),
    ClientProfile(
        "TLS 1.2 with AEAD (Java 8, Android 5-9, OpenSSL 1.0.2, Windows 8.1-10 Schannel)",
        (ProtocolVersion.TLSv1_2, ProtocolVersion.TLSv1_1, ProtocolVersion.TLSv1_0),
        (*_GCM_ECDHE, *_CHACHA, *_CBC_ECDHE, *_CBC_RSA),
        (_X25519, _P256, _P384),
    ),
    ClientProfile(
        "TLS 1.3 (OpenSSL 1.1.1-3.4, curl, Go 1.13+, Java 11+, browsers 2019-2024)",
        (ProtocolVersion.TLSv1_3, ProtocolVersion.TLSv1_2),
        (*_TLS13, *_GCM_ECDHE, *_CHACHA, *_COMPAT),
        (_X25519, _P256, _P384),
        (_X25519,),
    ),
    ClientProfile(
        "TLS 1.3 with the post-quantum hybrid (OpenSSL 3.5+, Chrome 131+, Firefox 132+)",
        (ProtocolVersion.TLSv1_3, ProtocolVersion.TLSv1_2),
        (*_TLS13, *_GCM_ECDHE, *_CHACHA, *_COMPAT),
        (_HYBRID, _X25519, _P256, _P384),
        (),
    ),
)
"""The simulated clients, oldest first."""


@register
class ClientsProbe(Probe):
    name = "clients"
    title = "Client simulations"
    cli_help = (
        "which generations of client (TLS 1.0 era to post-quantum TLS 1.3) connect and what "
        "each negotiates (one connection per simulated client)"
    )

    def failed(self, reason: str) -> ClientSimulationResult:
        return ClientSimulationResult((), error=reason)

    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        jobs = []
        for client in CLIENTS:
            top = client.versions[0]
            jobs.append(
                raw_hello_job(
                    ctx,
                    client.name,
                    top,
                    list(client.suites),
                    groups=list(client.groups),
                    supported_versions=list(client.versions) if top >= 0x0304 else None,
                    # TLS 1.3: an x25519 key share, as these clients send; the hybrid
                    # client sends none, so the server's HelloRetryRequest names the group
                    # it prefers among those offered (a real one sends the hybrid share).
                    key_share_groups=_key_shares(client) if top >= 0x0304 else None,
                )
            )
        flights = yield jobs
        return ClientSimulationResult(
            tuple(_judge(c, f) for c, f in zip(CLIENTS, flights, strict=True))
        )


def _key_shares(client: ClientProfile) -> list[int]:
    return list(client.key_shares if client.key_shares is not None else client.groups[:1])


def _judge(client: ClientProfile, flight: object) -> SimulatedClient:
    if not isinstance(flight, FirstFlight):
        return SimulatedClient(client.name, False, detail=str(getattr(flight, "reason", flight)))
    hello = flight.server_hello
    if hello is None:
        return SimulatedClient(client.name, False, detail=flight.describe_refusal())
    version = hello.selected_version
    if version not in client.versions or hello.cipher_suite not in client.suites:
        return SimulatedClient(
            client.name, False, detail="the server chose a version or suite it was not offered"
        )
    labels = {v.value: v.label for v in ProtocolVersion}
    group = None
    if version >= 0x0304 and hello.selected_group is not None:
        group = group_name(hello.selected_group)
    elif flight.key_exchange is not None and flight.key_exchange.group is not None:
        group = group_name(flight.key_exchange.group)
    return SimulatedClient(
        client.name,
        True,
        version=labels.get(version, f"0x{version:04x}"),
        suite=suite_info(hello.cipher_suite).name,
        group=group,
        detail="the group the server chose in its HelloRetryRequest"
        if hello.is_retry_request
        else "",
    )
