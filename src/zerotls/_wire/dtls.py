"""DTLS records on the wire (RFC 6347 §4.1): split a byte stream into records, pack datagrams.

OpenSSL over a memory BIO writes DTLS records one after another into a byte stream; UDP needs
them as datagrams. :func:`split_records_untrusted` cuts a buffer on record headers, and
:func:`pack_datagrams` puts whole records into datagrams no larger than the path MTU (a
record is never split: DTLS records must not span datagrams).

Record header, 13 bytes::

    type(1) version(2) epoch(2) sequence_number(6) length(2)
"""

from __future__ import annotations

from collections.abc import Iterable

from zerotls.errors import DecodeError

__all__ = [
    "DTLS_HEADER_SIZE",
    "MAX_RECORD_BODY",
    "looks_like_dtls_untrusted",
    "pack_datagrams",
    "split_records_untrusted",
]

DTLS_HEADER_SIZE = 13
MAX_RECORD_BODY = 2**14 + 2048  # RFC 6347 §4.1: TLSCiphertext.length <= 2^14 + 2048
_CONTENT_TYPES = frozenset({20, 21, 22, 23, 24, 25})  # ccs, alert, handshake, data, heartbeat, cid


def split_records_untrusted(data: bytes | bytearray | memoryview) -> list[bytes]:
    """Cut ``data`` into whole DTLS records.

    Raises:
        DecodeError: a header is truncated, names an unknown content type or a version that
            is not DTLS (major byte 0xFE), or announces more bytes than follow.
    """
    view = memoryview(data)
    records: list[bytes] = []
    pos = 0
    end = len(view)
    while pos < end:
        if end - pos < DTLS_HEADER_SIZE:
            raise DecodeError(f"truncated DTLS record header: {end - pos} of 13 bytes")
        ctype = view[pos]
        if ctype not in _CONTENT_TYPES:
            raise DecodeError(f"unknown DTLS content type {ctype}")
        if view[pos + 1] != 0xFE:
            raise DecodeError(f"not a DTLS record version: {view[pos + 1]:#04x}{view[pos + 2]:02x}")
        length = (view[pos + 11] << 8) | view[pos + 12]
        if length > MAX_RECORD_BODY:
            raise DecodeError(f"DTLS record of {length} bytes exceeds {MAX_RECORD_BODY}")
        stop = pos + DTLS_HEADER_SIZE + length
        if stop > end:
            raise DecodeError(f"DTLS record announces {length} bytes, {end - pos - 13} follow")
        records.append(bytes(view[pos:stop]))
        pos = stop
    return records


def pack_datagrams(records: Iterable[bytes], mtu: int) -> list[bytes]:
    """Group whole records, in order, into datagrams of at most ``mtu`` bytes.

    A record larger than ``mtu`` on its own goes out alone (OpenSSL, told the MTU, does not
    make such records; if one ever appears it is better sent, and maybe fragmented by IP,
    than dropped).
    """
    datagrams: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for record in records:
        if current and size + len(record) > mtu:
            datagrams.append(b"".join(current))
            current, size = [], 0
        current.append(record)
        size += len(record)
    if current:
        datagrams.append(b"".join(current))
    return datagrams


def looks_like_dtls_untrusted(datagram: bytes | bytearray | memoryview) -> bool:
    """A cheap filter for a datagram from an unknown peer: does it start like a DTLS
    handshake record? (Anything else is dropped before any TLS code sees it.)"""
    return len(datagram) >= DTLS_HEADER_SIZE + 12 and datagram[0] == 22 and datagram[1] == 0xFE
