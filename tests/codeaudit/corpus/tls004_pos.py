# ruff: noqa
"""TLS004 positives: certificate verification turned off, library by library."""

import ssl

import aiohttp
import httpx
import requests
import urllib3
from OpenSSL import SSL
from requests import get


def stdlib_cert_none():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False  # expect: TLS005
    ctx.verify_mode = ssl.CERT_NONE  # expect: TLS004
    return ctx


def requests_verb(url):
    return requests.get(url, verify=False)  # expect: TLS004


def requests_imported_name(url):
    return get(url, verify=False)  # expect: TLS004


def requests_request(url):
    return requests.request("POST", url, verify=False)  # expect: TLS004


def requests_session_attribute(url):
    session = requests.Session()
    session.verify = False  # expect: TLS004
    return session.get(url)


def requests_session_call(url):
    with requests.Session() as session:
        return session.post(url, verify=False)  # expect: TLS004


def requests_tracked_flag(url):
    check = False
    return requests.put(url, verify=check)  # expect: TLS004


def httpx_client():
    return httpx.Client(verify=False)  # expect: TLS004


def httpx_async_client():
    return httpx.AsyncClient(verify=False)  # expect: TLS004


def httpx_verb(url):
    return httpx.get(url, verify=False)  # expect: TLS004


async def aiohttp_request(url):
    async with aiohttp.ClientSession() as session:
        async with session.get(url, ssl=False) as response:  # expect: TLS004
            return await response.text()


def aiohttp_connector():
    return aiohttp.TCPConnector(ssl=False)  # expect: TLS004


def urllib3_pool():
    return urllib3.PoolManager(cert_reqs="CERT_NONE")  # expect: TLS004


def urllib3_pool_constant():
    return urllib3.PoolManager(cert_reqs=ssl.CERT_NONE)  # expect: TLS004


def pyopenssl_verify_none():
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_verify(SSL.VERIFY_NONE)  # expect: TLS004
    return ctx


def accept_all(conn, cert, errno, depth, ok):
    return True


def pyopenssl_callback_accepts_all():
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_verify(SSL.VERIFY_PEER, accept_all)  # expect: TLS004
    return ctx


def pyopenssl_lambda_accepts_all():
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_verify(SSL.VERIFY_PEER, lambda *args: True)  # expect: TLS004
    return ctx


def pyopenssl_never_verifies(sock):
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)  # expect: TLS004
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    conn = SSL.Connection(ctx, sock)
    conn.set_connect_state()
    conn.do_handshake()
