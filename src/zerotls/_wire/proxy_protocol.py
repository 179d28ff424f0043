"""PROXY protocol version 2 (haproxy's proxy-protocol.txt §2.2), with identity TLVs.

The tunnel can open each backend connection with a v2 header so a cleartext service learns
who is calling: the client's address, and in TLVs the SNI (``PP2_TYPE_AUTHORITY``), the ALPN,
the connection id (``PP2_TYPE_UNIQUE_ID``), the TLS facts (``PP2_TYPE_SSL`` with version,
cipher and the client certificate's CN), and, in the custom range, the verified SPIFFE ID
(``0xE0``) and SPKI pin (``0xE1``).

``push_*`` builds, ``pull_proxy_v2_untrusted`` parses (for tests and for backends written with
zerotls); the parser raises only :class:`~zerotls.errors.DecodeError`.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Any

from zerotls.errors import DecodeError

__all__ = ["PP2Type", "ProxyHeader", "proxy_v2_header", "pull_proxy_v2_untrusted", "push_proxy_v2"]

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


class PP2Type(enum.IntEnum):
    """TLV types, as the specification names them (plus our custom ones)."""

    ALPN = 0x01
    AUTHORITY = 0x02
    UNIQUE_ID = 0x05
    SSL = 0x20
    SUBTYPE_SSL_VERSION = 0x21
    SUBTYPE_SSL_CN = 0x22
    SUBTYPE_SSL_CIPHER = 0x23
    ZEROTLS_SPIFFE_ID = 0xE0
    ZEROTLS_SPKI_PIN = 0xE1


PP2_CLIENT_SSL = 0x01
PP2_CLIENT_CERT_CONN = 0x02


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    source: tuple[str, int] | None
    destination: tuple[str, int] | None
    tlvs: dict[int, bytes] = field(default_factory=dict)
    ssl_tlvs: dict[int, bytes] = field(default_factory=dict)


def _tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!BH", kind, len(value)) + value


def push_proxy_v2(
    source: tuple[str, int] | None,
    destination: tuple[str, int] | None,
    tlvs: list[tuple[int, bytes]],
) -> bytes:
    """Build a PROXY v2 header (command PROXY over TCP, or LOCAL when addresses are unknown)."""
    body = b""
    if source is not None and destination is not None:
        src, dst = ipaddress.ip_address(source[0]), ipaddress.ip_address(destination[0])
        if src.version != dst.version:  # a v4 client on a v6 socket: unspecified dst
            dst = ipaddress.ip_address("::" if src.version == 6 else "0.0.0.0")  # noqa: S104
        fam = 0x11 if src.version == 4 else 0x21
        body = src.packed + dst.packed + struct.pack("!HH", source[1], destination[1])
        ver_cmd = 0x21
    else:
        fam, ver_cmd = 0x00, 0x20
    body += b"".join(_tlv(kind, value) for kind, value in tlvs)
    return SIGNATURE + struct.pack("!BBH", ver_cmd, fam, len(body)) + body


def proxy_v2_header(peer: Any, local: Any, event: Any) -> bytes:
    """The header for one tunnelled connection, from its audit event."""
    tlvs: list[tuple[int, bytes]] = [(PP2Type.UNIQUE_ID, event.conn_id.encode())]
    if event.sni:
        tlvs.append((PP2Type.AUTHORITY, event.sni.encode("ascii", "replace")))
    if event.alpn:
        tlvs.append((PP2Type.ALPN, event.alpn.encode()))
    ident = event.identity
    sub = b""
    if event.tls_version:
        sub += _tlv(PP2Type.SUBTYPE_SSL_VERSION, event.tls_version.encode())
    if event.cipher:
        sub += _tlv(PP2Type.SUBTYPE_SSL_CIPHER, event.cipher.encode())
    if ident is not None and ident.common_name:
        sub += _tlv(PP2Type.SUBTYPE_SSL_CN, ident.common_name.encode())
    client = PP2_CLIENT_SSL | (PP2_CLIENT_CERT_CONN if ident is not None else 0)
    tlvs.append((PP2Type.SSL, struct.pack("!BI", client, 0) + sub))  # verify 0: verified
    if ident is not None and ident.spiffe_id:
        tlvs.append((PP2Type.ZEROTLS_SPIFFE_ID, ident.spiffe_id.encode()))
    if ident is not None:
        tlvs.append((PP2Type.ZEROTLS_SPKI_PIN, ident.spki_pin.encode()))
    src = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
    dst = (str(local[0]), int(local[1])) if isinstance(local, tuple) else None
    return push_proxy_v2(src, dst, tlvs)


def _tlvs_untrusted(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        if pos + 3 > len(data):
            raise DecodeError("truncated PROXY v2 TLV header")
        kind, length = struct.unpack_from("!BH", data, pos)
        pos += 3
        if pos + length > len(data):
            raise DecodeError("PROXY v2 TLV longer than the header")
        out[kind] = data[pos : pos + length]
        pos += length
    return out


def pull_proxy_v2_untrusted(data: bytes) -> tuple[ProxyHeader, int]:
    """Parse a PROXY v2 header at the start of ``data``.

    Returns:
        The header and how many bytes it took.

    Raises:
        DecodeError: not a complete, well-formed v2 header.
    """
    if len(data) < 16 or not data.startswith(SIGNATURE):
        raise DecodeError("no PROXY v2 signature")
    ver_cmd, fam, length = struct.unpack_from("!BBH", data, 12)
    if ver_cmd >> 4 != 2 or (ver_cmd & 0x0F) not in (0, 1):
        raise DecodeError("unsupported PROXY protocol version or command")
    end = 16 + length
    if len(data) < end:
        raise DecodeError("truncated PROXY v2 header")
    body = data[16:end]
    src = dst = None
    if fam == 0x11:
        if len(body) < 12:
            raise DecodeError("short IPv4 address block")
        src = (str(ipaddress.IPv4Address(body[0:4])), struct.unpack_from("!H", body, 8)[0])
        dst = (str(ipaddress.IPv4Address(body[4:8])), struct.unpack_from("!H", body, 10)[0])
        rest = body[12:]
    elif fam == 0x21:
        if len(body) < 36:
            raise DecodeError("short IPv6 address block")
        src = (str(ipaddress.IPv6Address(body[0:16])), struct.unpack_from("!H", body, 32)[0])
        dst = (str(ipaddress.IPv6Address(body[16:32])), struct.unpack_from("!H", body, 34)[0])
        rest = body[36:]
    elif fam == 0x00:
        rest = body
    else:
        raise DecodeError(f"unsupported PROXY v2 address family {fam:#x}")
    tlvs = _tlvs_untrusted(rest)
    ssl_tlvs: dict[int, bytes] = {}
    ssl = tlvs.get(PP2Type.SSL)
    if ssl is not None:
        if len(ssl) < 5:
            raise DecodeError("short PP2_TYPE_SSL value")
        ssl_tlvs = _tlvs_untrusted(ssl[5:])
    return ProxyHeader(src, dst, tlvs, ssl_tlvs), end
