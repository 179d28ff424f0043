# ruff: noqa
"""SSLv23_METHOD with an explicit TLS 1.2 floor: bandit reports B502 on the method name."""

from OpenSSL import SSL


def context():
    ctx = SSL.Context(method=SSL.SSLv23_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_verify(SSL.VERIFY_PEER)
    return ctx
