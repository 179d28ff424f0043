# ruff: noqa
"""TLS009 negatives: verification switched on, or a role-specific protocol."""

import ssl


def generic_but_verifying():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    ctx.load_default_certs()
    return ctx


def client_protocol():
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def server_protocol():
    return ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
