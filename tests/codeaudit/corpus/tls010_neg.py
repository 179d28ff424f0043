# ruff: noqa
"""TLS010 negatives: other warnings, or the warning made an error."""

import warnings

import urllib3
from urllib3.exceptions import InsecureRequestWarning


def other_warning():
    urllib3.disable_warnings(urllib3.exceptions.SystemTimeWarning)


def make_it_an_error():
    warnings.filterwarnings("error", category=InsecureRequestWarning)


def unrelated_filter():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
