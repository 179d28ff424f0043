# ruff: noqa
"""CRY002 positives: keys too small."""

from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from OpenSSL import crypto


def rsa_1024():
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # expect: CRY002


def rsa_positional():
    return rsa.generate_private_key(65537, 512)  # expect: CRY002


def dsa_small():
    return dsa.generate_private_key(key_size=1024)  # expect: CRY002


def small_curve():
    return ec.generate_private_key(ec.SECP192R1())  # expect: CRY002


def pyopenssl_key():
    key = crypto.PKey()
    key.generate_key(crypto.TYPE_RSA, 1024)  # expect: CRY002
    return key
