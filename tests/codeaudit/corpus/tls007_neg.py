# ruff: noqa
"""TLS007 negatives: every suite has an ephemeral key exchange."""

import ssl


def ephemeral_only():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("ECDHE+AESGCM:DHE+AESGCM:!aNULL")
    return ctx


def rsa_kx_removed():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("AESGCM:!kRSA:!aNULL")
    return ctx


def rsa_authentication_is_fine():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384")
    return ctx
