"""Cipher suites, named groups and signature schemes: IANA code points and what each means.

The auditor offers every suite of this table and reads back what a server picks, so the table
is the limit of what it can see. Suites are described by their IANA name; the properties the
grading needs (key exchange, authentication, cipher, strength, MAC, AEAD, forward secrecy,
export grade, which protocol versions may use the suite) are derived from that name by
:func:`_describe`, so one row per suite is all the data there is. OpenSSL's name is kept beside
it where OpenSSL has one, because that is what a server's configuration file spells.

Sources: the IANA "TLS Cipher Suites", "TLS Supported Groups" and "TLS SignatureScheme"
registries; RFC 6101 appendix A.6 (SSL 2.0 cipher kinds); RFC 8446 §B.4 (TLS 1.3 suites).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CIPHER_SUITES",
    "ENGINE_GROUPS",
    "GROUPS",
    "config_group_name",
    "group_by_name",
    "SIGNATURE_SCHEMES",
    "SSL2_CIPHER_KINDS",
    "TLS13_SUITES",
    "CipherSuiteInfo",
    "GroupInfo",
    "SSL2CipherKind",
    "suite_info",
    "suites_for_version",
]

Mode = Literal["null", "stream", "cbc", "aead"]


@dataclass(frozen=True, slots=True)
class CipherSuiteInfo:
    """One TLS cipher suite and the properties that decide whether it is acceptable."""

    code: int
    """The IANA code point (two bytes on the wire)."""
    name: str
    """The IANA name, e.g. ``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``."""
    openssl_name: str | None
    """OpenSSL's name (``ECDHE-RSA-AES128-GCM-SHA256``), when OpenSSL has one."""
    kex: str
    """Key exchange: ``RSA``, ``DH``, ``DHE``, ``ECDH``, ``ECDHE``, ``PSK``, ``SRP``, or ``any``
    for TLS 1.3 (where the key exchange is negotiated separately, always ephemeral)."""
    auth: str
    """Server authentication: ``RSA``, ``DSS``, ``ECDSA``, ``PSK``, ``anon`` or ``any``."""
    cipher: str
    """The bulk cipher, e.g. ``AES_128_GCM``, ``3DES_EDE_CBC``, ``RC4_128``, ``NULL``."""
    bits: int
    """Effective symmetric strength in bits (3DES counts as 112, export ciphers as 40/56)."""
    block_bits: int
    """Cipher block size in bits (64 for DES, 3DES, IDEA, RC2: exposed to Sweet32); 0 for
    stream ciphers."""
    mode: Mode
    """``aead``, ``cbc``, ``stream`` or ``null``."""
    mac: str
    """``MD5``, ``SHA``, ``SHA256``, ``SHA384``, or ``AEAD``."""
    forward_secrecy: bool
    """Whether a stolen server key later still cannot decrypt recorded traffic."""
    export: bool
    """An export-grade suite (deliberately weakened; FREAK and Logjam)."""
    tls13: bool
    """A TLS 1.3 suite (usable with TLS 1.3 only)."""
    tls12_only: bool
    """A suite defined for TLS 1.2 only (AEAD or SHA-2 MAC)."""

    @property
    def aead(self) -> bool:
        """Authenticated encryption (GCM, CCM, ChaCha20-Poly1305)."""
        return self.mode == "aead"

    @property
    def anonymous(self) -> bool:
        """No server authentication at all: any man in the middle can answer."""
        return self.auth == "anon"

    @property
    def insecure(self) -> bool:
        """Broken outright: NULL, export-grade, anonymous, RC4, DES, RC2 or under 112 bits."""
        return (
            self.mode == "null"
            or self.export
            or self.anonymous
            or self.cipher.startswith(("RC4", "RC2", "DES_", "DES40"))
            or self.bits < 112
        )

    @property
    def weak(self) -> bool:
        """Insecure, or obsolete: 64-bit blocks (3DES, IDEA: Sweet32) or an MD5 MAC."""
        return self.insecure or self.block_bits == 64 or self.mac == "MD5"


