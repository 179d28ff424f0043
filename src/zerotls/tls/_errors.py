"""OpenSSL's failures, told as zerotls errors that say what happened and what to do.

Theory of operation
-------------------
OpenSSL reports a failed handshake in two ways, and both are translated here, once:

* a chain-verification failure arrives in the verify callback as an X.509 error code at a
  depth; :func:`chain_error` turns it into a :class:`~zerotls.errors.VerificationError` (or a
  :class:`~zerotls.errors.RevocationError`) that names the certificate, the reason and the fix,
  and records which alert OpenSSL sent for it;
* everything else arrives as an ``SSL.Error`` carrying OpenSSL's reason strings (``"sslv3 alert
  bad certificate"``, ``"wrong version number"`` ...); :func:`translate` matches them, looks at
  the connection for what the reason leaves open (the protocol version, whether a suite was
  chosen, our own certificate's validity), and says which alert we sent where we sent one.

A refusal made by our own checks (pins, identity, revocation, staples) is already a zerotls
error when OpenSSL fails; the engine returns that one and calls :func:`translate` only for the
rest. Nothing here decides whether a peer is accepted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from cryptography import x509
from OpenSSL import SSL

from zerotls._util import format_duration
from zerotls._wire.alerts import AlertDescription, alert_advice
from zerotls.errors import (
    ConnectionBroken,
    RemoteProtocolError,
    RevocationError,
    TLSAlert,
    VerificationError,
    ZeroTLSError,
)
from zerotls.tls import _ossl
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.identity import Identity

# OpenSSL words a received alert "sslv3 alert bad certificate", "tlsv13 alert certificate
# required", and for the newer alerts without "alert": "tlsv1 bad certificate status response".
_ALERT_RE = re.compile(r"(?:sslv3|tlsv1|tlsv13|tls) alert (.+)")
_ALERT_BARE_RE = re.compile(r"^tlsv1 (.+)")

# What OpenSSL sends for the verification errors we explain (its x509 error -> alert table).
_CHAIN_ALERTS = {
    _ossl.X509_V_ERR_CERT_HAS_EXPIRED: "certificate_expired",
    _ossl.X509_V_ERR_CRL_HAS_EXPIRED: "certificate_expired",
    _ossl.X509_V_ERR_CERT_REVOKED: "certificate_revoked",
    _ossl.X509_V_ERR_UNABLE_TO_GET_CRL: "unknown_ca",
    _ossl.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown_ca",
    _ossl.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: "unknown_ca",
    _ossl.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: "unknown_ca",
    _ossl.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: "unknown_ca",
    _ossl.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unknown_ca",
    _ossl.X509_V_ERR_INVALID_PURPOSE: "unsupported_certificate",
}

_UNKNOWN_ISSUER = (
    _ossl.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    _ossl.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
    _ossl.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
    _ossl.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
    _ossl.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    _ossl.X509_V_ERR_CERT_UNTRUSTED,
)


def describe(identity: Identity) -> str:
    """The names a certificate carries, for messages: its SANs, else its subject."""
    parts = list(identity.uris) + [f"DNS:{d}" for d in identity.dns_names]
    parts += [f"IP:{ip}" for ip in identity.ip_addresses]
    return ", ".join(parts) if parts else f"no SANs (subject {identity.subject})"


def peer_role(cfg: ClientConfig | ServerConfig) -> str:
    """What the peer of a config is: ``"server"`` for a client's config, else ``"client"``."""
    return "server" if isinstance(cfg, ClientConfig) else "client"


def sent(error: ZeroTLSError, alert: str) -> ZeroTLSError:
    """``error``, marked with the alert we sent the peer."""
    error.alert_sent = alert
    return error


def _ago(moment: dt.datetime) -> str:
    """ "3 h ago" or "in 5 min", for messages (reads the wall clock: messages only)."""
    delta = dt.datetime.now(dt.UTC) - moment
    text = format_duration(delta)
    return f"{text} ago" if delta.total_seconds() >= 0 else f"in {text}"


def chain_error(
    cfg: ClientConfig | ServerConfig, errno: int, depth: int, cert: x509.Certificate
) -> VerificationError:
    """The error for an OpenSSL chain-verification failure, with the alert OpenSSL sent."""
    error = _chain_error_message(cfg, errno, depth, cert)
    error.alert_sent = _CHAIN_ALERTS.get(errno, "bad_certificate")
    return error


