# ruff: noqa
"""TLS002 positives: pyOpenSSL contexts that leave the protocol floor to the build."""

from OpenSSL import SSL


def no_floor():
    ctx = SSL.Context(SSL.TLS_METHOD)  # expect: TLS002
    ctx.set_verify(SSL.VERIFY_PEER)
    return ctx


def sslv23_keyword():
    ctx = SSL.Context(method=SSL.SSLv23_METHOD)  # expect: TLS002
    ctx.load_verify_locations("ca.pem")
    return ctx


def server_no_floor():
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)  # expect: TLS002
    ctx.use_certificate_file("server.pem")
    return ctx
