"""HTTP and WebSocket clients: requests, httpx, urllib3, aiohttp, urllib.request, websockets,
xmlrpc; and the warning filters that silence urllib3's InsecureRequestWarning."""

from __future__ import annotations

from urllib.parse import urlsplit

from zerotls.codeaudit._analysis.base import (
    Analysis,
    Call,
    CallHandler,
    Model,
    const_str,
    host_kind,
    is_false,
    qual_of,
)
from zerotls.codeaudit._values import Const, Obj, Prefix, Value

__all__ = ["MODEL", "ZEROTLS_FIX_HTTP"]

_HTTP_VERBS = frozenset({"get", "options", "head", "post", "put", "patch", "delete"})
_REQUESTS_CALLS = {f"requests.{v}" for v in _HTTP_VERBS} | {"requests.request"}
_HTTPX_CALLS = {f"httpx.{v}" for v in _HTTP_VERBS} | {"httpx.request", "httpx.stream"}
_SESSION_FACTORIES = {
    "requests.Session": "requests",
    "requests.session": "requests",
    "httpx.Client": "httpx",
    "httpx.AsyncClient": "httpx",
    "aiohttp.ClientSession": "aiohttp",
    "urllib3.PoolManager": "urllib3",
    "urllib3.ProxyManager": "urllib3",
    "urllib3.HTTPSConnectionPool": "urllib3",
    "urllib3.HTTPConnectionPool": "urllib3",
}
_INSECURE_WARNINGS = {
    "urllib3.exceptions.InsecureRequestWarning",
    "urllib3.exceptions.HTTPWarning",
}
_URL_CALLS: dict[str, tuple[int, str]] = {  # dotted name -> (position, keyword) of the URL
    **{f"requests.{v}": (0, "url") for v in _HTTP_VERBS},
    "requests.request": (1, "url"),
    **{f"httpx.{v}": (0, "url") for v in _HTTP_VERBS},
    "httpx.request": (1, "url"),
    "httpx.stream": (1, "url"),
    "urllib.request.urlopen": (0, "url"),
    "urllib.request.Request": (0, "url"),
    "urllib3.request": (1, "url"),
    "aiohttp.request": (1, "url"),
    "websockets.connect": (0, "uri"),
    "xmlrpc.client.ServerProxy": (0, "uri"),
}
_SESSION_URL_METHODS: dict[str, tuple[int, str]] = {
    **dict.fromkeys(_HTTP_VERBS, (0, "url")),
    "request": (1, "url"),
    "stream": (1, "url"),
    "urlopen": (1, "url"),
    "ws_connect": (0, "url"),
}

ZEROTLS_FIX_HTTP = (
    "Remove verify=False; for a private CA pass its bundle: requests verify='ca.pem', "
    "httpx verify=zerotls.to_ssl_context(ClientConfig(server_name='host', ca='ca.pem'))."
)


# --- calls --------------------------------------------------------------------------------


