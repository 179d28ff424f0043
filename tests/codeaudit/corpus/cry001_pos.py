# ruff: noqa
"""CRY001 positives: pyCrypto imports."""

import Crypto.Hash.SHA256  # expect: CRY001
from Crypto.Cipher import AES  # expect: CRY001


def encrypt(key, nonce, data):
    return AES.new(key, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(data)
