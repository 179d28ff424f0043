"""Findings: what is wrong on a target, how bad it is, and how to fix it (a pure function).

Every finding has a stable id (the SARIF rule id, and what grade caps refer to), a severity, a
sentence of detail built from the evidence, and a fix written for the servers people run
(nginx, Apache, HAProxy), so a report can be acted on without a search engine.
"""

from __future__ import annotations

from typing import Any

from zerotls._wire.suites import suite_info
from zerotls.audit.model import (
    CCSInjectionResult,
    CertificateResult,
    ClientAuthResult,
    CompressionResult,
    DTLSCookieResult,
    FallbackResult,
    Finding,
    GreaseResult,
    GroupsResult,
    HeartbleedResult,
    HSTSResult,
    ProtocolsResult,
    RenegotiationResult,
    ResumptionResult,
    RobotResult,
    Severity,
    SuiteResult,
    Target,
    TicketbleedResult,
)

__all__ = ["FIXES", "RULES", "findings_for"]

_PROTOCOLS_FIX = (
    "allow TLS 1.2 and 1.3 only: nginx `ssl_protocols TLSv1.2 TLSv1.3;` · Apache "
    "`SSLProtocol -all +TLSv1.2 +TLSv1.3` · HAProxy `ssl-default-bind-options ssl-min-ver TLSv1.2`"
)
_CIPHERS_FIX = (
    "use the Mozilla intermediate suites: nginx `ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:"
    "DHE-RSA-AES256-GCM-SHA384;` (Apache: the same list in `SSLCipherSuite`)"
)

