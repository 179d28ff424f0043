# ruff: noqa
"""TLS009 positives: generic-protocol stdlib contexts that never turn verification on."""

import ssl


def no_protocol():
    ctx = ssl.SSLContext()  # expect: TLS009
    ctx.load_default_certs()
    return ctx


def protocol_tls():
    return ssl.SSLContext(ssl.PROTOCOL_TLS)  # expect: TLS009


def protocol_sslv23_keyword():
    ctx = ssl.SSLContext(protocol=ssl.PROTOCOL_SSLv23)  # expect: TLS009
    ctx.load_verify_locations("ca.pem")
    return ctx
