# ruff: noqa
"""CRY002 negatives: 2048 bits and up, 256-bit curves, Ed25519."""

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def rsa_3072():
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def p256():
    return ec.generate_private_key(ec.SECP256R1())


def ed():
    return ed25519.Ed25519PrivateKey.generate()


def configured(bits):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)