FIXES: dict[str, str] = {
    "protocol.sslv2": "disable SSLv2 (DROWN): " + _PROTOCOLS_FIX,
    "protocol.sslv3": "disable SSLv3 (POODLE): " + _PROTOCOLS_FIX,
    "protocol.tls10": "disable TLS 1.0/1.1 (RFC 8996): " + _PROTOCOLS_FIX,
    "protocol.tls11": "disable TLS 1.0/1.1 (RFC 8996): " + _PROTOCOLS_FIX,
    "protocol.dtls10": "offer DTLS 1.2 only (OpenSSL: DTLS_server_method() with "
    "SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION); GnuTLS priority "
    "'NORMAL:-VERS-DTLS1.0')",
    "dtls.no_cookie": "answer unverified ClientHellos with a HelloVerifyRequest cookie (RFC 6347 "
    "§4.2.1): OpenSSL DTLSv1_listen() or SSL_OP_COOKIE_EXCHANGE with cookie callbacks; GnuTLS "
    "gnutls_dtls_cookie_send()/verify() (gnutls-serv without --nocookie)",
    "protocol.no_tls12": "enable TLS 1.2 and 1.3 (upgrade the TLS library if it lacks them): "
    + _PROTOCOLS_FIX,
    "protocol.no_tls13": "enable TLS 1.3: nginx `ssl_protocols TLSv1.2 TLSv1.3;` (OpenSSL 1.1.1 "
    "or newer) · Apache `SSLProtocol -all +TLSv1.2 +TLSv1.3`",
    "cipher.export": "remove export suites (FREAK, Logjam): " + _CIPHERS_FIX,
    "cipher.null": "remove NULL suites (no encryption): " + _CIPHERS_FIX,
    "cipher.anon": "remove anonymous suites (no authentication): " + _CIPHERS_FIX,
    "cipher.rc4": "remove RC4 suites (RFC 7465): " + _CIPHERS_FIX,
    "cipher.des": "remove DES and other sub-112-bit suites: " + _CIPHERS_FIX,
    "cipher.3des": "remove 3DES and other 64-bit-block suites (Sweet32): " + _CIPHERS_FIX,
    "cipher.no_fs": "offer ECDHE key exchange and drop static RSA/DH suites: " + _CIPHERS_FIX,
    "cipher.static_kex": "drop static RSA/DH suites, or at least prefer ECDHE ones (nginx "
    "`ssl_prefer_server_ciphers on;` · Apache `SSLHonorCipherOrder on`): " + _CIPHERS_FIX,
    "cipher.no_aead": "offer AES-GCM or ChaCha20-Poly1305 suites: " + _CIPHERS_FIX,
    "cipher.cbc": "prefer AEAD suites and drop CBC ones when old clients allow: " + _CIPHERS_FIX,
    "cipher.beast": "disable TLS 1.0 (and SSLv3), which ends BEAST: " + _PROTOCOLS_FIX,
    "kex.dh_insecure": "use 2048-bit or larger DH groups, or drop DHE: nginx `ssl_dhparam "
    "ffdhe2048.pem;` (RFC 7919 group) · Apache `SSLOpenSSLConfCmd DHParameters ffdhe2048.pem`",
    "kex.dh_weak": "use 2048-bit or larger DH groups (RFC 7919 ffdhe2048): nginx `ssl_dhparam "
    "ffdhe2048.pem;` · Apache `SSLOpenSSLConfCmd DHParameters ffdhe2048.pem`",
    "group.deprecated": "offer X25519, P-256 and P-384 only: nginx `ssl_ecdh_curve "
    "X25519MLKEM768:X25519:prime256v1:secp384r1;` · Apache `SSLOpenSSLConfCmd Curves ...`",
    "group.no_pq": "add the post-quantum hybrid X25519MLKEM768 first (OpenSSL 3.5+): nginx "
    "`ssl_ecdh_curve X25519MLKEM768:X25519:prime256v1:secp384r1;`",
    "cert.expired": "renew the certificate and reload the server (automate it: ACME, or "
    "`zerotls pki issue` for internal services)",
    "cert.not_yet_valid": "check the server's and the CA's clocks; install a certificate "
    "already valid",
    "cert.expires_soon": "renew the certificate now, and automate renewal (ACME or "
    "`zerotls pki issue` on a timer)",
    "cert.hostname": "issue a certificate whose subjectAltName lists this name (the common "
    "name is ignored by clients)",
    "cert.untrusted": "use a certificate from a CA the clients trust, and send its "
    "intermediates (nginx: the full chain in `ssl_certificate`)",
    "cert.self_signed": "replace the self-signed certificate with one from a trusted CA (a "
    "private CA such as `zerotls pki` for internal services)",
    "cert.incomplete_chain": "send the intermediate certificates: nginx `ssl_certificate` "
    "with leaf then intermediates in one file · Apache `SSLCertificateFile` with the chain",
    "cert.weak_key": "reissue with an ECDSA P-256 key or RSA 2048+ (`zerotls pki issue` uses "
    "P-256)",
    "cert.sha1": "reissue the certificate (and intermediates) with SHA-256 signatures",
    "cert.must_staple_missing": "the certificate demands OCSP stapling: nginx `ssl_stapling "
    "on; ssl_stapling_verify on;` · Apache `SSLUseStapling on`",
    "cert.no_sct": "public CAs embed SCTs; if this certificate must be trusted by browsers, "
    "reissue it from a CA that logs to Certificate Transparency",
    "cert.pin_drift": "the key changed: update the pins (`--pin`) if the change was planned, "
    "otherwise investigate a possible interception",
    "ocsp.missing": "enable OCSP stapling: nginx `ssl_stapling on; ssl_stapling_verify on;` · "
    "Apache `SSLUseStapling on`",
    "ocsp.invalid": "fix the stapled OCSP response (the server staples a stale or wrong "
    "response; check its access to the responder)",
    "ocsp.revoked": "the certificate is revoked: install a new one now",
    "reneg.insecure": "upgrade the TLS library: every supported one implements RFC 5746",
    "reneg.client_initiated": "disable client-initiated renegotiation: OpenSSL 3 does so by "
    "default (Apache `SSLInsecureRenegotiation off`; nginx never allows it)",
    "early_data.enabled": "turn 0-RTT off unless the application refuses replays of early "
    "requests (nginx: ssl_early_data off, the default; or pass $ssl_early_data to the "
    "backend and reject non-idempotent requests with it, RFC 8470)",
    "client_auth.required": "nothing to fix: mutual TLS; check that the CA names listed are "
    "the ones your clients' certificates chain to",
    "client_auth.optional": "if every client should prove who it is, require the certificate "
    "(nginx: ssl_verify_client on; zerotls servers require it by default)",
    "compression.enabled": "disable TLS compression (CRIME): nginx and Apache do by default; "
    "OpenSSL `Options = -Compression`",
    "fallback.missing": "upgrade the TLS library (TLS_FALLBACK_SCSV, RFC 7507), and disable "
    "old protocol versions so no downgrade is possible",
    "hello.size_intolerant": "upgrade or reconfigure the load balancer, firewall or TLS "
    "library in front of the server: ClientHellos with post-quantum key shares "
    "(X25519MLKEM768, sent by Chrome 131+, Firefox 132+, OpenSSL 3.5+) are about 1.8 KB and "
    "span more than one TCP segment; a device that caps or reassembles hellos badly fails "
    "them",
    "grease.intolerant": "upgrade the TLS library, or the load balancer or middlebox in front "
    "of it: it must ignore cipher suites, groups, versions and extensions it does not know "
    "(RFC 8701); clients that send GREASE (Chrome, Firefox) fail against it",
    "ccs_injection": "upgrade OpenSSL (1.0.1h, 1.0.0m or 0.9.8za or later): an attacker in "
    "the middle can read and change the traffic of this server's clients",
    "robot": "turn off static RSA key exchange (keep ECDHE suites only: nginx "
    "`ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;`), or upgrade the TLS stack or the load "
    "balancer firmware that answers bad padding differently (https://robotattack.org); "
    "recorded sessions that used RSA key exchange with this key may be decrypted",
    "ticketbleed": "upgrade the F5 BIG-IP software (K05121675), or disable session tickets "
    "on its client SSL profile until then: each resumption leaks up to 31 bytes of memory",
    "heartbleed": "upgrade OpenSSL (1.0.1g or later) now, then replace the private key and "
    "revoke the certificate: memory may have leaked",
    "resumption.none": "enable session resumption for faster reconnects: nginx "
    "`ssl_session_cache shared:SSL:10m;`",
    "hsts.missing": "send HSTS: nginx `add_header Strict-Transport-Security "
    '"max-age=63072000" always;` · Apache `Header always set Strict-Transport-Security '
    '"max-age=63072000"`',
    "hsts.short": "raise HSTS max-age to at least 180 days (63072000 recommended)",
    "probe.incomplete": "check that the target is reachable and speaks TLS on this port; "
    "retry with a longer --timeout",
}

