"""Export a config as a stdlib :class:`ssl.SSLContext` for libraries that insist on one.

httpx, aiohttp, asyncpg, redis-py and friends take an ``ssl.SSLContext``. ``to_ssl_context``
gives them zerotls's defaults: TLS 1.3 (or the explicit 1.2 floor with ECDHE+AEAD), SAN-only
hostname verification, client certificates required on servers, no compression, no
renegotiation.

Limits of the stdlib (documented, not hidden):

* pins and an expected SPIFFE identity cannot be checked *inside* the handshake; the stdlib has
  no verify callback. A config that needs them is refused unless the caller passes
  ``allow_post_handshake_checks=True`` and then calls :func:`check_peer` on every connection
  before sending anything (the ``ssl`` module's connection is already established by then);
* no OCSP stapling, and the key-exchange groups are the stdlib OpenSSL's defaults;
* it uses the system OpenSSL (``ssl.OPENSSL_VERSION``), not the one zerotls's engine uses;
* with an identity source (``identity=WorkloadAPI(...)``) the context holds the SVID and
  bundles current when it was made and does not follow rotations: make a new one when
  ``source.version`` moves past ``ctx.zerotls_identity_version``, and before
  ``ctx.zerotls_not_after`` (the SVID's expiry). The stdlib keeps one pool of trust anchors, so
  it cannot tell trust domains apart: only the bundle of the one trust domain the config names
  (``expect_identity``, ``allowed_identities``, else our own) is loaded, and a config that
  names several is refused.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from zerotls.errors import ConfigError, VerificationError
from zerotls.tls._verify import has_leaf_rules, judge_leaf
from zerotls.tls.config import TLS12_CIPHERS, ClientConfig, ServerConfig, TLSVersion
from zerotls.tls.identity import Identity, parse_spiffe_id, spki_pin

__all__ = ["check_peer", "to_ssl_context"]


def to_ssl_context(
    config: ClientConfig | ServerConfig, *, allow_post_handshake_checks: bool = False
) -> ssl.SSLContext:
    """Build an ``ssl.SSLContext`` with zerotls's defaults.

    Args:
        config: the client or server config to export.
        allow_post_handshake_checks: accept a config with pins, ``expect_identity`` or
            ``allowed_identities``, which the stdlib can only check after the handshake; you
            must then call :func:`check_peer` before using each connection.

    Raises:
        ConfigError: the config needs checks the stdlib cannot do inside the handshake and
            ``allow_post_handshake_checks`` is false; or a file cannot be loaded.
    """
    if has_leaf_rules(config) and not allow_post_handshake_checks:
        raise ConfigError(
            "this config pins keys or expects a workload identity; the stdlib ssl module can "
            "only check those after the handshake. Pass allow_post_handshake_checks=True and "
            "call zerotls.check_peer(ssl_object, config) on each connection, or use zerotls's "
            "own open_connection/connect, which check inside the handshake"
        )
    server = isinstance(config, ServerConfig)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = (  # RFC 8996: never below 1.2; 1.3 unless the floor says otherwise
        ssl.TLSVersion.TLSv1_3
        if config.min_version is TLSVersion.TLSv1_3
        else ssl.TLSVersion.TLSv1_2
    )
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.options |= ssl.OP_NO_COMPRESSION  # CRIME
    ctx.options |= ssl.OP_NO_RENEGOTIATION  # renegotiation attacks
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_ciphers(TLS12_CIPHERS)  # the 1.2 floor: ECDHE + AEAD only
    ctx.verify_mode = ssl.CERT_REQUIRED  # always verify the peer's chain
    try:
        if config.identity is not None:
            _load_source(ctx, config)  # the SVID and its trust domain's bundle
        else:
            if config.cert is not None:
                ctx.load_cert_chain(str(config.cert), str(config.key))
            if config.ca is not None:
                ctx.load_verify_locations(cafile=str(config.ca))
            else:
                ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        for crl in config.crls:
            ctx.load_verify_locations(cafile=str(crl))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the files of this config into ssl: {exc}") from None
    if config.crls:
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    if isinstance(config, ServerConfig):
        ctx.verify_mode = ssl.CERT_REQUIRED if config.require_client_cert else ssl.CERT_OPTIONAL
        if not config.session_tickets:
            ctx.options |= ssl.OP_NO_TICKET
    else:
        ctx.hostname_checks_common_name = False  # RFC 6125: SAN only
        # With only an expected SPIFFE identity there is no host name to check: the identity
        # is checked by check_peer (allowed above only by explicit request).
        ctx.check_hostname = config.server_name is not None
    if config.alpn:
        ctx.set_alpn_protocols(list(config.alpn))
    return ctx


def _trust_domain_named(config: ClientConfig | ServerConfig, own: str) -> str:
    """The one trust domain whose bundle the stdlib context may trust."""
    ids = (
        [config.expect_identity] if isinstance(config, ClientConfig) and config.expect_identity
        else sorted(config.allowed_identities) if isinstance(config, ServerConfig)
        else []
    )  # fmt: skip
    domains = {parse_spiffe_id(i).trust_domain for i in ids if i}
    if len(domains) > 1:
        raise ConfigError(
            f"this config names peers from {len(domains)} trust domains "
            f"({', '.join(sorted(domains))}); the stdlib ssl module keeps one pool of trust "
            "anchors and cannot keep a CA of one domain from vouching for another's IDs. Use "
            "zerotls's own connections (or zerotls.httpx), which check each peer against its "
            "own trust domain's bundle"
        )
    return domains.pop() if domains else own


def _load_source(ctx: ssl.SSLContext, config: ClientConfig | ServerConfig) -> None:
    """The identity source's current SVID, and the bundle of the trust domain named."""
    source: Any = config.identity
    version = source.version
    current = source.context()  # raises for an expired SVID: never a context with it
    svid = source.svid()
    domain = _trust_domain_named(config, svid.trust_domain)
    bundle = current.bundles.get(domain)
    if not bundle:
        raise ConfigError(
            f"the Workload API has no bundle for trust domain {domain} "
            f"(bundles: {', '.join(sorted(current.bundles)) or 'none'})"
        )
    pem = serialization.Encoding.PEM
    key = svid.key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # load_cert_chain reads files only: a private directory, removed as soon as it is read.
    with tempfile.TemporaryDirectory(prefix="zerotls-svid-") as folder:
        path = os.path.join(folder, "svid.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(b"".join(c.public_bytes(pem) for c in svid.chain) + key)
        ctx.load_cert_chain(path)
    ctx.load_verify_locations(
        cadata=b"".join(ca.public_bytes(serialization.Encoding.DER) for ca in bundle)
    )
    ctx.zerotls_identity_version = version  # type: ignore[attr-defined]
    ctx.zerotls_not_after = svid.expires.timestamp()  # type: ignore[attr-defined]


def check_peer(
    ssl_object: ssl.SSLObject | ssl.SSLSocket, config: ClientConfig | ServerConfig
) -> Identity:
    """Check pins and the expected identity on an established stdlib connection.

    Call it before sending anything; close the connection if it raises. The rules and their
    messages are the engine's (``tls/_verify.py``), only applied after the handshake.

    Returns:
        The peer's identity.

    Raises:
        PinMismatch: no certificate of the chain matches a configured pin.
        VerificationError: the identity is not the expected one, or no certificate was sent.
    """
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        raise VerificationError("the peer presented no certificate")
    leaf = x509.load_der_x509_certificate(der)
    identity = Identity.from_certificate(leaf)
    chain_pins = {identity.spki_pin}
    get_chain = getattr(ssl_object, "get_verified_chain", None)  # Python 3.13+
    if config.pins and get_chain is not None:
        for cert_der in get_chain():
            chain_pins.add(spki_pin(x509.load_der_x509_certificate(bytes(cert_der))))
    refusal = judge_leaf(identity, config, chain_pins)
    if refusal is not None:
        raise refusal
    return identity
