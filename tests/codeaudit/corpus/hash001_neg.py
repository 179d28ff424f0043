# ruff: noqa
"""HASH001 negatives: SHA-2, or MD5 declared as not for security."""

import hashlib

from cryptography.hazmat.primitives import hashes


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def cache_key(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def by_name(data):
    return hashlib.new("sha256", data).hexdigest()


def configured(name, data):
    return hashlib.new(name, data).hexdigest()


def cryptography_sha256(cert):
    return cert.fingerprint(hashes.SHA256())