def _verb(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    lib = name.split(".", 1)[0]
    _http_verify(an, call, f"{name}(..., verify=False)", lib)
    _url_argument(an, call, _URL_CALLS.get(name), name)
    return None


def _create_ssl_context(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    _http_verify(an, call, f"{name}(verify=False)", "httpx")
    return None


def _session_factory(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    lib = _SESSION_FACTORIES[name]
    if lib == "httpx":
        _http_verify(an, call, f"{name}(verify=False)", lib)
    if lib == "urllib3" and name.endswith("ConnectionPool"):
        host = call.arg(0, "host")
        if name == "urllib3.HTTPConnectionPool" and host_kind(host) == "remote":
            an.hit(
                "NET003",
                call.node,
                f"urllib3.HTTPConnectionPool to {const_str(host)}: cleartext HTTP",
            )
    return an.track("http_session", call.node, lib)


def _aiohttp(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    _aiohttp_ssl(an, call, name)
    if name == "aiohttp.request":
        _url_argument(an, call, _URL_CALLS[name], name)
    return None


def _url_call(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    _url_argument(an, call, _URL_CALLS[name], name)
    return None


def _disable_warnings(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    category = call.arg(0, "category")
    if not call.node.args and "category" not in call.kwargs:
        an.hit("TLS010", call.node, "urllib3.disable_warnings() silences all its warnings")
    elif qual_of(category) in _INSECURE_WARNINGS:
        an.hit("TLS010", call.node, "InsecureRequestWarning silenced")
    return None


def _filter_warnings(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    action = call.arg(0, "action")
    category = call.arg(2 if name.endswith("filterwarnings") else 1, "category")
    if (
        isinstance(action, Const)
        and action.value == "ignore"
        and qual_of(category) in _INSECURE_WARNINGS
    ):
        an.hit("TLS010", call.node, "InsecureRequestWarning filtered out")
    return None


# --- methods of a session -----------------------------------------------------------------


def _session_method(an: Analysis, obj: Obj, method: str, call: Call) -> Value:
    if method in _SESSION_URL_METHODS or method == "send":
        if obj.lib == "requests":
            _http_verify(an, call, f"session.{method}(..., verify=False)", "requests")
        if obj.lib == "aiohttp":
            _aiohttp_ssl(an, call, f"session.{method}")
        _url_argument(an, call, _SESSION_URL_METHODS.get(method), f"{obj.lib} {method}")
    return None


# --- rule helpers -------------------------------------------------------------------------


def _http_verify(an: Analysis, call: Call, what: str, lib: str) -> None:
    value, node = call.kwargs.get("verify", (None, call.node))
    if is_false(value):
        an.hit(
            "TLS004",
            node,
            f"{what} turns off certificate verification ({lib})",
            ZEROTLS_FIX_HTTP,
        )


def _aiohttp_ssl(an: Analysis, call: Call, what: str) -> None:
    for keyword in ("ssl", "verify_ssl"):
        value, node = call.kwargs.get(keyword, (None, call.node))
        if is_false(value):
            an.hit(
                "TLS004",
                node,
                f"aiohttp {what}({keyword}=False) turns off certificate verification",
                "Remove ssl=False; for a private CA pass ssl=zerotls.to_ssl_context("
                "ClientConfig(server_name='host', ca='ca.pem')).",
            )


def _url_argument(an: Analysis, call: Call, where: tuple[int, str] | None, what: str) -> None:
    if where is None:
        return
    position, keyword = where
    value = call.arg(position, keyword)
    verdict = _url_verdict(value)
    if verdict is None:
        return
    scheme, host = verdict
    node = call.kwargs[keyword][1] if keyword in call.kwargs else call.node
    if keyword not in call.kwargs and position < len(call.node.args):
        node = call.node.args[position]
    an.hit("NET004", node, f"{what}: cleartext {scheme}:// URL to {host}")


def _url_verdict(value: Value) -> tuple[str, str] | None:
    """(scheme, host) for a cleartext URL to a possibly remote host, else None."""
    if isinstance(value, Const) and isinstance(value.value, str):
        text, complete = value.value, True
    elif isinstance(value, Prefix):
        text, complete = value.text, False
    else:
        return None
    lower = text.strip().lower()
    for scheme in ("http://", "ws://", "ftp://"):
        if lower.startswith(scheme):
            break
    else:
        return None
    rest = lower[len(scheme) :]
    host_end = len(rest)
    if rest.startswith("["):  # an IPv6 literal ends at its bracket
        close = rest.find("]")
        host_end = close + 1 if close >= 0 else len(rest)
    else:
        for sep in "/?#:":
            pos = rest.find(sep)
            if pos >= 0:
                host_end = min(host_end, pos)
    if not complete and host_end == len(rest):
        # f"http://{host}/...": the host is computed; the scheme alone is cleartext.
        return scheme[:-3], "a host computed at run time"
    try:
        host = urlsplit(scheme + rest[:host_end]).hostname or ""
    except ValueError:
        return None
    if host_kind(Const(host)) == "loopback":
        return None
    return scheme[:-3], host


_CALLS: dict[str, CallHandler] = {
    # Later entries win: the verbs and aiohttp.request check their URL after their own rules.
    **dict.fromkeys(_URL_CALLS, _url_call),
    **dict.fromkeys(_REQUESTS_CALLS | _HTTPX_CALLS, _verb),
    "httpx.create_ssl_context": _create_ssl_context,
    **dict.fromkeys(_SESSION_FACTORIES, _session_factory),
    "aiohttp.TCPConnector": _aiohttp,
    "aiohttp.request": _aiohttp,
    "urllib3.disable_warnings": _disable_warnings,
    "warnings.filterwarnings": _filter_warnings,
    "warnings.simplefilter": _filter_warnings,
}

MODEL = Model(
    calls=_CALLS,
    object_methods={"http_session": _session_method},
    known=frozenset(_REQUESTS_CALLS | _HTTPX_CALLS | set(_SESSION_FACTORIES) | set(_URL_CALLS)),
)
