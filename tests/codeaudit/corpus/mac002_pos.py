# ruff: noqa
"""MAC002 positives: HMAC with MD5 or SHA-1."""

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac


def md5_mac(key, msg):
    return hmac.new(key, msg, hashlib.md5).digest()  # expect: MAC002


def sha1_by_name(key, msg):
    return hmac.new(key, msg, digestmod="sha1").hexdigest()  # expect: MAC002


def oneshot_md5(key, msg):
    return hmac.digest(key, msg, "md5")  # expect: MAC002


def cryptography_sha1(key):
    return chmac.HMAC(key, hashes.SHA1())  # expect: MAC002


def tracked_digest(key, msg):
    algorithm = hashlib.sha1
    return hmac.new(key, msg, algorithm).digest()  # expect: MAC002
