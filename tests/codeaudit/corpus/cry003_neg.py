# ruff: noqa
"""CRY003 negatives: AEADs and AES in an authenticated mode."""

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305


def aead(key, nonce, data):
    return AESGCM(key).encrypt(nonce, data, None)


def chacha(key, nonce, data):
    return ChaCha20Poly1305(key).encrypt(nonce, data, None)


def gcm(key, iv):
    return Cipher(algorithms.AES(key), modes.GCM(iv))
