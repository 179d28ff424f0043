# ruff: noqa
"""TLS006 negatives: ECDHE with AEAD, exclusions, unknown strings."""

import ssl

from zerotls.tls.config import TLS12_CIPHERS


def aead_only():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")
    return ctx


def zerotls_list():
    ctx = ssl.create_default_context()
    ctx.set_ciphers(TLS12_CIPHERS)
    return ctx


def high_without_rsa_kx():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("HIGH:!aNULL:!kRSA:!MD5")
    return ctx


def explicit_suites():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305")
    return ctx


def library_default():
    ctx = ssl.create_default_context()
    ctx.set_ciphers("DEFAULT")
    return ctx


def from_settings(settings):
    ctx = ssl.create_default_context()
    ctx.set_ciphers(settings.ciphers)
    return ctx
