# ruff: noqa
"""CRY003 positives: broken ciphers and ECB."""

from Crypto.Cipher import DES  # expect: CRY001
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def rc4(key):
    return Cipher(algorithms.ARC4(key), mode=None)  # expect: CRY003


def ecb(key):
    return Cipher(algorithms.AES(key), modes.ECB())  # expect: CRY003


def triple_des(key, iv):
    return Cipher(algorithms.TripleDES(key), modes.CBC(iv))  # expect: CRY003


def pycrypto_des(key):
    return DES.new(key, DES.MODE_ECB)  # expect: CRY003
