# ruff: noqa
"""ZTL002 negatives: valid suppressions, on the line or on the statement's first line."""

import requests


def lab_device(url):
    return requests.get(url, verify=False)  # zerotls: ignore[TLS004] lab device, no secrets


def spread_over_lines(url):
    return requests.get(  # zerotls: ignore[TLS004,NET004] test fixture, throwaway certificate
        url,
        verify=False,
    )