RULES: dict[str, tuple[Severity, str]] = {
    "protocol.sslv2": (Severity.critical, "SSLv2 is enabled"),
    "protocol.sslv3": (Severity.high, "SSLv3 is enabled"),
    "protocol.tls10": (Severity.medium, "TLS 1.0 is enabled"),
    "protocol.tls11": (Severity.medium, "TLS 1.1 is enabled"),
    "protocol.dtls10": (Severity.medium, "DTLS 1.0 is enabled"),
    "dtls.no_cookie": (
        Severity.high,
        "DTLS without a cookie exchange: a reflection amplifier for spoofed sources",
    ),
    "protocol.no_tls12": (Severity.high, "TLS 1.2 is not supported"),
    "protocol.no_tls13": (Severity.low, "TLS 1.3 is not supported"),
    "cipher.export": (Severity.critical, "export-grade cipher suites are accepted"),
    "cipher.null": (Severity.critical, "NULL (unencrypted) cipher suites are accepted"),
    "cipher.anon": (Severity.critical, "anonymous (unauthenticated) cipher suites are accepted"),
    "cipher.rc4": (Severity.high, "RC4 cipher suites are accepted"),
    "cipher.des": (Severity.high, "cipher suites under 112 bits are accepted"),
    "cipher.3des": (Severity.medium, "64-bit block ciphers (3DES, IDEA) are accepted"),
    "cipher.no_fs": (Severity.high, "no forward secrecy"),
    "cipher.static_kex": (Severity.medium, "key exchange without forward secrecy accepted"),
    "cipher.no_aead": (Severity.medium, "no AEAD cipher suite"),
    "cipher.cbc": (Severity.low, "CBC-mode cipher suites are accepted (LUCKY13, POODLE-TLS)"),
    "cipher.beast": (Severity.low, "CBC suites in TLS 1.0 or SSLv3 (BEAST)"),
    "kex.dh_insecure": (Severity.critical, "DH parameters under 1024 bits (Logjam)"),
    "kex.dh_weak": (Severity.medium, "DH parameters under 2048 bits"),
    "group.deprecated": (Severity.low, "deprecated key-exchange groups are accepted"),
    "group.no_pq": (Severity.info, "no post-quantum key exchange"),
    "cert.expired": (Severity.critical, "the certificate has expired"),
    "cert.not_yet_valid": (Severity.high, "the certificate is not yet valid"),
    "cert.expires_soon": (Severity.medium, "the certificate expires soon"),
    "cert.hostname": (Severity.high, "the certificate does not match the host name"),
    "cert.untrusted": (Severity.high, "the certificate chain is not trusted"),
    "cert.self_signed": (Severity.high, "the certificate is self-signed"),
    "cert.incomplete_chain": (Severity.medium, "the certificate chain is incomplete"),
    "cert.weak_key": (Severity.high, "the certificate key is too weak"),
    "cert.sha1": (Severity.high, "a certificate is signed with SHA-1"),
    "cert.must_staple_missing": (Severity.high, "must-staple certificate without a staple"),
    "cert.no_sct": (Severity.info, "no Certificate Transparency timestamps"),
    "cert.pin_drift": (Severity.high, "no certificate matches the expected pins"),
    "ocsp.missing": (Severity.low, "no OCSP staple"),
    "ocsp.invalid": (Severity.medium, "the stapled OCSP response is invalid"),
    "ocsp.revoked": (Severity.critical, "the certificate is revoked"),
    "reneg.insecure": (Severity.high, "secure renegotiation (RFC 5746) is not supported"),
    "reneg.client_initiated": (Severity.medium, "client-initiated renegotiation is allowed"),
    "compression.enabled": (Severity.high, "TLS compression is enabled (CRIME)"),
    "client_auth.required": (Severity.info, "the server requires a client certificate"),
    "client_auth.optional": (
        Severity.info,
        "the server asks for a client certificate but lets clients in without one",
    ),
    "fallback.missing": (Severity.low, "no downgrade protection (TLS_FALLBACK_SCSV)"),
    "grease.intolerant": (Severity.medium, "unknown TLS values are not ignored (GREASE)"),
    "hello.size_intolerant": (
        Severity.medium,
        "a ClientHello the size of a post-quantum one is refused",
    ),
    "heartbleed": (Severity.critical, "vulnerable to Heartbleed (CVE-2014-0160)"),
    "ccs_injection": (Severity.high, "vulnerable to CCS injection (CVE-2014-0224)"),
    "ticketbleed": (Severity.high, "vulnerable to Ticketbleed (CVE-2016-9244)"),
    "robot": (Severity.high, "vulnerable to ROBOT (an RSA padding oracle)"),
    "resumption.none": (Severity.info, "no session resumption"),
    "early_data.enabled": (Severity.low, "0-RTT early data is accepted (replayable)"),
    "hsts.missing": (Severity.low, "no HTTP Strict Transport Security"),
    "hsts.short": (Severity.low, "HSTS max-age is short"),
    "probe.incomplete": (Severity.info, "a check could not conclude"),
}

