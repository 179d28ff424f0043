"""httpx with every zerotls check inside the handshake: transports whose TLS is the engine's.

``to_ssl_context()`` gives httpx a stdlib context, which cannot pin inside the handshake,
check a stapled OCSP response, expect a SPIFFE ID or offer the post-quantum hybrid (and uses
the distribution's OpenSSL). These transports make the connections themselves, through an
httpcore network backend (the seam httpcore provides for this): TCP from the standard
library, TLS from :class:`~zerotls.tls.context.TLSContext`, so pins, the expected identity,
OCSP (``require`` / ``if-stapled``), CRLs, session resumption and the hybrid group all
apply, for HTTP/1.1 and HTTP/2 (ALPN)::

    import httpx
    from zerotls.httpx import ZeroTLSTransport, tls_info

    transport = ZeroTLSTransport(ca="ca.pem", cert="me.pem", key="me.key",
                                 expect_identity="spiffe://prod.example/api", http2=True)
    with httpx.Client(transport=transport) as client:
        response = client.get("https://api.internal/health")
        print(tls_info(response).identity, tls_info(response).group)

One :class:`TLSContext` is kept per host name (the name checked on the certificate is the
URL's host, or ``server_name`` when given), so session tickets are reused across
connections; httpcore's pool keeps connections alive as usual. A refused server raises
:class:`httpx.ConnectError` whose message is the zerotls error's, and
:func:`zerotls_error` returns that error (a :class:`~zerotls.errors.PinMismatch`,
:class:`~zerotls.errors.VerificationError`, :class:`~zerotls.errors.StapleMissing` ...).

Needs ``pip install 'zerotls[httpx]'`` (httpx, and h2 for ``http2=True``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

from zerotls.errors import ConfigError, ZeroTLSError
from zerotls.tls.config import ClientConfig
from zerotls.tls.context import TLSContext
from zerotls.tls.engine import Negotiated

__all__ = ["AsyncZeroTLSTransport", "ZeroTLSTransport", "tls_info", "zerotls_error"]


def tls_info(response: httpx.Response) -> Negotiated:
    """What the handshake of the connection that carried ``response`` established: the
    server's verified ``identity``, ``tls_version``, ``cipher``, ``group``, ``alpn``,
    ``handshake.resumed``, ``revocation``.

    Raises:
        LookupError: the response did not come over a zerotls transport.
    """
    stream = response.extensions.get("network_stream")
    info = stream.get_extra_info("zerotls") if stream is not None else None
    if info is None:
        raise LookupError("this response did not come over a zerotls transport (or over TLS)")
    return info  # type: ignore[no-any-return]


def zerotls_error(exc: BaseException) -> ZeroTLSError | None:
    """The zerotls error behind an httpx exception (its cause chain), if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ZeroTLSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class _Contexts:
    """One TLSContext per host name, built from the template on first use."""

    def __init__(
        self, config: ClientConfig | None, template: Mapping[str, Any], alpn: tuple[str, ...]
    ) -> None:
        self._config = config
        self._template = dict(template)
        self._alpn = alpn
        self._by_host: dict[str, TLSContext] = {}
        self._lock = threading.Lock()
        # Build one now, so a bad file or option fails when the transport is made.
        if config is not None:
            self.for_host(config.server_name or "localhost")
        else:
            self.for_host("localhost")
            self._by_host.clear()

    def for_host(self, host: str) -> TLSContext:
        with self._lock:
            ctx = self._by_host.get(host)
            if ctx is None:
                if self._config is not None:
                    cfg = dataclasses.replace(
                        self._config,
                        server_name=self._config.server_name or host,
                        alpn=self._config.alpn or self._alpn,
                    )
                else:
                    cfg = ClientConfig(server_name=host, alpn=self._alpn, **self._template)
                ctx = self._by_host[host] = TLSContext(cfg)
            return ctx


def _alpn(http1: bool, http2: bool) -> tuple[str, ...]:
    return (("h2",) if http2 else ()) + (("http/1.1",) if http1 else ())


def _connect_error(exc: ZeroTLSError, host: str) -> httpcore.ConnectError:
    return httpcore.ConnectError(f"TLS to {host} refused: {exc}")


class _ALPN:
    """What httpcore asks of ``ssl_object``: the negotiated ALPN protocol."""

    def __init__(self, negotiated: Negotiated) -> None:
        self._negotiated = negotiated

    def selected_alpn_protocol(self) -> str | None:
        return self._negotiated.alpn

    def version(self) -> str:
        return self._negotiated.tls_version


# -- sync ------------------------------------------------------------------------------------


class _SyncStream(httpcore.NetworkStream):
    def __init__(self, sock: socket.socket, contexts: _Contexts) -> None:
        self._sock = sock
        self._contexts = contexts
        self._tls: Any = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        target = self._tls or self._sock
        target.settimeout(timeout)
        try:
            return target.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc) or "read timed out") from exc
        except ZeroTLSError as exc:
            raise httpcore.ReadError(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        target = self._tls or self._sock
        target.settimeout(timeout)
        try:
            target.sendall(buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc) or "write timed out") from exc
        except (ZeroTLSError, OSError) as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        if self._tls is not None:
            self._tls.close()
        else:
            self._sock.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        from zerotls.tls import sync

        del ssl_context  # httpcore's stdlib context: the zerotls context replaces it
        host = server_hostname or ""
        ctx = self._contexts.for_host(host)
        conn = ctx.connection()
        try:
            early = sync._handshake(self._sock, conn, ctx.config.handshake_timeout)
        except ZeroTLSError as exc:
            raise _connect_error(exc, host) from exc
        self._tls = sync.TLSSocket(self._sock, conn, early)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "zerotls":
            return self._tls
        if info == "ssl_object":
            return _ALPN(self._tls) if self._tls is not None else None
        if info == "socket":
            return self._sock
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "is_readable":
            return False
        return None


