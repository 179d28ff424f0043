# ruff: noqa
"""TLS010 positives: the insecure-request warning silenced."""

import warnings

import requests
import urllib3
from urllib3.exceptions import InsecureRequestWarning

urllib3.disable_warnings()  # expect: TLS010


def only_that_warning():
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # expect: TLS010


def through_requests():
    requests.packages.urllib3.disable_warnings()  # expect: TLS010


def warnings_filter():
    warnings.filterwarnings("ignore", category=InsecureRequestWarning)  # expect: TLS010


def simplefilter():
    warnings.simplefilter("ignore", InsecureRequestWarning)  # expect: TLS010