_HSTS_MIN = 180 * 86400


def _names(suites: list[SuiteResult], limit: int = 4) -> str:
    names = list(dict.fromkeys(s.name for s in suites))
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class _Collector:
    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(self, rule: str, detail: str, probe: str) -> None:
        severity, title = RULES[rule]
        self.items.append(Finding(rule, severity, title, detail, FIXES[rule], probe))


def findings_for(target: Target, results: dict[str, Any]) -> tuple[Finding, ...]:
    """Every finding the probe results support, most severe first."""
    out = _Collector()
    protocols = results.get("protocols")
    if isinstance(protocols, ProtocolsResult):
        _protocol_findings(out, protocols)
    groups = results.get("groups")
    if isinstance(groups, GroupsResult) and groups.groups:
        old = [g.name for g in groups.groups if g.deprecated or (g.kind == "ec" and g.bits < 112)]
        if old:
            out.add("group.deprecated", "accepted: " + ", ".join(old), "groups")
        if not any(g.post_quantum for g in groups.groups):
            out.add(
                "group.no_pq",
                "recorded traffic could be decrypted by a future quantum computer "
                "(harvest now, decrypt later); accepted: "
                + ", ".join(g.name for g in groups.groups),
                "groups",
            )
    cookie = results.get("dtls_cookie")
    if isinstance(cookie, DTLSCookieResult) and cookie.answered and not cookie.hello_verify_request:
        out.add(
            "dtls.no_cookie",
            f"an unverified ClientHello of {cookie.request_bytes} bytes got "
            f"{cookie.response_bytes} bytes back ({cookie.amplification:.1f}x), certificates "
            "and all: anyone who forges a victim's address can reflect that much at it",
            "dtls",
        )
    cert = results.get("certificate")
    if isinstance(cert, CertificateResult) and cert.chain:
        _certificate_findings(out, cert)
    reneg = results.get("renegotiation")
    if isinstance(reneg, RenegotiationResult):
        if reneg.secure is False:
            out.add(
                "reneg.insecure",
                "the server does not echo renegotiation_info: renegotiation can be spliced "
                "by a man in the middle (CVE-2009-3555)",
                "renegotiation",
            )
        if reneg.client_initiated:
            out.add(
                "reneg.client_initiated",
                "a client may renegotiate at will, making the server do expensive handshakes "
                "on one connection (denial of service)",
                "renegotiation",
            )
    client_auth = results.get("client-auth")
    if isinstance(client_auth, ClientAuthResult) and client_auth.requested:
        asked = [v for v in client_auth.versions if v.requested]
        names = sorted({n for v in asked for n in v.ca_names})
        detail = f"in {', '.join(v.version for v in asked)}; CA names: " + (
            "; ".join(names) if names else "none listed (any CA the client likes)"
        )
        out.add(
            "client_auth.required" if client_auth.required else "client_auth.optional",
            detail,
            "client-auth",
        )
    compression = results.get("compression")
    if isinstance(compression, CompressionResult) and compression.supported:
        out.add(
            "compression.enabled",
            "the server accepted DEFLATE: secrets in requests can be recovered (CRIME)",
            "compression",
        )
    fallback = results.get("fallback")
    if isinstance(fallback, FallbackResult) and fallback.supported is False:
        out.add("fallback.missing", fallback.detail, "fallback")
    grease = results.get("grease")
    if isinstance(grease, GreaseResult) and grease.tolerant is False:
        out.add("grease.intolerant", grease.detail, "grease")
    if isinstance(grease, GreaseResult) and grease.large_hello is False:
        out.add("hello.size_intolerant", grease.large_hello_detail, "grease")
    heartbleed = results.get("heartbleed")
    if isinstance(heartbleed, HeartbleedResult) and heartbleed.vulnerable:
        out.add(
            "heartbleed",
            f"the server answered a 1-byte heartbeat with {heartbleed.leaked_bytes} bytes of "
            "its memory (keys, passwords, session cookies may leak)",
            "heartbleed",
        )
    ccs = results.get("ccs")
    if isinstance(ccs, CCSInjectionResult) and ccs.vulnerable:
        out.add("ccs_injection", ccs.detail, "ccs")
    ticketbleed = results.get("ticketbleed")
    if isinstance(ticketbleed, TicketbleedResult) and ticketbleed.vulnerable:
        out.add("ticketbleed", ticketbleed.detail, "ticketbleed")
    robot = results.get("robot")
    if isinstance(robot, RobotResult) and robot.vulnerable:
        out.add("robot", robot.detail, "robot")
    resumption = results.get("resumption")
    if (
        isinstance(resumption, ResumptionResult)
        and resumption.error is None
        and resumption.session_id is not True
        and resumption.tickets is not True
    ):
        out.add("resumption.none", "every reconnect costs a full handshake", "resumption")
    if isinstance(resumption, ResumptionResult) and (resumption.max_early_data or 0) > 0:
        out.add(
            "early_data.enabled",
            f"TLS 1.3 tickets allow up to {resumption.max_early_data} bytes of 0-RTT early "
            "data: a request sent early has no replay protection of TLS's own (RFC 8446 §8)",
            "resumption",
        )
    hsts = results.get("hsts")
    if isinstance(hsts, HSTSResult) and hsts.error is None and target.starttls is None:
        if hsts.header is None:
            out.add(
                "hsts.missing",
                "browsers may be downgraded to plain HTTP (SSL stripping)",
                "hsts",
            )
        elif hsts.max_age is not None and hsts.max_age < _HSTS_MIN:
            out.add(
                "hsts.short",
                f"max-age={hsts.max_age} s is under 180 days ({_HSTS_MIN} s)",
                "hsts",
            )
    for name, result in results.items():
        error = getattr(result, "error", None)
        if error and not str(error).startswith("not applicable"):
            out.add("probe.incomplete", f"{name}: {error}", name)
    return tuple(sorted(out.items, key=lambda f: -f.severity))


