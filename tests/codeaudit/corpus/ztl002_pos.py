# ruff: noqa
"""ZTL002 positives: invalid suppressions report themselves and suppress nothing."""

import requests


def no_reason(url):
    # expect-next: ZTL002,TLS004
    return requests.get(url, verify=False)  # zerotls: ignore[TLS004]


def no_ids(url):
    # expect-next: ZTL002,TLS004
    return requests.get(url, verify=False)  # zerotls: ignore lab only


def unknown_rule(url):
    # expect-next: ZTL002,TLS004
    return requests.get(url, verify=False)  # zerotls: ignore[TLS999] typo in the id
