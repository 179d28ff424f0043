# ruff: noqa
"""NET004 negatives: https, loopback, unknown URLs, URLs that are only text."""

import logging
from urllib.request import urlopen

import requests

log = logging.getLogger(__name__)


def https():
    return requests.get("https://api.example.com/v1/items")


def loopback(port):
    requests.get("http://127.0.0.1:8000/healthz")
    requests.get("http://localhost/metrics")
    return requests.get(f"http://127.0.0.1:{port}/")


def unknown(url):
    return urlopen(url)


def only_text():
    log.info("docs at http://example.com/docs")
