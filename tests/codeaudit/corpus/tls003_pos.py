# ruff: noqa
"""TLS003 positives: the stdlib's unverified context helpers."""

import http.client
import ssl
from urllib.request import urlopen

ssl._create_default_https_context = ssl._create_unverified_context  # expect: TLS003


def fetch(url):
    return urlopen(url, context=ssl._create_unverified_context())  # expect: TLS003


def stdlib_helper(host):
    ctx = ssl._create_stdlib_context()  # expect: TLS003
    return http.client.HTTPSConnection(host, context=ctx)


def aliased():
    from ssl import _create_unverified_context as insecure

    return insecure()  # expect: TLS003