def _protocol_findings(out: _Collector, protocols: ProtocolsResult) -> None:
    supported = set(protocols.supported)
    for version, rule, why in (
        ("SSLv2", "protocol.sslv2", "broken since 1995; enables DROWN against other servers"),
        ("SSLv3", "protocol.sslv3", "broken by POODLE (CVE-2014-3566); RFC 7568 forbids it"),
        ("TLS 1.0", "protocol.tls10", "deprecated by RFC 8996; no modern cipher suites"),
        ("TLS 1.1", "protocol.tls11", "deprecated by RFC 8996; no modern cipher suites"),
        ("DTLS 1.0", "protocol.dtls10", "TLS 1.1's record layer; deprecated by RFC 8996"),
    ):
        if version in supported:
            out.add(rule, why, "protocols")
    dtls = any(v.startswith("DTLS") for v in supported)
    if supported and not supported & {"TLS 1.2", "TLS 1.3", "DTLS 1.2", "DTLS 1.3"}:
        out.add(
            "protocol.no_tls12", "only " + ", ".join(sorted(supported)) + " spoken", "protocols"
        )
    if supported and not dtls and "TLS 1.3" not in supported:
        out.add("protocol.no_tls13", "TLS 1.3 is faster and removes legacy options", "protocols")
    suites = [s for v in protocols.versions if v.supported for s in v.suites]
    checks: list[tuple[str, list[SuiteResult], str]] = [
        ("cipher.export", [s for s in suites if "EXPORT" in s.name], "accepted: "),
        ("cipher.null", [s for s in suites if "_NULL_" in s.name or s.bits == 0], "accepted: "),
        ("cipher.anon", [s for s in suites if "_anon_" in s.name], "accepted: "),
        ("cipher.rc4", [s for s in suites if "RC4" in s.name], "accepted: "),
        (
            "cipher.des",
            [
                s
                for s in suites
                if 0 < s.bits < 112 and "EXPORT" not in s.name and "RC4" not in s.name
            ],
            "accepted: ",
        ),
        (
            "cipher.3des",
            [s for s in suites if any(k in s.name for k in ("3DES", "IDEA", "DES_192_EDE3"))],
            "Sweet32 (CVE-2016-2183); accepted: ",
        ),
    ]
    for rule, bad, prefix in checks:
        if bad:
            out.add(rule, prefix + _names(bad), "protocols")
    tls_suites = [
        s for v in protocols.versions if v.supported and v.code >= 0x0300 for s in v.suites
    ]
    if tls_suites:
        fs = [s for s in tls_suites if s.forward_secrecy]
        non_fs = [s for s in tls_suites if not s.forward_secrecy]
        if not fs:
            out.add(
                "cipher.no_fs",
                "every suite uses static key exchange: a stolen server key decrypts all "
                "recorded traffic; accepted: " + _names(non_fs),
                "protocols",
            )
        elif non_fs:
            out.add(
                "cipher.static_kex",
                "clients that offer them get no forward secrecy; accepted: " + _names(non_fs),
                "protocols",
            )
        if not any(s.aead for s in tls_suites):
            out.add("cipher.no_aead", "only CBC or stream suites are accepted", "protocols")
        _cbc_findings(out, protocols)
    dhe = [s for s in suites if s.dh_bits is not None]
    if dhe:
        smallest = min(s.dh_bits or 0 for s in dhe)
        if smallest < 1024:
            out.add("kex.dh_insecure", f"the server uses a {smallest}-bit DH prime", "protocols")
        elif smallest < 2048:
            out.add("kex.dh_weak", f"the server uses a {smallest}-bit DH prime", "protocols")


