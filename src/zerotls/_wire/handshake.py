"""Sans-IO codec for the cleartext part of SSL 2.0 to TLS 1.3 handshakes (the auditor's raw wire).

Theory of operation
-------------------
The auditor must talk to servers that no modern TLS library will talk to (SSL 2.0, SSL 3.0,
export and RC4 suites), so it does not complete handshakes: it writes a ClientHello of its own
choosing and reads the server's first flight, which is in cleartext up to ServerHelloDone in
TLS 1.2 and below, and up to ServerHello (or HelloRetryRequest) in TLS 1.3. That is enough to
learn the protocol version, the cipher suite, the group, the certificate chain, the stapled
OCSP response, the DH parameters, and which extensions the server echoes.

Builders (``push_*``, :func:`build_client_hello`) produce bytes. Parsers of network bytes end in
``_untrusted`` and raise only :class:`~zerotls.errors.DecodeError`, whatever arrives. Records are
framed by :class:`RecordReader` and handshake messages reassembled across records by
:class:`HandshakeReader`, both sans-IO: they are fed bytes and hand back complete units.

Code points are named as the RFCs name them (RFC 8446 §B.3, RFC 5246 §7.4, RFC 6101 for SSL 3.0
and the SSL 2.0 specification for the old hello format).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from zerotls._wire.buffer import Buffer
from zerotls._wire.suites import SIGNATURE_SCHEMES
from zerotls.errors import DecodeError

__all__ = [
    "HRR_RANDOM",
    "MAX_RECORD_PAYLOAD",
    "SCSV_FALLBACK",
    "SCSV_RENEGOTIATION",
    "Alert",
    "CertificateStatus",
    "ClientHello",
    "ContentType",
    "Extension",
    "ExtensionType",
    "HandshakeMessage",
    "HandshakeReader",
    "HandshakeType",
    "ProtocolVersion",
    "Record",
    "RecordReader",
    "SSL2ServerHello",
    "ServerHello",
    "ServerKeyExchange",
    "build_client_hello",
    "key_share_entry",
    "pull_alert_untrusted",
    "pull_certificate_status_untrusted",
    "pull_certificate_untrusted",
    "pull_client_hello_untrusted",
    "pull_server_hello_untrusted",
    "pull_server_key_exchange_untrusted",
    "pull_sslv2_server_hello_untrusted",
    "push_alert",
    "push_client_hello",
    "push_handshake",
    "push_heartbeat_request",
    "push_record",
    "push_sslv2_client_hello",
]

MAX_RECORD_PAYLOAD = 2**14 + 2048
"""RFC 5246 §6.2.3: a TLSCiphertext fragment is at most 2^14 + 2048 bytes."""

HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
"""RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest."""

SCSV_RENEGOTIATION = 0x00FF
"""TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3)."""
SCSV_FALLBACK = 0x5600
"""TLS_FALLBACK_SCSV (RFC 7507 §2)."""


class ContentType(enum.IntEnum):
    change_cipher_spec = 20
    alert = 21
    handshake = 22
    application_data = 23
    heartbeat = 24


class HandshakeType(enum.IntEnum):
    hello_request = 0
    client_hello = 1
    server_hello = 2
    new_session_ticket = 4
    encrypted_extensions = 8
    certificate = 11
    server_key_exchange = 12
    certificate_request = 13
    server_hello_done = 14
    certificate_verify = 15
    client_key_exchange = 16
    finished = 20
    certificate_status = 22


class ExtensionType(enum.IntEnum):
    server_name = 0
    status_request = 5
    supported_groups = 10
    ec_point_formats = 11
    signature_algorithms = 13
    heartbeat = 15
    application_layer_protocol_negotiation = 16
    signed_certificate_timestamp = 18
    encrypt_then_mac = 22
    extended_master_secret = 23
    session_ticket = 35
    supported_versions = 43
    psk_key_exchange_modes = 45
    key_share = 51
    renegotiation_info = 0xFF01


class ProtocolVersion(enum.IntEnum):
    SSLv2 = 0x0002
    SSLv3 = 0x0300
    TLSv1_0 = 0x0301
    TLSv1_1 = 0x0302
    TLSv1_2 = 0x0303
    TLSv1_3 = 0x0304

    @property
    def label(self) -> str:
        """The name people use: ``SSLv3``, ``TLS 1.2``."""
        return _LABELS[self]


_LABELS = {
    ProtocolVersion.SSLv2: "SSLv2",
    ProtocolVersion.SSLv3: "SSLv3",
    ProtocolVersion.TLSv1_0: "TLS 1.0",
    ProtocolVersion.TLSv1_1: "TLS 1.1",
    ProtocolVersion.TLSv1_2: "TLS 1.2",
    ProtocolVersion.TLSv1_3: "TLS 1.3",
}


# -- records -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """One TLS record as framed on the wire (payload still encrypted where it was)."""

    content_type: int
    version: int
    payload: bytes


def push_record(content_type: int, payload: bytes, version: int = 0x0301) -> bytes:
    """Frame ``payload`` as records of at most 2^14 bytes each (RFC 5246 §6.2.1)."""
    out = bytearray()
    for start in range(0, max(len(payload), 1), 2**14):
        chunk = payload[start : start + 2**14]
        out += bytes((content_type,)) + version.to_bytes(2, "big")
        out += len(chunk).to_bytes(2, "big") + chunk
    return bytes(out)


class RecordReader:
    """Frames a byte stream into :class:`Record` objects (sans-IO: feed bytes, take records).

    A malformed header (unknown content type, a version that is not SSL 3.0 to TLS 1.3, a
    length above RFC 5246's limit) raises :class:`DecodeError`, and the reader stays broken:
    after one bad header nothing that follows can be framed.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._broken: DecodeError | None = None

    def feed_untrusted(self, data: bytes) -> list[Record]:
        """Add received bytes; return every record now complete."""
        if self._broken is not None:
            raise self._broken
        self._buffer += data
        records: list[Record] = []
        while len(self._buffer) >= 5:
            content_type = self._buffer[0]
            version = int.from_bytes(self._buffer[1:3], "big")
            length = int.from_bytes(self._buffer[3:5], "big")
            if content_type not in ContentType._value2member_map_:
                self._broken = DecodeError(f"not a TLS record: content type {content_type}")
            elif version >> 8 != 3:
                self._broken = DecodeError(f"not a TLS record: version {version:#06x}")
            elif length > MAX_RECORD_PAYLOAD:
                self._broken = DecodeError(f"TLS record of {length} bytes exceeds the limit")
            if self._broken is not None:
                raise self._broken
            if len(self._buffer) < 5 + length:
                break
            records.append(Record(content_type, version, bytes(self._buffer[5 : 5 + length])))
            del self._buffer[: 5 + length]
        return records

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet framed (an incomplete record)."""
        return bytes(self._buffer)


@dataclass(frozen=True, slots=True)
class HandshakeMessage:
    """One handshake message: its type and its body (without the 4-byte header)."""

    msg_type: int
    body: bytes


def push_handshake(msg_type: int, body: bytes) -> bytes:
    """A handshake message with its header (RFC 8446 §4)."""
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


class HandshakeReader:
    """Reassembles handshake messages from handshake-record payloads (RFC 5246 §6.2.1 lets a
    message span records, and a record carry several messages)."""

    MAX_MESSAGE = 2**17
    """No first-flight message of a sane server is larger (certificate chains included)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed_untrusted(self, payload: bytes) -> list[HandshakeMessage]:
        """Add one handshake record's payload; return every message now complete."""
        self._buffer += payload
        out: list[HandshakeMessage] = []
        while len(self._buffer) >= 4:
            length = int.from_bytes(self._buffer[1:4], "big")
            if length > self.MAX_MESSAGE:
                raise DecodeError(f"handshake message of {length} bytes is implausibly large")
            if len(self._buffer) < 4 + length:
                break
            out.append(HandshakeMessage(self._buffer[0], bytes(self._buffer[4 : 4 + length])))
            del self._buffer[: 4 + length]
        return out


# -- extensions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Extension:
    """A hello extension, kept as raw bytes so a round trip is exact."""

    type: int
    data: bytes = b""


def _push_extensions(buf: Buffer, extensions: Sequence[Extension]) -> None:
    inner = Buffer()
    for ext in extensions:
        inner.push_uint16(ext.type)
        inner.push_vector(ext.data, 2)
    buf.push_vector(inner.data(), 2)


def _pull_extensions(buf: Buffer) -> tuple[Extension, ...]:
    if buf.eof():  # RFC 5246 §7.4.1.2: extensions are optional before TLS 1.3
        return ()
    block = buf.pull_block(2)
    out: list[Extension] = []
    seen: set[int] = set()
    while not block.eof():
        ext_type = block.pull_uint16()
        if ext_type in seen:  # RFC 8446 §4.2: at most one extension of each type
            raise DecodeError(f"duplicate extension {ext_type} in {buf.what}")
        seen.add(ext_type)
        out.append(Extension(ext_type, block.pull_vector(2)))
    return tuple(out)


def _u16_list(values: Iterable[int], length_size: int = 2) -> bytes:
    body = b"".join(v.to_bytes(2, "big") for v in values)
    return len(body).to_bytes(length_size, "big") + body


def key_share_entry(group: int) -> bytes:
    """A KeyShareEntry with a well-formed public value for ``group`` (RFC 8446 §4.2.8).

    The auditor never completes a TLS 1.3 handshake, so the value only has to be acceptable
    to the server, not ours: x25519 and x448 take the base point (u=9, RFC 7748 §4.1), the
    NIST curves their generator (SEC 2 §2.4), uncompressed. Other groups get no key share;
    a server that wants one answers with a HelloRetryRequest, which says just as much.
    """
    value = _KEY_SHARES.get(group)
    if value is None:
        raise ValueError(f"no canned key share for group {group}")
    return group.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value


_KEY_SHARES: dict[int, bytes] = {
    29: (9).to_bytes(32, "little"),
    30: (5).to_bytes(56, "little"),
    23: bytes.fromhex(
        "04"
        "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
        "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5"
    ),
    24: bytes.fromhex(
        "04"
        "AA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7"
        "3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F"
    ),
}


# -- ClientHello -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHello:
    """A ClientHello (RFC 8446 §4.1.2; RFC 5246 §7.4.1.2 for earlier versions)."""

    legacy_version: int
    """``client_version``: the highest version offered, unless ``supported_versions`` says more."""
    random: bytes = field(default_factory=lambda: os.urandom(32))
    session_id: bytes = b""
    cipher_suites: tuple[int, ...] = ()
    compression_methods: tuple[int, ...] = (0,)
    extensions: tuple[Extension, ...] = ()


def push_client_hello(hello: ClientHello) -> bytes:
    """Encode ``hello`` as a handshake message (header included)."""
    buf = Buffer()
    buf.push_uint16(hello.legacy_version)
    buf.push_bytes(hello.random)
    buf.push_vector(hello.session_id, 1)
    buf.push_vector(b"".join(c.to_bytes(2, "big") for c in hello.cipher_suites), 2)
    buf.push_vector(bytes(hello.compression_methods), 1)
    if hello.extensions:
        _push_extensions(buf, hello.extensions)
    return push_handshake(HandshakeType.client_hello, buf.data())


def pull_client_hello_untrusted(body: bytes) -> ClientHello:
    """Decode a ClientHello body (no handshake header).

    Raises:
        DecodeError: anything that is not a well-formed ClientHello.
    """
    buf = Buffer(body, what="ClientHello")
    version = buf.pull_uint16()
    random = buf.pull_bytes(32)
    session_id = buf.pull_vector(1)
    if len(session_id) > 32:
        raise DecodeError("ClientHello session id longer than 32 bytes")
    suites_raw = buf.pull_vector(2)
    if len(suites_raw) % 2:
        raise DecodeError("ClientHello cipher suite list has an odd length")
    compression = buf.pull_vector(1)
    if not compression:
        raise DecodeError("ClientHello offers no compression method")
    extensions = _pull_extensions(buf)
    buf.expect_end()
    return ClientHello(
        legacy_version=version,
        random=random,
        session_id=session_id,
        cipher_suites=tuple(
            int.from_bytes(suites_raw[i : i + 2], "big") for i in range(0, len(suites_raw), 2)
        ),
        compression_methods=tuple(compression),
        extensions=extensions,
    )


def build_client_hello(
    version: int,
    cipher_suites: Sequence[int],
    *,
    server_name: str | None = None,
    groups: Sequence[int] = (),
    key_share_groups: Sequence[int] | None = None,
    signature_schemes: Sequence[int] | None = None,
    status_request: bool = True,
    sct: bool = True,
    heartbeat: bool = False,
    compression: bool = False,
    renegotiation_scsv: bool = True,
    fallback_scsv: bool = False,
    session_ticket: bool = True,
    extensions: bool = True,
    supported_versions: Sequence[int] | None = None,
    random: bytes | None = None,
) -> ClientHello:
    """A ClientHello that offers ``version`` (SSL 3.0 to TLS 1.3) and ``cipher_suites``.

    For TLS 1.3 the legacy version is TLS 1.2 and ``supported_versions`` names TLS 1.3 only,
    so the answer shows whether the server speaks exactly that version. For earlier versions
    ``client_version`` is ``version`` and there is no ``supported_versions``: a server that
    answers with a lower version does not support ``version`` (RFC 5246 §E.1).

    Args:
        version: the protocol version to offer.
        cipher_suites: code points, in our order of preference.
        server_name: SNI (RFC 6066 §3); not sent for IP addresses.
        groups: supported_groups, in order; empty for no extension.
        key_share_groups: TLS 1.3 groups to send a key share for (default: x25519 and
            secp256r1 when offered); an empty list asks for a HelloRetryRequest.
        signature_schemes: signature_algorithms (default: every scheme we know).
        status_request: ask for a stapled OCSP response (RFC 6066 §8).
        sct: ask for Signed Certificate Timestamps (RFC 6962 §3.3.1).
        heartbeat: offer the heartbeat extension, peer_allowed_to_send (RFC 6520 §2).
        compression: offer DEFLATE before null (RFC 3749), to see whether the server takes it.
        renegotiation_scsv: signal secure renegotiation with the SCSV (RFC 5746 §3.3).
        fallback_scsv: add TLS_FALLBACK_SCSV (RFC 7507), as a client retrying lower would.
        session_ticket: offer an empty SessionTicket extension (RFC 5077).
        extensions: False sends a hello without any extension (SSL 3.0 servers of the past
            choke on them).
        supported_versions: with ``version`` TLS 1.3, the versions to list (default: TLS 1.3
            only); listing several lets the server pick its highest.
        random: the client random (default: 32 fresh random bytes).
    """
    suites = list(cipher_suites)
    if renegotiation_scsv and version < ProtocolVersion.TLSv1_3:
        suites.append(SCSV_RENEGOTIATION)
    if fallback_scsv:
        suites.append(SCSV_FALLBACK)
    exts: list[Extension] = []
    if extensions:
        if server_name and not _is_ip(server_name):
            host = server_name.encode("idna")
            entry = b"\x00" + len(host).to_bytes(2, "big") + host  # RFC 6066 §3: host_name(0)
            exts.append(Extension(ExtensionType.server_name, _vec(entry, 2)))
        if groups:
            exts.append(Extension(ExtensionType.supported_groups, _u16_list(groups)))
            exts.append(Extension(ExtensionType.ec_point_formats, b"\x01\x00"))  # uncompressed
        schemes = list(SIGNATURE_SCHEMES) if signature_schemes is None else signature_schemes
        if version >= ProtocolVersion.TLSv1_2 and schemes:
            exts.append(Extension(ExtensionType.signature_algorithms, _u16_list(schemes)))
        if status_request:  # status_type ocsp(1), empty responder list and extensions
            exts.append(Extension(ExtensionType.status_request, b"\x01\x00\x00\x00\x00"))
        if sct:
            exts.append(Extension(ExtensionType.signed_certificate_timestamp))
        if heartbeat:
            exts.append(Extension(ExtensionType.heartbeat, b"\x01"))  # peer_allowed_to_send
        if session_ticket and version < ProtocolVersion.TLSv1_3:
            exts.append(Extension(ExtensionType.session_ticket))
        if version >= ProtocolVersion.TLSv1_0:
            exts.append(Extension(ExtensionType.extended_master_secret))
        if version >= ProtocolVersion.TLSv1_3:
            listed = supported_versions or (ProtocolVersion.TLSv1_3,)
            exts.append(Extension(ExtensionType.supported_versions, _u16_list(listed, 1)))
            exts.append(Extension(ExtensionType.psk_key_exchange_modes, b"\x01\x01"))
            shares = (
                [g for g in (29, 23) if g in groups]
                if key_share_groups is None
                else list(key_share_groups)
            )
            entries = b"".join(key_share_entry(g) for g in shares)
            exts.append(Extension(ExtensionType.key_share, _vec(entries, 2)))
    return ClientHello(
        legacy_version=min(version, ProtocolVersion.TLSv1_2),
        random=random if random is not None else os.urandom(32),
        # RFC 8446 §D.4: middlebox compatibility mode sends a 32-byte legacy session id.
        session_id=os.urandom(32) if version >= ProtocolVersion.TLSv1_3 else b"",
        cipher_suites=tuple(suites),
        compression_methods=(1, 0) if compression else (0,),
        extensions=tuple(exts),
    )


def _vec(data: bytes, length_size: int) -> bytes:
    return len(data).to_bytes(length_size, "big") + data


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


# -- ServerHello and HelloRetryRequest ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerHello:
    """A ServerHello or HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4)."""

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[Extension, ...] = ()

    @property
    def is_retry_request(self) -> bool:
        """A HelloRetryRequest: the server wants another key share (RFC 8446 §4.1.4)."""
        return self.random == HRR_RANDOM

    def extension(self, ext_type: int) -> bytes | None:
        """The raw data of one extension, or None when the server did not send it."""
        for ext in self.extensions:
            if ext.type == ext_type:
                return ext.data
        return None

    @property
    def selected_version(self) -> int:
        """The negotiated version: ``supported_versions`` when present (RFC 8446 §4.2.1)."""
        data = self.extension(ExtensionType.supported_versions)
        if data is not None and len(data) == 2:
            return int.from_bytes(data, "big")
        return self.legacy_version

    @property
    def selected_group(self) -> int | None:
        """The key-share group the server picked (or asks for, in a HelloRetryRequest)."""
        data = self.extension(ExtensionType.key_share)
        if data is None or len(data) < 2:
            return None
        return int.from_bytes(data[:2], "big")

    @property
    def secure_renegotiation(self) -> bool:
        """The server sent renegotiation_info (RFC 5746 §3.6)."""
        return self.extension(ExtensionType.renegotiation_info) is not None


def pull_server_hello_untrusted(body: bytes) -> ServerHello:
    """Decode a ServerHello or HelloRetryRequest body (no handshake header).

    Raises:
        DecodeError: anything that is not a well-formed ServerHello.
    """
    buf = Buffer(body, what="ServerHello")
    version = buf.pull_uint16()
    random = buf.pull_bytes(32)
    session_id = buf.pull_vector(1)
    if len(session_id) > 32:
        raise DecodeError("ServerHello session id longer than 32 bytes")
    suite = buf.pull_uint16()
    compression = buf.pull_uint8()
    extensions = _pull_extensions(buf)
    buf.expect_end()
    hello = ServerHello(version, random, session_id, suite, compression, extensions)
    key_share = hello.extension(ExtensionType.key_share)
    if key_share is not None:
        # RFC 8446 §4.2.8: HRR carries a bare NamedGroup; ServerHello a KeyShareEntry.
        ks = Buffer(key_share, what="key_share")
        ks.pull_uint16()
        if not hello.is_retry_request:
            ks.pull_vector(2)
        ks.expect_end()
    versions = hello.extension(ExtensionType.supported_versions)
    if versions is not None and len(versions) != 2:
        raise DecodeError("ServerHello supported_versions must hold exactly one version")
    return hello


# -- Certificate, CertificateStatus, ServerKeyExchange -------------------------------------------


def pull_certificate_untrusted(body: bytes, *, tls13: bool = False) -> tuple[bytes, ...]:
    """Decode a Certificate message into DER certificates, leaf first.

    Args:
        body: the message body.
        tls13: the TLS 1.3 layout (request context, per-entry extensions; RFC 8446 §4.4.2)
            rather than RFC 5246 §7.4.2's plain list.

    Raises:
        DecodeError: a malformed message, or an empty certificate entry.
    """
    buf = Buffer(body, what="Certificate")
    if tls13:
        buf.pull_vector(1)
    entries = buf.pull_block(3)
    buf.expect_end()
    certs: list[bytes] = []
    while not entries.eof():
        der = entries.pull_vector(3)
        if not der:
            raise DecodeError("empty certificate in the Certificate message")
        certs.append(der)
        if tls13:
            entries.pull_vector(2)
    return tuple(certs)


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    """A stapled OCSP response (RFC 6066 §8)."""

    ocsp_response: bytes
    """The DER OCSPResponse, not yet parsed (it is untrusted too)."""


def pull_certificate_status_untrusted(body: bytes) -> CertificateStatus:
    """Decode a CertificateStatus message (status_type ocsp only).

    Raises:
        DecodeError: malformed, or a status type other than ocsp(1).
    """
    buf = Buffer(body, what="CertificateStatus")
    status_type = buf.pull_uint8()
    if status_type != 1:
        raise DecodeError(f"CertificateStatus of unknown type {status_type}")
    response = buf.pull_vector(3)
    buf.expect_end()
    if not response:
        raise DecodeError("empty OCSP response in CertificateStatus")
    return CertificateStatus(response)


@dataclass(frozen=True, slots=True)
class ServerKeyExchange:
    """What the auditor needs from a ServerKeyExchange: the strength of the ephemeral key."""

    kind: str
    """``ecdhe``, ``dhe`` or ``rsa`` (an export RSA key)."""
    group: int | None = None
    """ECDHE: the named group."""
    dh_prime_bits: int | None = None
    """DHE: the size of the prime p, in bits (Logjam below 1024, weak below 2048)."""
    dh_prime: bytes = b""
    """DHE: the prime itself, to recognize well-known (shared) primes."""
    rsa_bits: int | None = None
    """Export RSA: the size of the temporary RSA modulus."""


def pull_server_key_exchange_untrusted(body: bytes, kex: str) -> ServerKeyExchange:
    """Decode the parameters of a ServerKeyExchange (the signature after them is ignored).

    Args:
        body: the message body.
        kex: the suite's key exchange (``ECDHE``, ``DHE``, ``RSA``), since the message does
            not say which layout it uses (RFC 5246 §7.4.3, RFC 8422 §5.4).

    Raises:
        DecodeError: malformed parameters, or a key exchange that has no ServerKeyExchange.
    """
    buf = Buffer(body, what="ServerKeyExchange")
    if kex == "ECDHE":
        curve_type = buf.pull_uint8()
        if curve_type != 3:  # named_curve; explicit curves are forbidden (RFC 8422 §5.4)
            raise DecodeError(f"ServerKeyExchange uses curve type {curve_type}, not named_curve")
        group = buf.pull_uint16()
        if not buf.pull_vector(1):
            raise DecodeError("ServerKeyExchange has an empty ECDH point")
        return ServerKeyExchange("ecdhe", group=group)
    if kex == "DHE":
        prime = buf.pull_vector(2).lstrip(b"\x00")
        if not buf.pull_vector(2) or not buf.pull_vector(2) or not prime:
            raise DecodeError("ServerKeyExchange has empty DH parameters")
        return ServerKeyExchange("dhe", dh_prime_bits=int.from_bytes(prime, "big").bit_length(),
                                 dh_prime=prime)  # fmt: skip
    if kex == "RSA":
        modulus = buf.pull_vector(2).lstrip(b"\x00")
        if not modulus or not buf.pull_vector(2):
            raise DecodeError("ServerKeyExchange has an empty RSA key")
        return ServerKeyExchange("rsa", rsa_bits=int.from_bytes(modulus, "big").bit_length())
    raise DecodeError(f"no ServerKeyExchange layout for key exchange {kex}")


# -- alerts, heartbeat ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    level: int
    """1 warning, 2 fatal (RFC 5246 §7.2)."""
    description: int


def pull_alert_untrusted(payload: bytes) -> Alert:
    """Decode an alert record's payload (the first alert of it).

    Raises:
        DecodeError: shorter than two bytes.
    """
    buf = Buffer(payload, what="alert")
    level = buf.pull_uint8()
    return Alert(level, buf.pull_uint8())


def push_alert(description: int, *, level: int = 2, version: int = 0x0303) -> bytes:
    """An alert record."""
    return push_record(ContentType.alert, bytes((level, description)), version)


def push_heartbeat_request(
    payload: bytes, *, claimed_length: int | None = None, version: int = 0x0303
) -> bytes:
    """A heartbeat request record (RFC 6520 §4), optionally lying about its payload length.

    A request whose ``payload_length`` exceeds its payload must be discarded silently; a server
    that answers it with ``claimed_length`` bytes read them from its own memory (Heartbleed,
    CVE-2014-0160).
    """
    length = len(payload) if claimed_length is None else claimed_length
    padding = b"" if claimed_length is not None else os.urandom(16)  # ≥ 16 bytes, §4
    body = b"\x01" + length.to_bytes(2, "big") + payload + padding
    return push_record(ContentType.heartbeat, body, version)


# -- SSL 2.0 -----------------------------------------------------------------------------------


def push_sslv2_client_hello(cipher_kinds: Sequence[int], challenge: bytes | None = None) -> bytes:
    """An SSL 2.0 CLIENT-HELLO in the old two-byte-header record format."""
    challenge = os.urandom(16) if challenge is None else challenge
    specs = b"".join(k.to_bytes(3, "big") for k in cipher_kinds)
    body = (
        b"\x01"  # MSG-CLIENT-HELLO
        + (0x0002).to_bytes(2, "big")
        + len(specs).to_bytes(2, "big")
        + b"\x00\x00"  # no session id
        + len(challenge).to_bytes(2, "big")
        + specs
        + challenge
    )
    return (0x8000 | len(body)).to_bytes(2, "big") + body


@dataclass(frozen=True, slots=True)
class SSL2ServerHello:
    """An SSL 2.0 SERVER-HELLO: the server speaks SSL 2.0."""

    version: int
    cipher_kinds: tuple[int, ...]
    certificate: bytes


def pull_sslv2_server_hello_untrusted(data: bytes) -> SSL2ServerHello:
    """Decode an SSL 2.0 SERVER-HELLO record (two-byte header included).

    Raises:
        DecodeError: anything else, including a TLS record or an incomplete one.
    """
    buf = Buffer(data, what="SSLv2 SERVER-HELLO")
    header = buf.pull_uint16()
    if not header & 0x8000:
        raise DecodeError("not an SSLv2 record (two-byte header expected)")
    record = Buffer(buf.pull_bytes(header & 0x7FFF), what=buf.what)
    if record.pull_uint8() != 4:  # MSG-SERVER-HELLO
        raise DecodeError("SSLv2 record is not a SERVER-HELLO")
    record.pull_uint8()  # SESSION-ID-HIT
    record.pull_uint8()  # CERTIFICATE-TYPE
    version = record.pull_uint16()
    cert_length = record.pull_uint16()
    specs_length = record.pull_uint16()
    conn_id_length = record.pull_uint16()
    certificate = record.pull_bytes(cert_length)
    specs = record.pull_bytes(specs_length)
    record.pull_bytes(conn_id_length)
    if specs_length % 3:
        raise DecodeError("SSLv2 cipher specs length is not a multiple of three")
    kinds = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, specs_length, 3))
    return SSL2ServerHello(version, kinds, certificate)
