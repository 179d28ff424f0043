"""The rules of ``zerotls audit code``, as data.

Each rule names one dangerous practice, says why it is dangerous (the attack it opens) and how
to fix it, with zerotls or with the standard library. The analysis in :mod:`._analysis` decides
*where* a rule fires; this module only says *what* each rule means, so the documentation, the
text report and the SARIF ``rules`` table are all generated from one place.

Identifier families:

* ``TLS``: TLS configuration (stdlib ``ssl``, pyOpenSSL, HTTP client libraries);
* ``NET``: cleartext network use where TLS belongs;
* ``MAC``: message authentication codes (``hmac``);
* ``HASH``, ``CRY``: weak hashes, keys and ciphers (``hashlib``, ``cryptography``, pyCrypto);
* ``SSH``: SSH host-key policies (paramiko);
* ``ZTL``: the audit itself (unparsable files, invalid or unused suppressions).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["RULES", "Rule", "Severity", "rule"]


class Severity(enum.Enum):
    """How bad a finding is; ordered: ``info < low < medium < high``."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 for info up to 3 for high (for sorting and for the CI gate)."""
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """``"high"``, ``"Medium"`` ... into a Severity.

        Raises:
            ValueError: not a severity name (the message lists the valid ones).
        """
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r}: use one of {names}") from None


