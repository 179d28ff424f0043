# ruff: noqa
"""TLS008 positives: the module-level ssl.wrap_socket()."""

import ssl
from ssl import wrap_socket


def plain(sock):
    return ssl.wrap_socket(sock)  # expect: TLS008


def even_with_a_ca(sock):
    return ssl.wrap_socket(sock, cert_reqs=ssl.CERT_REQUIRED, ca_certs="ca.pem")  # expect: TLS008


def imported(sock):
    return wrap_socket(sock)  # expect: TLS008