def _cbc_findings(out: _Collector, protocols: ProtocolsResult) -> None:
    """The CBC family, informational: what the configuration allows, not an active test."""
    cbc = {
        v.version: [s for s in v.suites if suite_info(s.code).mode == "cbc"]
        for v in protocols.versions
        if v.supported and v.code >= 0x0300
    }
    every = [s for suites in cbc.values() for s in suites]
    if every:
        out.add(
            "cipher.cbc",
            "MAC-then-encrypt CBC records are open to padding and timing attacks where the "
            "TLS stack is not constant-time (LUCKY13, CVE-2013-0169) or does not check the "
            "padding bytes (POODLE-TLS, CVE-2014-8730); neither is tested actively here; "
            "accepted: " + _names(every),
            "protocols",
        )
    old = [v for v in ("SSLv3", "TLS 1.0") if cbc.get(v)]
    if old:
        out.add(
            "cipher.beast",
            f"{' and '.join(old)} accept{'s' if len(old) == 1 else ''} CBC suites, whose IV "
            "is predictable (BEAST, CVE-2011-3389); clients since 2012 split records (1/n-1), "
            "so old clients remain exposed; accepted: " + _names([s for v in old for s in cbc[v]]),
            "protocols",
        )


def _certificate_findings(out: _Collector, cert: CertificateResult) -> None:
    leaf = cert.chain[0]
    if cert.expired:
        out.add("cert.expired", f"notAfter {leaf.not_after}", "certificate")
    if cert.not_yet_valid:
        out.add("cert.not_yet_valid", f"notBefore {leaf.not_before}", "certificate")
    if cert.expires_soon and not cert.expired:
        out.add(
            "cert.expires_soon",
            f"{days_text(cert.days_left)} left (notAfter {leaf.not_after})",
            "certificate",
        )
    if cert.hostname_matches is False:
        names = ", ".join(leaf.dns_names + leaf.ip_addresses) or "no subjectAltName at all"
        out.add("cert.hostname", f"{cert.hostname} is not among: {names}", "certificate")
    if cert.self_signed and not cert.trusted:
        out.add("cert.self_signed", f"subject {leaf.subject}", "certificate")
    elif cert.trusted is False:
        out.add("cert.untrusted", cert.trust_error or "no path to a trust anchor", "certificate")
    if cert.trusted and cert.chain_complete is False:
        out.add(
            "cert.incomplete_chain",
            "the chain only verifies with an intermediate the server did not send; clients "
            "that do not fetch it will fail",
            "certificate",
        )
    if cert.weak_key:
        out.add(
            "cert.weak_key",
            f"leaf key {leaf.key_type} {leaf.key_bits} bits (RSA needs 2048+, EC 256+)",
            "certificate",
        )
    if cert.sha1_signature:
        algorithms = sorted({c.signature_algorithm for c in cert.chain})
        out.add("cert.sha1", "signature algorithms: " + ", ".join(algorithms), "certificate")
    if cert.must_staple and not cert.ocsp.stapled:
        out.add(
            "cert.must_staple_missing",
            "the certificate carries the TLS Feature status_request, but the server staples "
            "nothing: Firefox refuses the connection",
            "certificate",
        )
    if cert.pin_matches is False:
        out.add(
            "cert.pin_drift",
            "chain pins: " + ", ".join(cert.pins[:3]),
            "certificate",
        )
    if cert.ocsp.stapled and cert.ocsp.status == "revoked":
        out.add("ocsp.revoked", "the stapled OCSP response says revoked", "certificate")
    elif cert.ocsp.stapled and not cert.ocsp.valid:
        out.add("ocsp.invalid", cert.ocsp.error or "the staple did not verify", "certificate")
    elif not cert.ocsp.stapled and not cert.must_staple:
        out.add(
            "ocsp.missing",
            "clients must ask the CA themselves (slower, and a privacy leak) or skip the check",
            "certificate",
        )
    if cert.sct_count == 0 and cert.trusted and not cert.self_signed:
        out.add(
            "cert.no_sct",
            "browsers require SCTs for publicly trusted certificates; private CAs need none",
            "certificate",
        )


def days_text(days: float | None) -> str:
    """ "1 day", "12 days", "less than a day" (for messages)."""
    if days is None:
        return "an unknown time"
    if days < 1:
        return "less than a day"
    whole = int(days)
    return f"{whole} day" if whole == 1 else f"{whole} days"
