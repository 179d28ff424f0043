# ruff: noqa
"""NET001 positives: cleartext TCP to a literal remote host, never wrapped in TLS."""

import asyncio
import socket


def raw_http():
    sock = socket.create_connection(("example.com", 80))  # expect: NET001
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    return sock.recv(4096)


def connect_method():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("10.0.0.8", 6379))  # expect: NET001
    s.sendall(b"PING\r\n")
    s.close()


def with_statement():
    with socket.socket() as s:
        s.connect(("db.internal", 5432))  # expect: NET001
        s.sendall(b"\x00")


async def asyncio_stream():
    reader, writer = await asyncio.open_connection("api.example.com", 8080)  # expect: NET001
    writer.write(b"hello")
    await writer.drain()
    writer.close()


async def event_loop(factory):
    loop = asyncio.get_running_loop()
    await loop.create_connection(factory, "198.51.100.7", 25)  # expect: NET001


def tracked_address():
    address = ("example.org", 9000)
    s = socket.create_connection(address)  # expect: NET001
    s.close()
