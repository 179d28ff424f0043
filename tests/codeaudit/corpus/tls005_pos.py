# ruff: noqa
"""TLS005 positives: host-name verification turned off."""

import ssl

import urllib3


def stdlib_no_hostname():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False  # expect: TLS005
    return ctx


class Client:
    def __init__(self):
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False  # expect: TLS005


def urllib3_assert_hostname():
    return urllib3.PoolManager(assert_hostname=False)  # expect: TLS005


def monkeypatch():
    ssl.match_hostname = lambda cert, hostname: None  # expect: TLS005


def through_variable():
    ctx = ssl.create_default_context()
    off = False
    ctx.check_hostname = off  # expect: TLS005
    return ctx
