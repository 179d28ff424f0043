# ruff: noqa
"""TLS003 negatives: verifying contexts."""

import ssl
from urllib.request import urlopen


def fetch(url):
    return urlopen(url, context=ssl.create_default_context())


def private_ca(url):
    return urlopen(url, context=ssl.create_default_context(cafile="ca.pem"))
