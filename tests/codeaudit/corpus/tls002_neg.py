# ruff: noqa
"""TLS002 negatives: a floor is set, by version or by options, or from configuration."""

from OpenSSL import SSL


def with_floor():
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    return ctx


def floor_through_options():
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_options(SSL.OP_NO_SSLv3 | SSL.OP_NO_TLSv1 | SSL.OP_NO_TLSv1_1)
    return ctx


def floor_from_config(version):
    # The value is not known here, but a floor is set: nothing to report.
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_min_proto_version(version)
    return ctx


def chosen_by_role(is_server, version):
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD if is_server else SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(version)
    ctx.set_verify(SSL.VERIFY_PEER)
    return ctx
