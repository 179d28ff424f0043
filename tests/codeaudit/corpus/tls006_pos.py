# ruff: noqa
"""TLS006 positives: cipher strings with broken or unauthenticated suites."""

import ssl

from OpenSSL import SSL


def stdlib_all():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("ALL")  # expect: TLS006,TLS007
    return ctx


def pyopenssl_null_rc4():
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_verify(SSL.VERIFY_PEER)
    ctx.set_cipher_list(b"eNULL:RC4")  # expect: TLS006
    return ctx


def export_suite(sock):
    return ssl.wrap_socket(sock, ciphers="EXP-RC4-MD5")  # expect: TLS006,TLS008


def tracked_string():
    weak = "HIGH:aNULL"
    ctx = ssl.create_default_context()
    ctx.set_ciphers(weak)  # expect: TLS006,TLS007
    return ctx


def seclevel_zero():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # expect: TLS006
    return ctx


def triple_des():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("ECDHE+3DES")  # expect: TLS006
    return ctx