@dataclass(frozen=True, slots=True)
class SSL2CipherKind:
    """An SSL 2.0 cipher kind (three bytes on the wire)."""

    code: int
    name: str
    bits: int
    export: bool


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A named group for (EC)DHE or a post-quantum KEM (IANA "TLS Supported Groups")."""

    code: int
    name: str
    """The IANA name (``x25519``, ``secp256r1``, ``X25519MLKEM768`` ...)."""
    bits: int
    """Approximate classical security in bits."""
    kind: Literal["ec", "ff", "pq", "hybrid"]
    """Elliptic curve, finite field, pure post-quantum KEM, or a classical+PQ hybrid."""
    deprecated: bool = False
    """Deprecated by RFC 8422 §5.1.1 (binary and small curves) or a withdrawn draft code point."""

    @property
    def post_quantum(self) -> bool:
        """Resists a quantum computer recording traffic today (harvest now, decrypt later)."""
        return self.kind in ("pq", "hybrid")

    @property
    def config_name(self) -> str:
        """The name zerotls configs, logs and reports use: RFC 8446's ``X25519`` and NIST's
        ``P-256`` for the classic curves, the IANA name for everything else."""
        return _CONFIG_NAMES.get(self.code, self.name)


_ROWS: tuple[tuple[int, str, str | None], ...] = (
    (0x0001, "TLS_RSA_WITH_NULL_MD5", "NULL-MD5"),
    (0x0002, "TLS_RSA_WITH_NULL_SHA", "NULL-SHA"),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", None),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5", None),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA", None),
    (0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", None),
    (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", None),
    (0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", None),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA", None),
    (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", None),
    (0x000B, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA", None),
    (0x000C, "TLS_DH_DSS_WITH_DES_CBC_SHA", None),
    (0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA", None),
    (0x000E, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA", None),
    (0x000F, "TLS_DH_RSA_WITH_DES_CBC_SHA", None),
    (0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA", None),
    (0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", None),
    (0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA", None),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", None),
    (0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", None),
    (0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA", None),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", None),
    (0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", None),
    (0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", None),
    (0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA", None),
    (0x001A, "TLS_DH_anon_WITH_DES_CBC_SHA", None),
    (0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", None),
    (0x002C, "TLS_PSK_WITH_NULL_SHA", "PSK-NULL-SHA"),
    (0x002D, "TLS_DHE_PSK_WITH_NULL_SHA", "DHE-PSK-NULL-SHA"),
    (0x002E, "TLS_RSA_PSK_WITH_NULL_SHA", "RSA-PSK-NULL-SHA"),
    (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"),
    (0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA", None),
    (0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA", None),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", "DHE-DSS-AES128-SHA"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "DHE-RSA-AES128-SHA"),
    (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", "ADH-AES128-SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"),
    (0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA", None),
    (0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA", None),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", "DHE-DSS-AES256-SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "DHE-RSA-AES256-SHA"),
    (0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA", "ADH-AES256-SHA"),
    (0x003B, "TLS_RSA_WITH_NULL_SHA256", "NULL-SHA256"),
    (0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"),
    (0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", "AES256-SHA256"),
    (0x003E, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256", None),
    (0x003F, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256", None),
    (0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", "DHE-DSS-AES128-SHA256"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", "CAMELLIA128-SHA"),
    (0x0042, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA", None),
    (0x0043, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA", None),
    (0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA", "DHE-DSS-CAMELLIA128-SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", "DHE-RSA-CAMELLIA128-SHA"),
    (0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA", "ADH-CAMELLIA128-SHA"),
    (0x0060, "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5", None),
    (0x0061, "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5", None),
    (0x0062, "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", None),
    (0x0063, "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA", None),
    (0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", None),
    (0x0065, "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA", None),
    (0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA", None),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE-RSA-AES128-SHA256"),
    (0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256", None),
    (0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256", None),
    (0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", "DHE-DSS-AES256-SHA256"),
    (0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "DHE-RSA-AES256-SHA256"),
    (0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256", "ADH-AES128-SHA256"),
    (0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256", "ADH-AES256-SHA256"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", "CAMELLIA256-SHA"),
    (0x0085, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA", None),
    (0x0086, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA", None),
    (0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA", "DHE-DSS-CAMELLIA256-SHA"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", "DHE-RSA-CAMELLIA256-SHA"),
    (0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA", "ADH-CAMELLIA256-SHA"),
    (0x008A, "TLS_PSK_WITH_RC4_128_SHA", None),
    (0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", "PSK-AES128-CBC-SHA"),
    (0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA", "PSK-AES256-CBC-SHA"),
    (0x008E, "TLS_DHE_PSK_WITH_RC4_128_SHA", None),
    (0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA", "DHE-PSK-AES128-CBC-SHA"),
    (0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA", "DHE-PSK-AES256-CBC-SHA"),
    (0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA", None),
    (0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA", "RSA-PSK-AES128-CBC-SHA"),
    (0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", "RSA-PSK-AES256-CBC-SHA"),
    (0x0097, "TLS_DH_DSS_WITH_SEED_CBC_SHA", None),
    (0x0098, "TLS_DH_RSA_WITH_SEED_CBC_SHA", None),
    (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"),
    (0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"),
    (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256"),
    (0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384"),
    (0x00A0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", None),
    (0x00A1, "TLS_DH_RSA_WITH_AES_256_GCM_SHA384", None),
    (0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", "DHE-DSS-AES128-GCM-SHA256"),
    (0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", "DHE-DSS-AES256-GCM-SHA384"),
    (0x00A4, "TLS_DH_DSS_WITH_AES_128_GCM_SHA256", None),
    (0x00A5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384", None),
    (0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", "ADH-AES128-GCM-SHA256"),
    (0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", "ADH-AES256-GCM-SHA384"),
    (0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", "PSK-AES128-GCM-SHA256"),
    (0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", "PSK-AES256-GCM-SHA384"),
    (0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", "DHE-PSK-AES128-GCM-SHA256"),
    (0x00AB, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", "DHE-PSK-AES256-GCM-SHA384"),
    (0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", "RSA-PSK-AES128-GCM-SHA256"),
    (0x00AD, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", "RSA-PSK-AES256-GCM-SHA384"),
    (0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256", "PSK-AES128-CBC-SHA256"),
    (0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", "PSK-AES256-CBC-SHA384"),
    (0x00B0, "TLS_PSK_WITH_NULL_SHA256", "PSK-NULL-SHA256"),
    (0x00B1, "TLS_PSK_WITH_NULL_SHA384", "PSK-NULL-SHA384"),
    (0x00B2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", "DHE-PSK-AES128-CBC-SHA256"),
    (0x00B3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384", "DHE-PSK-AES256-CBC-SHA384"),
    (0x00B4, "TLS_DHE_PSK_WITH_NULL_SHA256", "DHE-PSK-NULL-SHA256"),
    (0x00B5, "TLS_DHE_PSK_WITH_NULL_SHA384", "DHE-PSK-NULL-SHA384"),
    (0x00B6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256", "RSA-PSK-AES128-CBC-SHA256"),
    (0x00B7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384", "RSA-PSK-AES256-CBC-SHA384"),
    (0x00B8, "TLS_RSA_PSK_WITH_NULL_SHA256", "RSA-PSK-NULL-SHA256"),
    (0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384", "RSA-PSK-NULL-SHA384"),
    (0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256", "CAMELLIA128-SHA256"),
    (0x00BD, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256", "DHE-DSS-CAMELLIA128-SHA256"),
    (0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", "DHE-RSA-CAMELLIA128-SHA256"),
    (0x00BF, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256", "ADH-CAMELLIA128-SHA256"),
    (0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256", "CAMELLIA256-SHA256"),
    (0x00C3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256", "DHE-DSS-CAMELLIA256-SHA256"),
    (0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256", "DHE-RSA-CAMELLIA256-SHA256"),
    (0x00C5, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256", "ADH-CAMELLIA256-SHA256"),
    (0x1301, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
    (0x1302, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256"),
    (0x1304, "TLS_AES_128_CCM_SHA256", None),
    (0x1305, "TLS_AES_128_CCM_8_SHA256", None),
    (0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA", None),
    (0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA", None),
    (0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", None),
    (0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", None),
    (0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", None),
    (0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", "ECDHE-ECDSA-NULL-SHA"),
    (0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", None),
    (0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", None),
    (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"),
    (0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"),
    (0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA", None),
    (0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA", None),
    (0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", None),
    (0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", None),
    (0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", None),
    (0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA", "ECDHE-RSA-NULL-SHA"),
    (0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", None),
    (0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", None),
    (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"),
    (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"),
    (0xC015, "TLS_ECDH_anon_WITH_NULL_SHA", "AECDH-NULL-SHA"),
    (0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA", None),
    (0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", None),
    (0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", "AECDH-AES128-SHA"),
    (0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", "AECDH-AES256-SHA"),
    (0xC01A, "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA", None),
    (0xC01B, "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA", None),
    (0xC01C, "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA", None),
    (0xC01D, "TLS_SRP_SHA_WITH_AES_128_CBC_SHA", "SRP-AES-128-CBC-SHA"),
    (0xC01E, "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA", "SRP-RSA-AES-128-CBC-SHA"),
    (0xC01F, "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA", "SRP-DSS-AES-128-CBC-SHA"),
    (0xC020, "TLS_SRP_SHA_WITH_AES_256_CBC_SHA", "SRP-AES-256-CBC-SHA"),
    (0xC021, "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA", "SRP-RSA-AES-256-CBC-SHA"),
    (0xC022, "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA", "SRP-DSS-AES-256-CBC-SHA"),
    (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"),
    (0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE-ECDSA-AES256-SHA384"),
    (0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", None),
    (0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", None),
    (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"),
    (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE-RSA-AES256-SHA384"),
    (0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", None),
    (0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", None),
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    (0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", None),
    (0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", None),
    (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"),
    (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"),
    (0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", None),
    (0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", None),
    (0xC033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA", None),
    (0xC034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA", None),
    (0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", "ECDHE-PSK-AES128-CBC-SHA"),
    (0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", "ECDHE-PSK-AES256-CBC-SHA"),
    (0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", "ECDHE-PSK-AES128-CBC-SHA256"),
    (0xC038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", "ECDHE-PSK-AES256-CBC-SHA384"),
    (0xC039, "TLS_ECDHE_PSK_WITH_NULL_SHA", "ECDHE-PSK-NULL-SHA"),
    (0xC03A, "TLS_ECDHE_PSK_WITH_NULL_SHA256", "ECDHE-PSK-NULL-SHA256"),
    (0xC03B, "TLS_ECDHE_PSK_WITH_NULL_SHA384", "ECDHE-PSK-NULL-SHA384"),
    (0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256", "ARIA128-GCM-SHA256"),
    (0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384", "ARIA256-GCM-SHA384"),
    (0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256", "DHE-RSA-ARIA128-GCM-SHA256"),
    (0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384", "DHE-RSA-ARIA256-GCM-SHA384"),
    (0xC056, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256", "DHE-DSS-ARIA128-GCM-SHA256"),
    (0xC057, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384", "DHE-DSS-ARIA256-GCM-SHA384"),
    (0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", "ECDHE-ECDSA-ARIA128-GCM-SHA256"),
    (0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384", "ECDHE-ECDSA-ARIA256-GCM-SHA384"),
    (0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256", "ECDHE-ARIA128-GCM-SHA256"),
    (0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384", "ECDHE-ARIA256-GCM-SHA384"),
    (0xC06A, "TLS_PSK_WITH_ARIA_128_GCM_SHA256", "PSK-ARIA128-GCM-SHA256"),
    (0xC06B, "TLS_PSK_WITH_ARIA_256_GCM_SHA384", "PSK-ARIA256-GCM-SHA384"),
    (0xC06C, "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256", "DHE-PSK-ARIA128-GCM-SHA256"),
    (0xC06D, "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384", "DHE-PSK-ARIA256-GCM-SHA384"),
    (0xC06E, "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256", "RSA-PSK-ARIA128-GCM-SHA256"),
    (0xC06F, "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384", "RSA-PSK-ARIA256-GCM-SHA384"),
    (0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", "ECDHE-ECDSA-CAMELLIA128-SHA256"),
    (0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", "ECDHE-ECDSA-CAMELLIA256-SHA384"),
    (0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", "ECDHE-RSA-CAMELLIA128-SHA256"),
    (0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384", "ECDHE-RSA-CAMELLIA256-SHA384"),
    (0xC094, "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256", "PSK-CAMELLIA128-SHA256"),
    (0xC095, "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384", "PSK-CAMELLIA256-SHA384"),
    (0xC096, "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", "DHE-PSK-CAMELLIA128-SHA256"),
    (0xC097, "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", "DHE-PSK-CAMELLIA256-SHA384"),
    (0xC098, "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256", "RSA-PSK-CAMELLIA128-SHA256"),
    (0xC099, "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384", "RSA-PSK-CAMELLIA256-SHA384"),
    (0xC09A, "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", "ECDHE-PSK-CAMELLIA128-SHA256"),
    (0xC09B, "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", "ECDHE-PSK-CAMELLIA256-SHA384"),
    (0xC09C, "TLS_RSA_WITH_AES_128_CCM", "AES128-CCM"),
    (0xC09D, "TLS_RSA_WITH_AES_256_CCM", "AES256-CCM"),
    (0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", "DHE-RSA-AES128-CCM"),
    (0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", "DHE-RSA-AES256-CCM"),
    (0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", "AES128-CCM8"),
    (0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", "AES256-CCM8"),
    (0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", "DHE-RSA-AES128-CCM8"),
    (0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", "DHE-RSA-AES256-CCM8"),
    (0xC0A4, "TLS_PSK_WITH_AES_128_CCM", "PSK-AES128-CCM"),
    (0xC0A5, "TLS_PSK_WITH_AES_256_CCM", "PSK-AES256-CCM"),
    (0xC0A6, "TLS_DHE_PSK_WITH_AES_128_CCM", "DHE-PSK-AES128-CCM"),
    (0xC0A7, "TLS_DHE_PSK_WITH_AES_256_CCM", "DHE-PSK-AES256-CCM"),
    (0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8", "PSK-AES128-CCM8"),
    (0xC0A9, "TLS_PSK_WITH_AES_256_CCM_8", "PSK-AES256-CCM8"),
    (0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8", "DHE-PSK-AES128-CCM8"),
    (0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8", "DHE-PSK-AES256-CCM8"),
    (0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "ECDHE-ECDSA-AES128-CCM"),
    (0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "ECDHE-ECDSA-AES256-CCM"),
    (0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "ECDHE-ECDSA-AES128-CCM8"),
    (0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", "ECDHE-ECDSA-AES256-CCM8"),
    (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"),
    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    (0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE-RSA-CHACHA20-POLY1305"),
    (0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", "PSK-CHACHA20-POLY1305"),
    (0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-PSK-CHACHA20-POLY1305"),
    (0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", "DHE-PSK-CHACHA20-POLY1305"),
    (0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", "RSA-PSK-CHACHA20-POLY1305"),
)

# name prefix (before _WITH_) -> (kex, auth, forward secrecy, export)
_KEX: dict[str, tuple[str, str, bool, bool]] = {
    "RSA": ("RSA", "RSA", False, False),
    "RSA_EXPORT": ("RSA", "RSA", False, True),
    "RSA_EXPORT1024": ("RSA", "RSA", False, True),
    "DH_DSS": ("DH", "DSS", False, False),
    "DH_DSS_EXPORT": ("DH", "DSS", False, True),
    "DH_RSA": ("DH", "RSA", False, False),
    "DH_RSA_EXPORT": ("DH", "RSA", False, True),
    "DHE_DSS": ("DHE", "DSS", True, False),
    "DHE_DSS_EXPORT": ("DHE", "DSS", True, True),
    "DHE_DSS_EXPORT1024": ("DHE", "DSS", True, True),
    "DHE_RSA": ("DHE", "RSA", True, False),
    "DHE_RSA_EXPORT": ("DHE", "RSA", True, True),
    "DH_anon": ("DHE", "anon", True, False),
    "DH_anon_EXPORT": ("DHE", "anon", True, True),
    "ECDH_ECDSA": ("ECDH", "ECDSA", False, False),
    "ECDH_RSA": ("ECDH", "RSA", False, False),
    "ECDHE_ECDSA": ("ECDHE", "ECDSA", True, False),
    "ECDHE_RSA": ("ECDHE", "RSA", True, False),
    "ECDH_anon": ("ECDHE", "anon", True, False),
    "PSK": ("PSK", "PSK", False, False),
    "DHE_PSK": ("DHE", "PSK", True, False),
    "PSK_DHE": ("DHE", "PSK", True, False),
    "RSA_PSK": ("RSA", "PSK", False, False),
    "ECDHE_PSK": ("ECDHE", "PSK", True, False),
    "SRP_SHA": ("SRP", "anon", True, False),
    "SRP_SHA_RSA": ("SRP", "RSA", True, False),
    "SRP_SHA_DSS": ("SRP", "DSS", True, False),
}

# cipher name -> (effective bits, block bits, mode); longest names first when matching.
_CIPHERS: dict[str, tuple[int, int, Mode]] = {
    "NULL": (0, 0, "null"),
    "RC4_40": (40, 0, "stream"),
    "RC4_56": (56, 0, "stream"),
    "RC4_128": (128, 0, "stream"),
    "RC2_CBC_40": (40, 64, "cbc"),
    "RC2_CBC_56": (56, 64, "cbc"),
    "DES40_CBC": (40, 64, "cbc"),
    "DES_CBC_40": (40, 64, "cbc"),
    "DES_CBC": (56, 64, "cbc"),
    "3DES_EDE_CBC": (112, 64, "cbc"),
    "IDEA_CBC": (128, 64, "cbc"),
    "SEED_CBC": (128, 128, "cbc"),
    "AES_128_CBC": (128, 128, "cbc"),
    "AES_256_CBC": (256, 128, "cbc"),
    "AES_128_GCM": (128, 128, "aead"),
    "AES_256_GCM": (256, 128, "aead"),
    "AES_128_CCM_8": (128, 128, "aead"),
    "AES_256_CCM_8": (256, 128, "aead"),
    "AES_128_CCM": (128, 128, "aead"),
    "AES_256_CCM": (256, 128, "aead"),
    "CAMELLIA_128_CBC": (128, 128, "cbc"),
    "CAMELLIA_256_CBC": (256, 128, "cbc"),
    "CAMELLIA_128_GCM": (128, 128, "aead"),
    "CAMELLIA_256_GCM": (256, 128, "aead"),
    "ARIA_128_CBC": (128, 128, "cbc"),
    "ARIA_256_CBC": (256, 128, "cbc"),
    "ARIA_128_GCM": (128, 128, "aead"),
    "ARIA_256_GCM": (256, 128, "aead"),
    "CHACHA20_POLY1305": (256, 0, "aead"),
}
_CIPHER_NAMES = sorted(_CIPHERS, key=len, reverse=True)


def _describe(code: int, name: str, openssl_name: str | None) -> CipherSuiteInfo:
    body = name.removeprefix("TLS_")
    if "_WITH_" not in body:  # RFC 8446 §B.4: TLS_AEAD_HASH, key exchange negotiated apart
        cipher = next(c for c in _CIPHER_NAMES if body.startswith(c))
        bits, block, mode = _CIPHERS[cipher]
        return CipherSuiteInfo(
            code, name, openssl_name, "any", "any", cipher, bits, block, mode, "AEAD",
            True, False, True, True,
        )  # fmt: skip
    prefix, rest = body.split("_WITH_", 1)
    kex, auth, fs, export = _KEX[prefix]
    cipher = next(c for c in _CIPHER_NAMES if rest.startswith(c))
    bits, block, mode = _CIPHERS[cipher]
    mac = rest[len(cipher) :].lstrip("_") or "AEAD"
    if mode == "aead":
        mac = "AEAD"
    if export:
        bits = min(bits, 56 if "1024" in prefix else 40)
    tls12_only = mode == "aead" or mac in ("SHA256", "SHA384")
    return CipherSuiteInfo(
        code, name, openssl_name, kex, auth, cipher, bits, block, mode, mac,
        fs, export, False, tls12_only,
    )  # fmt: skip


CIPHER_SUITES: dict[int, CipherSuiteInfo] = {
    code: _describe(code, name, openssl) for code, name, openssl in _ROWS
}
"""Every cipher suite the auditor knows, by code point."""

TLS13_SUITES: tuple[int, ...] = tuple(c for c, s in CIPHER_SUITES.items() if s.tls13)
"""The TLS 1.3 suites (RFC 8446 §B.4)."""


def suite_info(code: int) -> CipherSuiteInfo:
    """The description of a code point; an unknown one gets a placeholder name."""
    info = CIPHER_SUITES.get(code)
    if info is not None:
        return info
    return CipherSuiteInfo(
        code, f"UNKNOWN_0x{code:04X}", None, "?", "?", "?", 0, 0, "null", "?",
        False, False, False, False,
    )  # fmt: skip


def suites_for_version(version: int) -> tuple[int, ...]:
    """The suites worth offering in a hello for protocol ``version`` (0x0300..0x0304)."""
    if version >= 0x0304:
        return TLS13_SUITES
    if version == 0x0303:
        return tuple(c for c, s in CIPHER_SUITES.items() if not s.tls13)
    return tuple(c for c, s in CIPHER_SUITES.items() if not s.tls13 and not s.tls12_only)


SSL2_CIPHER_KINDS: dict[int, SSL2CipherKind] = {
    k.code: k
    for k in (
        SSL2CipherKind(0x010080, "SSL_CK_RC4_128_WITH_MD5", 128, False),
        SSL2CipherKind(0x020080, "SSL_CK_RC4_128_EXPORT40_WITH_MD5", 40, True),
        SSL2CipherKind(0x030080, "SSL_CK_RC2_128_CBC_WITH_MD5", 128, False),
        SSL2CipherKind(0x040080, "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5", 40, True),
        SSL2CipherKind(0x050080, "SSL_CK_IDEA_128_CBC_WITH_MD5", 128, False),
        SSL2CipherKind(0x060040, "SSL_CK_DES_64_CBC_WITH_MD5", 56, False),
        SSL2CipherKind(0x0700C0, "SSL_CK_DES_192_EDE3_CBC_WITH_MD5", 112, False),
    )
}
"""SSL 2.0 cipher kinds (RFC 6101 draft, appendix C of the SSL 2.0 specification)."""


def _group(code: int, name: str, bits: int, kind: str, deprecated: bool = False) -> GroupInfo:
    return GroupInfo(code, name, bits, kind, deprecated)  # type: ignore[arg-type]


GROUPS: dict[int, GroupInfo] = {
    g.code: g
    for g in (
        *(
            _group(code, name, bits, "ec", True)
            for code, name, bits in (
                (1, "sect163k1", 80),
                (2, "sect163r1", 80),
                (3, "sect163r2", 80),
                (4, "sect193r1", 96),
                (5, "sect193r2", 96),
                (6, "sect233k1", 112),
                (7, "sect233r1", 112),
                (8, "sect239k1", 112),
                (9, "sect283k1", 128),
                (10, "sect283r1", 128),
                (11, "sect409k1", 192),
                (12, "sect409r1", 192),
                (13, "sect571k1", 256),
                (14, "sect571r1", 256),
                (15, "secp160k1", 80),
                (16, "secp160r1", 80),
                (17, "secp160r2", 80),
                (18, "secp192k1", 96),
                (19, "secp192r1", 96),
                (20, "secp224k1", 112),
                (21, "secp224r1", 112),
                (22, "secp256k1", 128),
            )
        ),
        _group(23, "secp256r1", 128, "ec"),
        _group(24, "secp384r1", 192, "ec"),
        _group(25, "secp521r1", 256, "ec"),
        _group(26, "brainpoolP256r1", 128, "ec"),
        _group(27, "brainpoolP384r1", 192, "ec"),
        _group(28, "brainpoolP512r1", 256, "ec"),
        _group(29, "x25519", 128, "ec"),
        _group(30, "x448", 224, "ec"),
        _group(31, "brainpoolP256r1tls13", 128, "ec"),
        _group(32, "brainpoolP384r1tls13", 192, "ec"),
        _group(33, "brainpoolP512r1tls13", 256, "ec"),
        _group(256, "ffdhe2048", 103, "ff"),
        _group(257, "ffdhe3072", 125, "ff"),
        _group(258, "ffdhe4096", 150, "ff"),
        _group(259, "ffdhe6144", 175, "ff"),
        _group(260, "ffdhe8192", 192, "ff"),
        _group(0x0200, "MLKEM512", 128, "pq"),
        _group(0x0201, "MLKEM768", 192, "pq"),
        _group(0x0202, "MLKEM1024", 256, "pq"),
        _group(0x11EB, "SecP256r1MLKEM768", 192, "hybrid"),
        _group(0x11EC, "X25519MLKEM768", 192, "hybrid"),
        _group(0x11ED, "SecP384r1MLKEM1024", 256, "hybrid"),
        _group(0x6399, "X25519Kyber768Draft00", 192, "hybrid", True),
        _group(0x639A, "SecP256r1Kyber768Draft00", 192, "hybrid", True),
    )
}
"""Named groups by code point."""

_CONFIG_NAMES: dict[int, str] = {23: "P-256", 24: "P-384", 25: "P-521", 29: "X25519", 30: "X448"}

ENGINE_GROUPS: tuple[str, ...] = (
    "X25519MLKEM768",
    "SecP256r1MLKEM768",
    "SecP384r1MLKEM1024",
    "X25519",
    "X448",
    "P-256",
    "P-384",
    "P-521",
    "MLKEM768",
    "MLKEM1024",
)
"""The groups the TLS engine may be configured with (``groups = [...]``), post-quantum hybrids
first, by their config names: the one vocabulary of configs, the doctor and reports."""

_BY_NAME: dict[str, GroupInfo] = {}


def group_by_name(name: str) -> GroupInfo | None:
    """A group by any of its names: config (``P-256``), IANA (``secp256r1``), OpenSSL's
    (``prime256v1``), in any case."""
    if not _BY_NAME:
        for info in GROUPS.values():
            _BY_NAME[info.name.lower()] = info
            _BY_NAME[info.config_name.lower()] = info
        _BY_NAME["prime256v1"] = GROUPS[23]
    return _BY_NAME.get(name.lower())


def config_group_name(name: str) -> str:
    """``x25519`` / ``secp256r1`` / ``prime256v1`` (as OpenSSL reports them) -> ``X25519`` /
    ``P-256``: what the engine reports a negotiated group as. Unknown names pass unchanged."""
    info = group_by_name(name)
    return info.config_name if info is not None else name


SIGNATURE_SCHEMES: dict[int, str] = {
    0x0201: "rsa_pkcs1_sha1",
    0x0202: "dsa_sha1",
    0x0203: "ecdsa_sha1",
    0x0301: "rsa_pkcs1_sha224",
    0x0302: "dsa_sha224",
    0x0303: "ecdsa_sha224",
    0x0401: "rsa_pkcs1_sha256",
    0x0402: "dsa_sha256",
    0x0403: "ecdsa_secp256r1_sha256",
    0x0501: "rsa_pkcs1_sha384",
    0x0502: "dsa_sha384",
    0x0503: "ecdsa_secp384r1_sha384",
    0x0601: "rsa_pkcs1_sha512",
    0x0602: "dsa_sha512",
    0x0603: "ecdsa_secp521r1_sha512",
    0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384",
    0x0806: "rsa_pss_rsae_sha512",
    0x0807: "ed25519",
    0x0808: "ed448",
    0x0809: "rsa_pss_pss_sha256",
    0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512",
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
    0x0904: "mldsa44",
    0x0905: "mldsa65",
    0x0906: "mldsa87",
}
"""Signature schemes (RFC 8446 §4.2.3 and the IANA registry), all offered by the auditor."""
