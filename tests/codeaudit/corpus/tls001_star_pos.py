# ruff: noqa
"""TLS001 through a star import: bare names still resolve to the ssl module."""

from ssl import *


def star_import():
    return SSLContext(PROTOCOL_TLSv1)  # expect: TLS001


def star_verify_mode():
    ctx = create_default_context()
    ctx.check_hostname = False  # expect: TLS005
    ctx.verify_mode = CERT_NONE  # expect: TLS004
    return ctx
