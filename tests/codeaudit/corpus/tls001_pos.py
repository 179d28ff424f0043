# ruff: noqa
"""TLS001 positives: legacy protocol versions selected in code."""

import ssl
from ssl import PROTOCOL_TLSv1_1

from OpenSSL import SSL


def stdlib_context():
    return ssl.SSLContext(ssl.PROTOCOL_TLSv1)  # expect: TLS001


def keyword_wrap(sock):
    return ssl.wrap_socket(sock, ssl_version=ssl.PROTOCOL_SSLv3)  # expect: TLS001,TLS008


def imported_name():
    return ssl.SSLContext(PROTOCOL_TLSv1_1)  # expect: TLS001


def pyopenssl_keyword():
    return SSL.Context(method=SSL.TLSv1_METHOD)  # expect: TLS001


def default_argument(version=SSL.SSLv3_METHOD):  # expect: TLS001
    return SSL.Context(version)


def tracked_variable():
    legacy = ssl.PROTOCOL_TLSv1
    return ssl.SSLContext(legacy)  # expect: TLS001


def minimum_version():
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1  # expect: TLS001
    return ctx


def minimum_supported():
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED  # expect: TLS001
    return ctx


def maximum_version_caps_at_legacy():
    ctx = ssl.create_default_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1  # expect: TLS001
    return ctx


def reenable_sslv3():
    ctx = ssl.create_default_context()
    ctx.options &= ~ssl.OP_NO_SSLv3  # expect: TLS001
    return ctx


def pyopenssl_floor_zero():
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)  # expect: TLS002
    ctx.set_verify(SSL.VERIFY_PEER)
    ctx.set_min_proto_version(0)  # expect: TLS001
    return ctx


def pyopenssl_legacy_floor():
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_VERSION)  # expect: TLS001
    return ctx


def aliased_module():
    import ssl as s

    return s.SSLContext(s.PROTOCOL_SSLv2)  # expect: TLS001
