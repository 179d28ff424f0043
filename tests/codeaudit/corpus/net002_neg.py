# ruff: noqa
"""NET002 negatives: the computed host is wrapped in TLS, or the socket is handed over."""

import socket
import ssl


def wrapped(host, port):
    sock = socket.create_connection((host, port))
    return ssl.create_default_context().wrap_socket(sock, server_hostname=host)


def given_to_caller(address):
    s = socket.socket()
    s.connect(address)
    return s