_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: what it finds, why that is dangerous, and the usual fix."""

    id: str
    """``TLS004``: stable, used in suppressions, ``--select`` and SARIF."""
    severity: Severity
    title: str
    """A short name for the practice, e.g. "certificate verification disabled"."""
    why: str
    """The security reason: the attack this practice makes possible."""
    fix: str
    """The usual fix; a finding may carry a more specific one."""
    cwe: int | None = None
    """The closest CWE, for code-scanning UIs."""


_ZEROTLS_CLIENT = (
    "zerotls.connect(host, port, ClientConfig(server_name=host)) (blocking) or "
    "await zerotls.open_connection(host, port, ClientConfig(server_name=host))"
)

_RULE_LIST: tuple[Rule, ...] = (
    Rule(
        "TLS001",
        Severity.HIGH,
        "legacy protocol version (SSLv2, SSLv3, TLS 1.0 or TLS 1.1)",
        "SSLv3, TLS 1.0 and TLS 1.1 are broken and deprecated (RFC 7568, RFC 8996): POODLE and "
        "BEAST decrypt their CBC records, they lack AEAD suites and rely on MD5/SHA-1 in the "
        "handshake, and offering them lets an attacker in the path downgrade every connection "
        "to the weakest version both sides accept.",
        "Use TLS 1.3, zerotls's default: " + _ZEROTLS_CLIENT + "; with the stdlib, "
        "ssl.create_default_context() and ctx.minimum_version = ssl.TLSVersion.TLSv1_2 (or "
        "TLSv1_3). To find peers that still need legacy versions, run "
        "`zerotls audit tls HOST:PORT` instead of enabling them in code.",
        327,
    ),
    Rule(
        "TLS002",
        Severity.LOW,
        "pyOpenSSL context without a protocol floor",
        "A generic method (TLS_METHOD, SSLv23_METHOD, TLS_CLIENT_METHOD, TLS_SERVER_METHOD) "
        "negotiates down to whatever the OpenSSL build and its configuration allow; on older "
        "builds or relaxed system policies that includes TLS 1.0 and 1.1, which gives a "
        "downgrade to broken protocols. The floor belongs in code, next to the context.",
        "Call ctx.set_min_proto_version(SSL.TLS1_2_VERSION) (or TLS1_3_VERSION) right after "
        "SSL.Context(SSL.TLS_CLIENT_METHOD); or let zerotls build the context: "
        "zerotls.tls.context.TLSContext(ClientConfig(...)) sets TLS 1.3 by default.",
        757,
    ),
    Rule(
        "TLS003",
        Severity.HIGH,
        "unverified stdlib context helper",
        "ssl._create_unverified_context() (and _create_stdlib_context) turn off both "
        "certificate verification and the host-name check: anyone on the path can present "
        "any certificate and read or change the traffic (spoofing, man in the middle). "
        "Installing it as ssl._create_default_https_context does this for every urllib "
        "request in the process.",
        "Use ssl.create_default_context() (verifies the chain and the host name); for a "
        "private CA, ssl.create_default_context(cafile='ca.pem') or "
        "zerotls.to_ssl_context(ClientConfig(server_name='host', ca='ca.pem')).",
        295,
    ),
    Rule(
        "TLS004",
        Severity.HIGH,
        "certificate verification disabled",
        "Without chain verification any certificate is accepted, so an attacker on the path "
        "(public Wi-Fi, a compromised router, ARP or DNS spoofing) impersonates the server "
        "with a self-made certificate and reads or alters everything: TLS without "
        "verification only protects against passive eavesdroppers.",
        "Keep verification on. For a private CA give its bundle instead of turning checks "
        "off: requests verify='ca.pem'; httpx verify=ssl_context; aiohttp ssl=ssl_context; "
        "where ssl_context = zerotls.to_ssl_context(ClientConfig(server_name='host', "
        "ca='ca.pem')) or ssl.create_default_context(cafile='ca.pem').",
        295,
    ),
    Rule(
        "TLS005",
        Severity.HIGH,
        "host-name verification disabled",
        "A verified chain only proves that *some* CA vouched for *some* name. Without the "
        "host-name check, any valid certificate for any domain (free from any public CA) "
        "impersonates this server: spoofing with a certificate that verifies.",
        "Leave check_hostname = True and pass server_hostname= to wrap_socket/wrap_bio. "
        "zerotls always checks the name on the SANs: ClientConfig(server_name='host') (or "
        "expect_identity='spiffe://...' for workload identities).",
        297,
    ),
    Rule(
        "TLS006",
        Severity.HIGH,
        "cipher string enables broken or unauthenticated suites",
        "Cipher strings such as ALL, aNULL, eNULL, EXPORT, LOW, RC4, DES, 3DES or MD5 enable "
        "suites with no authentication (anyone can be the server), no encryption, export-grade "
        "keys (FREAK, Logjam), biased or 64-bit-block ciphers (RC4 biases, SWEET32): a "
        "downgrade or a passive attacker then recovers the traffic. @SECLEVEL=0 lifts every "
        "safety limit of OpenSSL.",
        "Do not set ciphers at all (TLS 1.3 suites are all AEAD with forward secrecy), or use "
        "ECDHE with AEAD only, e.g. zerotls.tls.config.TLS12_CIPHERS for a TLS 1.2 floor.",
        327,
    ),
    Rule(
        "TLS007",
        Severity.MEDIUM,
        "cipher string allows suites without forward secrecy",
        "Suites with RSA key exchange (kRSA, AES128-SHA, AES256-GCM-SHA384 ...) encrypt the "
        "session key to the server's long-term key: whoever records the traffic today and "
        "obtains that key later (a breach, a subpoena, a future quantum computer) decrypts all "
        "past sessions. No forward secrecy; also the ROBOT/Bleichenbacher family of attacks.",
        "Restrict TLS 1.2 to ECDHE key exchange with AEAD (e.g. "
        "zerotls.tls.config.TLS12_CIPHERS, or add !kRSA to the string); better, require TLS "
        "1.3 where every suite has forward secrecy.",
        327,
    ),
    Rule(
        "TLS008",
        Severity.HIGH,
        "ssl.wrap_socket()",
        "The module-level ssl.wrap_socket() verifies no certificate by default "
        "(cert_reqs=CERT_NONE) and never checks the host name, so the connection is open to "
        "a man in the middle; it is deprecated and was removed in Python 3.12.",
        "ctx = ssl.create_default_context(); ctx.wrap_socket(sock, server_hostname=host); or "
        + _ZEROTLS_CLIENT
        + ".",
        295,
    ),
    Rule(
        "TLS009",
        Severity.MEDIUM,
        "stdlib SSLContext with a generic protocol does not verify",
        "ssl.SSLContext() and ssl.SSLContext(PROTOCOL_TLS / PROTOCOL_SSLv23) start with "
        "verify_mode = CERT_NONE and check_hostname = False: used as a client, the "
        "connection accepts any certificate (spoofing) unless verification is switched on "
        "afterwards; the protocol constants are deprecated since Python 3.10.",
        "Client: ssl.create_default_context() or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) (both "
        "verify chain and name); server: ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); or "
        "zerotls.to_ssl_context(ClientConfig(...) / ServerConfig(...)).",
        295,
    ),
    Rule(
        "TLS010",
        Severity.LOW,
        "insecure-request warnings silenced",
        "urllib3.disable_warnings() and filters on InsecureRequestWarning hide the one signal "
        "that a request went out without certificate verification; the unverified requests "
        "then go unnoticed in logs and tests.",
        "Remove the filter and fix the requests it hides (verify against the right CA "
        "bundle); if a test needs it, scope it with warnings.catch_warnings().",
        778,
    ),
    Rule(
        "NET001",
        Severity.MEDIUM,
        "cleartext TCP connection to a remote host",
        "Bytes sent over a plain TCP socket can be read and changed by anyone on the path, "
        "and the peer is identified only by its address, which DNS or routing attacks "
        "redirect: no confidentiality, no integrity, no authentication.",
        "Wrap the connection in TLS: "
        + _ZEROTLS_CLIENT
        + "; or ssl.create_default_context().wrap_socket(sock, server_hostname=host). For a "
        "legacy client you cannot change, run `zerotls tunnel client` on loopback in front "
        "of it.",
        319,
    ),
    Rule(
        "NET002",
        Severity.LOW,
        "cleartext TCP connection to a host that could not be resolved",
        "Same risk as NET001, but the destination is computed at run time, so the analysis "
        "cannot tell whether it is a remote host or a loopback address.",
        "If the host can be remote, use TLS (" + _ZEROTLS_CLIENT + "); if it is always "
        "loopback or a local socket, suppress with that reason.",
        319,
    ),
    Rule(
        "NET003",
        Severity.MEDIUM,
        "cleartext protocol client (Telnet, FTP, SMTP, IMAP, POP3, HTTP)",
        "Telnet, FTP and plain SMTP/IMAP/POP3/HTTP send credentials and data in clear text: "
        "anyone on the path reads passwords and can inject commands or content.",
        "Use the TLS variant: ftplib.FTP_TLS (then prot_p()), smtplib.SMTP_SSL or "
        "SMTP(...).starttls(context=ssl.create_default_context()), imaplib.IMAP4_SSL, "
        "poplib.POP3_SSL, http.client.HTTPSConnection, SSH instead of Telnet.",
        319,
    ),
    Rule(
        "NET004",
        Severity.MEDIUM,
        "cleartext URL (http://, ws://, ftp://) to a remote host",
        "A request to an http:// or ws:// URL travels unencrypted and unauthenticated: the "
        "response can be replaced (malicious code, forged data) and any token or cookie in "
        "the request is readable on the path.",
        "Use https:// or wss:// (with verification on); for internal services without a "
        "certificate, issue one with `zerotls pki issue` or put `zerotls tunnel server` in "
        "front of them.",
        319,
    ),
    Rule(
        "MAC001",
        Severity.HIGH,
        "MAC compared with == or !=",
        "== stops at the first differing byte, so the time it takes leaks how much of a "
        "guessed MAC is right; an attacker who can measure it forges a valid tag byte by "
        "byte (MAC forgery through timing).",
        "hmac.compare_digest(expected, received) compares in constant time; or use "
        "zerotls.integrity: Verifier(ring).verify(envelope) checks MAC, age and replay.",
        208,
    ),
    Rule(
        "MAC002",
        Severity.MEDIUM,
        "HMAC with MD5 or SHA-1",
        "HMAC-MD5 and HMAC-SHA1 are not yet forgeable in practice, but both hashes are broken "
        "for collisions, their tags are short (128/160 bits), and they are disallowed by "
        "current guidance (NIST SP 800-131A, FIPS 140-3 for new systems): a MAC chosen "
        "today must outlive its replacements.",
        "hmac.new(key, msg, hashlib.sha256); or zerotls.integrity.sign(ring, payload), which "
        "builds HMAC-SHA256 envelopes with key rotation and replay protection.",
        328,
    ),
    Rule(
        "HASH001",
        Severity.MEDIUM,
        "MD5 or SHA-1 used where security may depend on it",
        "MD5 and SHA-1 collide in practice (Flame forged a Microsoft code-signing certificate "
        "with MD5; SHAttered produced two PDFs with one SHA-1): as a fingerprint, a pin, a "
        "signature digest or an integrity check, they let an attacker substitute data.",
        "Use hashlib.sha256 (pins: SHA-256 of the SPKI, as zerotls.tls.identity.spki_pin "
        "does). If the digest is not used for security (a cache key, a checksum), say so: "
        "hashlib.md5(data, usedforsecurity=False).",
        328,
    ),
    Rule(
        "CRY001",
        Severity.HIGH,
        "pyCrypto imported",
        "pyCrypto has been unmaintained since 2013 and has known memory-corruption bugs "
        "(CVE-2013-7459, a heap overflow in AES.new); nothing fixes them.",
        "Use cryptography (AESGCM, ChaCha20Poly1305, Ed25519 ...). If this import is "
        "pycryptodome (it reuses the `Crypto` package name), keep it current and suppress "
        "with that reason.",
        1104,
    ),
    Rule(
        "CRY002",
        Severity.HIGH,
        "weak key size",
        "RSA and DSA keys under 2048 bits and elliptic curves under 224 bits are within reach "
        "of well-funded attackers; a certificate or signature key that can be factored lets "
        "its holder be impersonated for the key's whole lifetime.",
        "RSA 3072 (at least 2048), or EC P-256 / Ed25519 (zerotls pki uses P-256 by "
        "default: `zerotls pki issue`).",
        326,
    ),
    Rule(
        "CRY003",
        Severity.HIGH,
        "broken cipher or ECB mode",
        "RC4, DES, 3DES, Blowfish, CAST5, IDEA, ARC2 and XOR are broken or have 64-bit blocks "
        "(SWEET32); ECB encrypts equal blocks to equal ciphertext and leaks patterns. None "
        "provides integrity, so ciphertexts can also be altered unnoticed.",
        "Use an AEAD: cryptography.hazmat.primitives.ciphers.aead.AESGCM or "
        "ChaCha20Poly1305 (a fresh 96-bit nonce per message); for data in transit, TLS 1.3 "
        "with zerotls.",
        327,
    ),
    Rule(
        "SSH001",
        Severity.HIGH,
        "SSH host key accepted without verification",
        "paramiko's AutoAddPolicy and WarningPolicy accept any unknown host key, so the first "
        "(or every) connection can go to an impostor that logs the password and the session: "
        "spoofing, exactly as TLS without verification.",
        "client.load_system_host_keys() (or load_host_keys(path)) and keep the default "
        "RejectPolicy; distribute host keys out of band (or use SSH certificates).",
        295,
    ),
    Rule(
        "ZTL001",
        Severity.MEDIUM,
        "file could not be audited",
        "A file that cannot be read or parsed as Python was not audited at all: anything in "
        "it stays unchecked.",
        "Fix the syntax error or the encoding, or exclude the file (--exclude) if it is not "
        "Python 3 source.",
        None,
    ),
    Rule(
        "ZTL002",
        Severity.MEDIUM,
        "invalid suppression",
        "A suppression must name the rule ids it silences and say why (`# zerotls: "
        "ignore[TLS004] test server with a throwaway certificate`); without a reason nobody "
        "can later judge whether it still holds, so it does not suppress anything.",
        "Write the rule ids in brackets and a reason after them.",
        None,
    ),
    Rule(
        "ZTL003",
        Severity.INFO,
        "unused suppression",
        "A suppression with nothing to suppress on its line hides nothing today but would "
        "silently hide a future finding there.",
        "Remove the comment, or move it to the line the finding is reported on.",
        None,
    ),
)

RULES: dict[str, Rule] = {r.id: r for r in _RULE_LIST}
"""Every rule by id, in documentation order."""


def rule(rule_id: str) -> Rule:
    """The rule with this id (``KeyError`` for an unknown id: a bug in the analysis)."""
    return RULES[rule_id]
