# ruff: noqa
"""TLS001 negatives: modern floors, and legacy names that select nothing."""

import ssl

from OpenSSL import SSL


def modern():
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def client_protocol():
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def comparisons_select_nothing(ctx):
    if ctx.minimum_version == ssl.TLSVersion.TLSv1:
        raise ValueError("legacy floor")
    return {ssl.PROTOCOL_TLSv1: "TLS 1.0", ssl.PROTOCOL_SSLv3: "SSLv3"}


def pyopenssl_modern():
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_verify(SSL.VERIFY_PEER)
    return ctx


def disabling_legacy_is_fine():
    ctx = ssl.create_default_context()
    ctx.options |= ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1
    return ctx


def version_from_settings(settings):
    ctx = ssl.create_default_context()
    ctx.minimum_version = settings.tls_floor
    return ctx
