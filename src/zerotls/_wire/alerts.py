"""TLS alert descriptions (RFC 8446 §6, RFC 5246 §7.2) and what each means to a user."""

from __future__ import annotations

import enum

__all__ = ["AlertDescription", "alert_advice", "alert_label"]


class AlertDescription(enum.IntEnum):
    """Alert descriptions, named as the RFCs name them."""

    close_notify = 0
    unexpected_message = 10
    bad_record_mac = 20
    decryption_failed = 21
    record_overflow = 22
    decompression_failure = 30
    handshake_failure = 40
    no_certificate = 41
    bad_certificate = 42
    unsupported_certificate = 43
    certificate_revoked = 44
    certificate_expired = 45
    certificate_unknown = 46
    illegal_parameter = 47
    unknown_ca = 48
    access_denied = 49
    decode_error = 50
    decrypt_error = 51
    protocol_version = 70
    insufficient_security = 71
    internal_error = 80
    inappropriate_fallback = 86
    user_canceled = 90
    no_renegotiation = 100
    missing_extension = 109
    unsupported_extension = 110
    certificate_unobtainable = 111
    unrecognized_name = 112
    bad_certificate_status_response = 113
    bad_certificate_hash_value = 114
    unknown_psk_identity = 115
    certificate_required = 116
    no_application_protocol = 120

    @classmethod
    def from_openssl_text(cls, text: str) -> AlertDescription | None:
        """Map OpenSSL's wording ("unknown ca", "certificate required") to the enum."""
        key = text.strip().lower().replace(" ", "_")
        aliases = {
            "decryption_failed": "decryption_failed",
            "bad_certificate_status": "bad_certificate_status_response",
        }
        key = aliases.get(key, key)
        return cls.__members__.get(key)


_ADVICE: dict[AlertDescription, str] = {
    AlertDescription.bad_certificate_status_response: (
        "the peer refused our stapled OCSP response (revoked, stale, badly signed, or missing "
        "while it requires one): check that our certificate is not revoked and that the "
        "staple source (responder URL or staple file) is fresh"
    ),
    AlertDescription.certificate_required: (
        "the peer requires a client certificate: set cert and key (issue one with "
        "`zerotls pki issue NAME --client`)"
    ),
    AlertDescription.unknown_ca: (
        "the peer does not trust the CA that issued our certificate: use a certificate from "
        "the CA the peer trusts, or add our CA to the peer's bundle"
    ),
    AlertDescription.bad_certificate: (
        "the peer rejected our certificate (wrong identity, pin or key usage, or not valid "
        "yet): check which identity the peer expects, and the clocks"
    ),
    AlertDescription.certificate_expired: "our certificate has expired: renew it",
    AlertDescription.certificate_revoked: "our certificate is revoked: issue a new one",
    AlertDescription.certificate_unknown: (
        "the peer does not accept our certificate here: its access policy denies our "
        "identity, or it could not establish our certificate's revocation status and requires "
        "one, or it could not check the certificate; its operator's audit log says which"
    ),
    AlertDescription.protocol_version: (
        "no protocol version in common: zerotls speaks TLS 1.3 (and 1.2 when set as the "
        "floor); an older peer needs upgrading (find such peers with `zerotls audit`)"
    ),
    AlertDescription.handshake_failure: (
        "no acceptable parameters in common (cipher suites, groups or signature algorithms)"
    ),
    AlertDescription.insufficient_security: "the peer requires stronger parameters",
    AlertDescription.access_denied: "the peer's policy does not allow our identity here",
    AlertDescription.no_application_protocol: (
        "no ALPN protocol in common: check alpn on both sides"
    ),
    AlertDescription.unrecognized_name: "the peer serves no certificate for that server name (SNI)",
    AlertDescription.decrypt_error: "a handshake signature or key check failed",
}


def alert_label(code: int) -> str:
    """An alert's name (``bad_record_mac``), or its number when it has none."""
    try:
        return AlertDescription(code).name
    except ValueError:
        return str(code)


def alert_advice(alert: AlertDescription) -> str:
    """One sentence saying what an alert received from the peer most likely means."""
    return _ADVICE.get(alert, "the peer aborted the connection")