def _chain_error_message(
    cfg: ClientConfig | ServerConfig, errno: int, depth: int, cert: x509.Certificate
) -> VerificationError:
    peer = peer_role(cfg)
    which = f"{peer} certificate" if depth == 0 else f"{peer} chain certificate at depth {depth}"
    subject = cert.subject.rfc4514_string() or "(empty subject)"
    stamp = "%Y-%m-%dT%H:%MZ"
    if errno == _ossl.X509_V_ERR_CERT_HAS_EXPIRED:
        na = cert.not_valid_after_utc
        return VerificationError(
            f"{which} {subject} expired {_ago(na)} (notAfter {na.strftime(stamp)}); "
            "renew it (`zerotls pki issue`) and check the clocks"
        )
    if errno == _ossl.X509_V_ERR_CERT_NOT_YET_VALID:
        nb = cert.not_valid_before_utc
        return VerificationError(
            f"{which} {subject} is not valid yet (notBefore {nb.strftime(stamp)}, "
            f"{_ago(nb)}); check the clock of this machine and of the issuer"
        )
    if errno in (_ossl.X509_V_ERR_HOSTNAME_MISMATCH, _ossl.X509_V_ERR_IP_ADDRESS_MISMATCH):
        identity = Identity.from_certificate(cert)
        name = cfg.server_name if isinstance(cfg, ClientConfig) else "?"
        return VerificationError(
            f"{which} is not valid for {name!r}: it names {describe(identity)} (names are "
            "checked against the SANs only, never the CN); connect with a name the "
            "certificate carries, or reissue it with that name"
        )
    if errno in _UNKNOWN_ISSUER:
        trust = str(cfg.ca) if cfg.ca else "the system trust store"
        return VerificationError(
            f"{which} {subject} (issuer {cert.issuer.rfc4514_string()}) is not issued by a CA "
            f"in {trust}: the {peer} belongs to another PKI or sent an incomplete chain"
        )
    if errno == _ossl.X509_V_ERR_CERT_REVOKED:
        return RevocationError(
            f"{which} {subject} (serial {cert.serial_number:x}) is revoked by its CA's CRL; "
            "the holder needs a new certificate"
        )
    if errno in (_ossl.X509_V_ERR_UNABLE_TO_GET_CRL, _ossl.X509_V_ERR_CRL_HAS_EXPIRED):
        return RevocationError(
            f"revocation status of {which} {subject} is unknown: "
            f"{_ossl.x509_error_text(errno)}; refresh the CRL files (`zerotls pki crl`)"
        )
    if errno == _ossl.X509_V_ERR_INVALID_PURPOSE:
        need = "serverAuth" if peer == "server" else "clientAuth"
        return VerificationError(
            f"{which} {subject} is not allowed for TLS {peer} use (extendedKeyUsage lacks "
            f"{need}); reissue it with --{peer}"
        )
    return VerificationError(
        f"{which} {subject} failed verification: {_ossl.x509_error_text(errno)}"
    )


