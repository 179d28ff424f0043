# ruff: noqa
"""NET004 positives: cleartext URLs to remote hosts."""

import xmlrpc.client
from urllib.request import urlopen

import httpx
import requests
import websockets


def requests_http():
    return requests.get("http://api.example.com/v1/items")  # expect: NET004


def httpx_http():
    return httpx.post("http://example.com/login", data={})  # expect: NET004


def urlopen_http():
    return urlopen("http://example.com/feed.xml")  # expect: NET004


def formatted(host):
    return requests.get(f"http://{host}/status")  # expect: NET004


def session_url():
    with requests.Session() as s:
        return s.get("http://example.net/")  # expect: NET004


async def websocket():
    async with websockets.connect("ws://chat.example.com/socket") as ws:  # expect: NET004
        await ws.send("hi")


def tracked():
    url = "http://example.com/api"
    return requests.get(url)  # expect: NET004


def xmlrpc_proxy():
    return xmlrpc.client.ServerProxy("http://rpc.example.com/")  # expect: NET004
