# ruff: noqa
"""MAC001 negatives: constant-time comparison, or not a MAC at all."""

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac

from zerotls.integrity import Verifier


def constant_time(key, body, sig):
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sig)


def cryptography_verify(key, body, tag):
    h = chmac.HMAC(key, hashes.SHA256())
    h.update(body)
    h.verify(tag)


def zerotls_envelope(ring, envelope):
    return Verifier(ring).verify(envelope)


def published_checksum(data, checksum):
    # A download checked against a published SHA-256: no secret key, no MAC.
    return hashlib.sha256(data).hexdigest() == checksum


def length_check(mac):
    return len(mac) == 32
