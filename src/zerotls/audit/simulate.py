"""Client simulations computed from what the scan measured, with no connection of their own.

The ``protocols`` probe measured, per version, the suites the server accepts and whether it
imposes its own order; the ``groups`` probe measured its groups and their order. A client is
then a ClientHello reduced to what decides the outcome (versions, suites and groups in its
order, and the groups it sends key shares for), and what it would negotiate follows by the
rules servers apply:

* the version: the highest one both speak (a server answers the highest it speaks at or
  below the client's, and a client accepts only versions it offered);
* the suite: the server's first that the client offers if the server imposes its order,
  otherwise the client's first that the server accepts; an ECDHE suite only with a group in
  common (a server skips it otherwise);
* the group: the server's first among the client's groups if it imposes its order, else
  the client's first the server accepts; in TLS 1.3 that is what a HelloRetryRequest asks
  for, unless the client already sent a key share for a group the server accepts.

:data:`REAL_CLIENTS` holds the ClientHellos of clients people run today and of the old ones
a change may leave behind. The ``clients`` probe's five generations are also checked this
way against their real connections (tests/audit/test_clients.py), so the rules are tested
against servers, not only stated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from zerotls._wire.handshake import ProtocolVersion
from zerotls._wire.suites import suite_info
from zerotls.audit.model import ClientSimulationResult, GroupsResult, ProtocolsResult
from zerotls.audit.model import SimulatedClient as Outcome
from zerotls.audit.probes.clients import ClientProfile
from zerotls.audit.probes.protocols import group_name

__all__ = ["REAL_CLIENTS", "simulate", "simulate_all"]

_V13, _V12, _V11, _V10 = (
    ProtocolVersion.TLSv1_3,
    ProtocolVersion.TLSv1_2,
    ProtocolVersion.TLSv1_1,
    ProtocolVersion.TLSv1_0,
)
_HYBRID, _X25519, _P256, _P384, _P521, _X448 = 0x11EC, 0x001D, 0x0017, 0x0018, 0x0019, 0x001E
_FFDHE = (0x0100, 0x0101, 0x0102, 0x0103, 0x0104)
_OPENSSL_TLS12 = (
    0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC02B, 0xC02F, 0x009E, 0xC024, 0xC028,
    0x006B, 0xC023, 0xC027, 0x0067, 0xC00A, 0xC014, 0x0039, 0xC009, 0xC013, 0x0033, 0x009D,
    0x009C, 0x003D, 0x003C, 0x0035, 0x002F,
)  # fmt: skip
_BORINGSSL_TLS12 = (
    0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F,
    0x0035,
)  # fmt: skip
_JAVA_TLS12 = (
    0xC02C, 0xC02B, 0xCCA9, 0xC030, 0xCCA8, 0xC02F, 0x009F, 0xCCAA, 0x009E, 0xC024, 0xC028,
    0x006B, 0xC023, 0xC027, 0x0067, 0xC00A, 0xC014, 0x0039, 0xC009, 0xC013, 0x0033, 0x009D,
    0x009C, 0x003D, 0x003C, 0x0035, 0x002F,
)  # fmt: skip
_OPENSSL_GROUPS = (_X25519, _P256, _X448, _P521, _P384, *_FFDHE)

_JAVA11 = ClientProfile(
    "Java 11 (11.0.11+)",
    (_V13, _V12),
    (0x1302, 0x1301, *_JAVA_TLS12),
    (_X25519, _P256, _P384, _P521, _X448, *_FFDHE),
    (_X25519, _P256),
)

REAL_CLIENTS: tuple[ClientProfile, ...] = (
    ClientProfile(
        "Chrome 131+ / Edge 131+",
        (_V13, _V12),
        (0x1301, 0x1302, 0x1303, *_BORINGSSL_TLS12),
        (_HYBRID, _X25519, _P256, _P384),
        (_HYBRID, _X25519),
    ),
    ClientProfile(
        "Firefox 132+",
        (_V13, _V12),
        (
            0x1301,
            0x1303,
            0x1302,
            0xC02B,
            0xC02F,
            0xCCA9,
            0xCCA8,
            0xC02C,
            0xC030,
            0xC00A,
            0xC009,
            0xC013,
            0xC014,
            0x009C,
            0x009D,
            0x002F,
            0x0035,
        ),
        (_HYBRID, _X25519, _P256, _P384, _P521, 0x0100, 0x0101),
        (_HYBRID, _X25519, _P256),
    ),
    ClientProfile(
        "Safari 17 (macOS 14, iOS 17)",
        (_V13, _V12, _V11, _V10),
        (
            0x1301,
            0x1302,
            0x1303,
            0xC02C,
            0xC02B,
            0xCCA9,
            0xC030,
            0xC02F,
            0xCCA8,
            0xC00A,
            0xC009,
            0xC014,
            0xC013,
            0x009D,
            0x009C,
            0x0035,
            0x002F,
            0xC008,
            0xC012,
            0x000A,
        ),
        (_X25519, _P256, _P384, _P521),
        (_X25519,),
    ),
    ClientProfile(
        "OpenSSL 3.0-3.4, curl 7.88-8.x (Debian 12, Ubuntu 22.04-24.04)",
        (_V13, _V12),
        (0x1302, 0x1303, 0x1301, *_OPENSSL_TLS12),
        _OPENSSL_GROUPS,
        (_X25519,),
    ),
    ClientProfile(
        "OpenSSL 1.1.1 (Debian 10-11, Ubuntu 18.04-20.04)",
        (_V13, _V12, _V11, _V10),
        (0x1302, 0x1303, 0x1301, *_OPENSSL_TLS12),
        (_X25519, _P256, _X448, _P521, _P384),
        (_X25519,),
    ),
    ClientProfile(
        "Python 3.10+ ssl (default context)",
        (_V13, _V12),
        (
            0x1302,
            0x1303,
            0x1301,
            0xC02C,
            0xC030,
            0xC02B,
            0xC02F,
            0xCCA9,
            0xCCA8,
            0xC024,
            0xC028,
            0xC023,
            0xC027,
            0x009F,
            0x009E,
            0x006B,
            0x0067,
        ),
        _OPENSSL_GROUPS,
        (_X25519,),
    ),
    _JAVA11,
    replace(_JAVA11, name="Java 17 and 21", suites=(0x1302, 0x1301, 0x1303, *_JAVA_TLS12)),
    ClientProfile(
        "Android 10+ (BoringSSL)",
        (_V13, _V12),
        (0x1301, 0x1302, 0x1303, *_BORINGSSL_TLS12),
        (_X25519, _P256, _P384),
        (_X25519,),
    ),
    ClientProfile(
        "Android 7-9",
        (_V12, _V11, _V10),
        (
            0xC02B,
            0xC02C,
            0xCCA9,
            0xC02F,
            0xC030,
            0xCCA8,
            0xC009,
            0xC00A,
            0xC013,
            0xC014,
            0x009C,
            0x009D,
            0x002F,
            0x0035,
        ),
        (_X25519, _P256, _P384),
    ),
    ClientProfile(
        "IE 11 on Windows 7, Java 7",
        (_V12, _V11, _V10),
        (
            0xC028,
            0xC027,
            0xC014,
            0xC013,
            0x009F,
            0x009E,
            0x0039,
            0x0033,
            0x009D,
            0x009C,
            0x003D,
            0x003C,
            0x0035,
            0x002F,
            0xC02C,
            0xC02B,
            0xC024,
            0xC023,
            0xC00A,
            0xC009,
            0x000A,
        ),
        (_P256, _P384),
    ),
    ClientProfile(
        "Android 4.0-4.3, Java 6, IE 8-10",
        (_V10,),
        (0xC009, 0xC013, 0xC00A, 0xC014, 0x002F, 0x0035, 0x000A),
        (_P256, _P384),
    ),
)
"""ClientHellos of real clients, newest first (versions, suites and groups in their order)."""


def simulate(
    client: ClientProfile, protocols: ProtocolsResult, groups: GroupsResult | None
) -> Outcome:
    """What ``client`` would negotiate with the server measured in ``protocols``/``groups``."""
    spoken = {v.code: v for v in protocols.versions if v.supported and v.code in client.versions}
    if not spoken:
        theirs = ", ".join(protocols.supported) or "nothing"
        ours = ", ".join(ProtocolVersion(v).label for v in client.versions)
        return Outcome(client.name, False, detail=f"no version in common: it offers {ours}, "
                       f"the server speaks {theirs}")  # fmt: skip
    version = max(spoken)
    measured = spoken[version]
    server_groups = [g.code for g in groups.groups] if groups and groups.groups else None
    common_groups = (
        None if server_groups is None else [g for g in client.groups if g in server_groups]
    )

    def usable(code: int) -> bool:
        kex = suite_info(code).kex
        return not (kex == "ECDHE" and common_groups == [])

    offered = set(client.suites)
    accepted = [s.code for s in measured.suites if s.code in offered and usable(s.code)]
    if not accepted:
        return Outcome(
            client.name,
            False,
            detail=f"no cipher suite in common in {measured.version}",
        )
    if measured.server_preference:
        suite = accepted[0]  # the server's order
    else:
        suite = next(c for c in client.suites if c in accepted)
    group, detail = _choose_group(client, version, suite, server_groups, groups)
    if version >= _V13 and group is None and server_groups is not None:
        return Outcome(client.name, False, detail="no key-exchange group in common")
    return Outcome(
        client.name,
        True,
        version=ProtocolVersion(version).label,
        suite=suite_info(suite).name,
        group=group_name(group) if group is not None else None,
        detail=detail,
    )


def _choose_group(
    client: ClientProfile,
    version: int,
    suite: int,
    server_groups: Sequence[int] | None,
    groups: GroupsResult | None,
) -> tuple[int | None, str]:
    if server_groups is None:
        return None, ""
    # The server's order where it imposes one, else the client's (OpenSSL, GnuTLS default).
    if groups is not None and groups.server_preference:
        preferred = next((g for g in server_groups if g in client.groups), None)
    else:
        preferred = next((g for g in client.groups if g in server_groups), None)
    if version >= _V13:
        shares = client.key_shares if client.key_shares is not None else client.groups[:1]
        shared = next((g for g in shares if g in server_groups), None)
        if shared is not None:
            return shared, ""
        detail = "the group the server chose in its HelloRetryRequest" if preferred else ""
        return preferred, detail
    if suite_info(suite).kex != "ECDHE":
        return None, ""
    return preferred, ""


def simulate_all(
    results: dict[str, Any], clients: Sequence[ClientProfile] = REAL_CLIENTS
) -> ClientSimulationResult | None:
    """Every client of ``clients`` against the measured server, or None when the versions
    and suites were not measured (the ``protocols`` probe did not run or conclude)."""
    protocols = results.get("protocols")
    if not isinstance(protocols, ProtocolsResult) or protocols.error or not protocols.supported:
        return None
    groups = results.get("groups")
    measured = groups if isinstance(groups, GroupsResult) and not groups.error else None
    return ClientSimulationResult(tuple(simulate(c, protocols, measured) for c in clients))
