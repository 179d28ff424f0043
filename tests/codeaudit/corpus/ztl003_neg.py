# ruff: noqa
"""ZTL003 negatives: every suppression silences a finding."""

import hashlib


def cache_key(data):
    return hashlib.md5(data).hexdigest()  # zerotls: ignore[HASH001] cache key, not security
