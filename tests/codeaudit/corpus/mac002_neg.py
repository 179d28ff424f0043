# ruff: noqa
"""MAC002 negatives: HMAC with SHA-2 or SHA-3, or a digest chosen elsewhere."""

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac


def sha256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def sha3_by_name(key, msg):
    return hmac.new(key, msg, digestmod="sha3_256").hexdigest()


def cryptography_sha384(key):
    return chmac.HMAC(key, hashes.SHA384())


def configured(key, msg, digest):
    return hmac.new(key, msg, digest).digest()
