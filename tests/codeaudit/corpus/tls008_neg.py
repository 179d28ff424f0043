# ruff: noqa
"""TLS008 negatives: a context's wrap_socket with a server name."""

import ssl


def context_wrap(sock, host):
    ctx = ssl.create_default_context()
    return ctx.wrap_socket(sock, server_hostname=host)
