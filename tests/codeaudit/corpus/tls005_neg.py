# ruff: noqa
"""TLS005 negatives: names are checked (or the value is not known here)."""

import ssl

import urllib3


def stdlib_checks():
    ctx = ssl.create_default_context()
    ctx.check_hostname = True
    return ctx


def urllib3_expected_name():
    return urllib3.PoolManager(assert_hostname="api.internal")


def from_settings(settings):
    ctx = ssl.create_default_context()
    ctx.check_hostname = settings.check_hostname
    return ctx


def server_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain("server.pem", "server.key")
    return ctx
