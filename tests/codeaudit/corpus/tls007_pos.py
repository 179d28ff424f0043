# ruff: noqa
"""TLS007 positives: RSA key exchange, no forward secrecy."""

import ssl


def single_rsa_suite():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("AES128-SHA")  # expect: TLS007
    return ctx


def python_2_era_default():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("HIGH:!aNULL:!MD5")  # expect: TLS007
    return ctx


def rsa_alias():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("kRSA+AESGCM")  # expect: TLS007
    return ctx


def mixed_list():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384")  # expect: TLS007
    return ctx
