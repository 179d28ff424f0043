# ruff: noqa
"""NET001 and NET002 negatives: loopback, unix and UDP sockets, TLS, or handed over."""

import asyncio
import socket
import ssl

import zerotls
from zerotls import ClientConfig


def loopback():
    sock = socket.create_connection(("127.0.0.1", 8080))
    sock.sendall(b"x")


def localhost():
    sock = socket.create_connection(("localhost", 6379))
    sock.close()


def ipv6_loopback():
    s = socket.socket(socket.AF_INET6)
    s.connect(("::1", 80))
    s.close()


def unix_socket():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("/run/app.sock")
    s.close()


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("192.0.2.1", 53))
    s.close()


def wrapped(host):
    ctx = ssl.create_default_context()
    with socket.create_connection((host, 443)) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            tls.sendall(b"x")


def wrapped_remote():
    ctx = ssl.create_default_context()
    raw = socket.create_connection(("example.com", 443))
    tls = ctx.wrap_socket(raw, server_hostname="example.com")
    tls.sendall(b"x")


async def asyncio_tls():
    ctx = ssl.create_default_context()
    reader, writer = await asyncio.open_connection("example.com", 443, ssl=ctx)
    writer.close()


async def start_tls_later():
    reader, writer = await asyncio.open_connection("mail.example.com", 25)
    await writer.start_tls(ssl.create_default_context())
    writer.close()


def handed_over(host):
    sock = socket.create_connection((host, 1234))
    return sock


def zerotls_connect():
    return zerotls.connect("example.com", 443, ClientConfig(server_name="example.com"))


def server():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s.accept()
