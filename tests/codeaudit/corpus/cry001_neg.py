# ruff: noqa
"""CRY001 negatives: the cryptography package."""

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def encrypt(key, nonce, data):
    return AESGCM(key).encrypt(nonce, data, None)
