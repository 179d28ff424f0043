# ruff: noqa
"""TLS004 negatives: verification on, a private CA, or values the analysis cannot know."""

import ssl

import httpx
import requests
from OpenSSL import SSL


def verify_on(url):
    return requests.get(url, verify=True)


def private_ca(url):
    return requests.get(url, verify="/etc/ssl/private-ca.pem")


def httpx_context(ctx):
    return httpx.Client(verify=ctx)


def server_with_optional_client_certs():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def pyopenssl_verifies(sock):
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    ctx.set_verify(SSL.VERIFY_PEER)
    ctx.set_default_verify_paths()
    return SSL.Connection(ctx, sock)


def keep_preverify(conn, cert, errno, depth, ok):
    return ok


def pyopenssl_callback_keeps_result():
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    ctx.set_verify(SSL.VERIFY_PEER, keep_preverify)
    return ctx


def unknown_receiver(client, url):
    # `client` could be anything: an unresolved receiver is never judged.
    return client.get(url, verify=False)


def verify_from_settings(url, settings):
    return requests.get(url, verify=settings.verify_tls)
