# ruff: noqa
"""HASH001 positives: MD5 and SHA-1 where security may depend on them."""

import hashlib

from cryptography.hazmat.primitives import hashes


def certificate_fingerprint(der):
    return hashlib.sha1(der).hexdigest()  # expect: HASH001


def md5_pin(spki):
    return hashlib.md5(spki).digest()  # expect: HASH001


def by_name(data):
    return hashlib.new("md5", data).hexdigest()  # expect: HASH001


def cryptography_fingerprint(cert):
    return cert.fingerprint(hashes.SHA1())  # expect: HASH001
