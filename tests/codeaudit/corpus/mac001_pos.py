# ruff: noqa
"""MAC001 positives: MACs compared with == or !=."""

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac


def check(key, body, signature):
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    return expected == signature  # expect: MAC001


def direct(key, body, sig):
    return hmac.new(key, body, hashlib.sha256).digest() != sig  # expect: MAC001


def oneshot(key, body, sig):
    if hmac.digest(key, body, "sha256") == sig:  # expect: MAC001
        return True
    return False


def encoded(key, body, header):
    mac = hmac.new(key, body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode() == header  # expect: MAC001


def webhook_prefix(secret, payload, header):
    digest = hmac.new(secret, payload, hashlib.sha256).hexdigest()
    return header == "sha256=" + digest  # expect: MAC001


def webhook_fstring(secret, payload, header):
    digest = hmac.new(secret, payload, hashlib.sha256).hexdigest()
    return header == f"sha256={digest}"  # expect: MAC001


def cryptography_hmac(key, body, tag):
    h = chmac.HMAC(key, hashes.SHA256())
    h.update(body)
    return h.finalize() == tag  # expect: MAC001