class _SyncBackend(httpcore.NetworkBackend):
    def __init__(self, contexts: _Contexts) -> None:
        self._contexts = contexts

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        source = None if local_address is None else (local_address, 0)
        try:
            sock = socket.create_connection((host, port), timeout, source_address=source)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in socket_options or ():
            sock.setsockopt(*option)
        return _SyncStream(sock, self._contexts)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError as exc:
            sock.close()
            raise httpcore.ConnectError(f"cannot connect to {path}: {exc}") from exc
        return _SyncStream(sock, self._contexts)

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)


def _placeholder_context() -> ssl.SSLContext:
    """What httpcore is given as its ``ssl_context``: never used for a handshake (the zerotls
    context is), but without one httpcore loads the whole certifi bundle per connection."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _pool_options(
    config: ClientConfig | None,
    options: Mapping[str, Any],
    *,
    http1: bool,
    http2: bool,
    limits: httpx.Limits,
    retries: int,
) -> tuple[_Contexts, dict[str, Any]]:
    """The per-host contexts and httpcore pool arguments both transports share."""
    if config is not None and options:
        raise ConfigError("give a ClientConfig or its fields as keywords, not both")
    _check_options(http1, http2)
    contexts = _Contexts(config, options, _alpn(http1, http2))
    return contexts, {
        "ssl_context": _placeholder_context(),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
        "http1": http1,
        "http2": http2,
        "retries": retries,
    }


def _check_options(http1: bool, http2: bool) -> None:
    if not (http1 or http2):
        raise ConfigError("enable HTTP/1.1, HTTP/2 or both")
    if http2:
        try:
            import h2  # noqa: F401
        except ImportError:
            raise ConfigError(
                "http2=True needs the h2 package: pip install 'zerotls[httpx]'"
            ) from None


class ZeroTLSTransport(httpx.HTTPTransport):
    """An httpx transport whose TLS connections are made and checked by zerotls.

    Args:
        config: a :class:`~zerotls.tls.config.ClientConfig` to use for every host (its
            ``server_name``, when set, is checked instead of the URL's host).
        http1, http2: the HTTP versions to offer (ALPN ``http/1.1``, ``h2``).
        limits: httpx's connection limits.
        retries: connection retries (httpcore's).
        **options: instead of ``config``, its fields (``ca``, ``cert``, ``key``, ``pins``,
            ``expect_identity``, ``ocsp``, ``crls``, ``identity``, ``groups`` ...); the
            ``server_name`` of each connection is the URL's host.

    Raises:
        ConfigError: a bad option or file (at once, not at the first request).
    """

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),  # noqa: B008
        retries: int = 0,
        **options: Any,
    ) -> None:
        self.contexts, pool = _pool_options(
            config, options, http1=http1, http2=http2, limits=limits, retries=retries
        )
        self._pool = httpcore.ConnectionPool(network_backend=_SyncBackend(self.contexts), **pool)


# -- async -----------------------------------------------------------------------------------


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, sock: socket.socket, contexts: _Contexts) -> None:
        self._sock = sock
        self._contexts = contexts
        self._tls: Any = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            if self._tls is not None:
                return await asyncio.wait_for(self._tls.read(max_bytes), timeout)
            loop = asyncio.get_running_loop()
            return await asyncio.wait_for(loop.sock_recv(self._sock, max_bytes), timeout)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("read timed out") from exc
        except (ZeroTLSError, OSError) as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            if self._tls is not None:
                self._tls.write(buffer)
                await asyncio.wait_for(self._tls.drain(), timeout)
            else:
                loop = asyncio.get_running_loop()
                await asyncio.wait_for(loop.sock_sendall(self._sock, buffer), timeout)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("write timed out") from exc
        except (ZeroTLSError, OSError) as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        if self._tls is not None:
            await self._tls.aclose()
        else:
            self._sock.close()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        from zerotls.tls import aio

        del ssl_context, timeout  # the zerotls context and its handshake_timeout apply
        host = server_hostname or ""
        ctx = self._contexts.for_host(host)
        loop = asyncio.get_running_loop()
        protocol = aio._TLSProtocol(ctx.connection(), ctx.config.handshake_timeout)
        await loop.create_connection(lambda: protocol, sock=self._sock)
        try:
            handshake = await protocol.handshake
        except ZeroTLSError as exc:
            raise _connect_error(exc, host) from exc
        self._tls = aio.TLSStream(protocol, handshake)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "zerotls":
            return self._tls
        if info == "ssl_object":
            return _ALPN(self._tls) if self._tls is not None else None
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return False
        return None


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, contexts: _Contexts) -> None:
        self._contexts = contexts

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            if local_address is not None:
                sock.bind((local_address, 0))
            for option in socket_options or ():
                sock.setsockopt(*option)
            await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
        except TimeoutError as exc:
            sock.close()
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            sock.close()
            raise httpcore.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _AsyncStream(sock, self._contexts)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not supported by the async zerotls transport")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AsyncZeroTLSTransport(httpx.AsyncHTTPTransport):
    """The asyncio twin of :class:`ZeroTLSTransport` (same arguments), for
    ``httpx.AsyncClient``."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),  # noqa: B008
        retries: int = 0,
        **options: Any,
    ) -> None:
        self.contexts, pool = _pool_options(
            config, options, http1=http1, http2=http2, limits=limits, retries=retries
        )
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=_AsyncBackend(self.contexts), **pool
        )
