# ruff: noqa
"""NET002 positives: cleartext TCP to a host computed at run time."""

import socket


def computed_host(host, port):
    sock = socket.create_connection((host, port))  # expect: NET002
    sock.sendall(b"x")
    sock.close()


def unknown_address(address):
    s = socket.socket()
    s.connect(address)  # expect: NET002
    s.close()