def translate(
    exc: SSL.Error,
    conn: SSL.Connection,
    cfg: ClientConfig | ServerConfig,
    *,
    handshaking: bool,
    ours: x509.Certificate | None,
    wall_clock: Callable[[], float],
) -> ZeroTLSError:
    """Turn an OpenSSL failure on ``conn`` into our error.

    Args:
        exc: what pyOpenSSL raised.
        conn: the connection it failed on (asked for the verify result, the peer's
            certificate, the version and the chosen suite).
        cfg: the config of our side.
        handshaking: whether the handshake was still running.
        ours: the certificate we present, if any (to explain a peer's refusal of it).
        wall_clock: epoch seconds now (the time our certificate is judged at in advice).
    """
    if isinstance(exc, SSL.SysCallError):
        if handshaking:
            return ConnectionBroken(
                "the peer closed the connection during the handshake without an alert"
            )
        return ConnectionBroken(
            "the peer closed the transport without a TLS close_notify: the data may be "
            "truncated (treat the stream as failed, not as finished)"
        )
    reasons = _reasons(exc)
    for reason in reasons:
        match = _ALERT_RE.search(reason)
        bare = None if match else _ALERT_BARE_RE.search(reason)
        if bare and AlertDescription.from_openssl_text(bare.group(1)):
            match = bare
        if match:
            alert = AlertDescription.from_openssl_text(match.group(1))
            name = alert.name if alert else match.group(1).replace(" ", "_")
            advice = _advice_for(alert, conn, ours, wall_clock)
            return TLSAlert(f"the peer refused the connection ({name}): {advice}", description=name)
    text = " ".join(reasons)
    if "certificate verify failed" in text:
        errno = _ossl.verify_result(conn)
        cert = conn.get_peer_certificate(as_cryptography=True)
        if cert is not None:
            return chain_error(cfg, errno, 0, cert)
        return VerificationError(
            f"peer certificate failed verification: {_ossl.x509_error_text(errno)}"
        )
    if "peer did not return a certificate" in text:
        # TLS 1.3 has an alert for it; TLS 1.2 and DTLS 1.2 say handshake_failure.
        version = conn.get_protocol_version_name()
        alert_name = "certificate_required" if version == "TLSv1.3" else "handshake_failure"
        return sent(
            VerificationError(
                "the client presented no certificate, but this server requires one "
                f"(mutual TLS); the client was sent the {alert_name} alert"
            ),
            alert_name,
        )
    if any(k in text for k in ("unsupported protocol", "no protocols available")):
        return sent(
            RemoteProtocolError(
                f"no TLS version in common: this side accepts TLS "
                f"{cfg.min_version.value} and newer, the peer offered only older "
                "versions; upgrade the peer (find such peers with `zerotls audit`)"
            ),
            "protocol_version",
        )
    if "http request" in text or "https proxy request" in text:
        return sent(
            RemoteProtocolError(
                "the peer sent plaintext HTTP to a TLS port: use https:// or a TLS client"
            ),
            "unexpected_message",  # our plaintext alert (see TLSConnection._fail)
        )
    if "wrong version number" in text or "packet length too long" in text:
        return sent(
            RemoteProtocolError("the peer does not speak TLS (garbage or plaintext on a TLS port)"),
            "unexpected_message",
        )
    if any(k in text for k in ("no shared cipher", "no suitable key share", "no shared group")):
        return sent(
            RemoteProtocolError(
                f"no cipher suite or key-exchange group in common ({text}); zerotls "
                "offers only ECDHE with AEAD"
            ),
            "handshake_failure",
        )
    if "unexpected eof" in text:
        return ConnectionBroken(
            "the peer closed the transport without a TLS close_notify (possible truncation)"
        )
    return RemoteProtocolError(f"TLS failed: {text or exc!r}")


def _advice_for(
    alert: AlertDescription | None,
    conn: SSL.Connection,
    ours: x509.Certificate | None,
    wall_clock: Callable[[], float],
) -> str:
    """What a refusal by the peer most likely means, with what we know of our side.

    The peer's alert names a category; which member of it applies is often clear from
    here: a certificate of ours that is not valid yet, a TLS 1.2 server that chose its
    parameters (so they were in common) and then refused a client without a certificate.
    """
    if alert is None:
        return "the peer aborted the connection"
    now = dt.datetime.fromtimestamp(wall_clock(), dt.UTC)
    certificate_alerts = (
        AlertDescription.bad_certificate,
        AlertDescription.certificate_unknown,
    )
    if alert in certificate_alerts and ours is not None and ours.not_valid_before_utc > now:
        start = f"{ours.not_valid_before_utc:%Y-%m-%d %H:%M}Z"
        return (
            f"our certificate is not valid until {start} (its notBefore): the peer "
            "refused it as not yet valid; check the clocks of both machines, or reissue it"
        )
    if alert is AlertDescription.handshake_failure and conn.get_cipher_name():
        # A ServerHello came (a suite was chosen), so parameters were in common: TLS 1.2
        # servers send handshake_failure when a required client certificate is missing.
        if ours is None:
            return (
                "the peer asked for a client certificate (CertificateRequest) and we have "
                "none: set cert and key (issue one with `zerotls pki issue NAME --client`)"
            )
        return (
            "the peer refused our client certificate (TLS 1.2 says handshake_failure for "
            "that): check that it trusts our CA and accepts our identity"
        )
    return alert_advice(alert)


def _reasons(exc: SSL.Error) -> list[str]:
    out: list[str] = []
    for arg in exc.args:
        if isinstance(arg, list):
            for item in arg:
                if isinstance(item, tuple) and item:
                    out.append(str(item[-1]))
        elif isinstance(arg, str):
            out.append(arg)
    return out
