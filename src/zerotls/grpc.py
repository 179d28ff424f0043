"""gRPC (grpcio) with zerotls identities: credentials from a config, policy per method.

grpcio brings its own TLS stack (BoringSSL, inside the wheel), so zerotls cannot put its
checks inside grpcio's handshake. What each side does:

================================  ==========================  =============================
check                             grpcio's TLS (handshake)     zerotls (this module)
================================  ==========================  =============================
chain to the CA / bundle          yes                          the bundle given (CA or SVID)
server host name (client side)    yes (``server_name``)        -
client certificate required       yes (``require_client``)     -
client SPIFFE ID, per method      no                           :class:`PolicyInterceptor`,
                                                               before the method runs
expected server SPIFFE ID, pins   no (no client-side hook)     refused at construction: say
                                                               ``server_name`` instead
OCSP, CRLs, TLS 1.3 only,         no                           not available with grpcio
hybrid post-quantum group
================================  ==========================  =============================

Credentials:

- :func:`server_credentials` (``ServerConfig``): our chain and key, the client CA bundle,
  client certificates required unless ``require_client_cert`` is off. With an identity
  source (``zerotls.spiffe.WorkloadAPI``) the credentials are *dynamic*: grpcio asks before
  each handshake, and gets the rotated SVID and bundles once the source has a new version.
- :func:`channel_credentials` (``ClientConfig``): the CA (or the source's bundles), our
  certificate when there is one. ``pins`` and ``expect_identity`` are refused with a
  message: grpcio's client has no hook to check them, and zerotls never silently skips a
  check it was asked for.

:class:`PolicyInterceptor` reads the caller's certificate from the call's auth context,
takes its SPIFFE ID, and applies a :class:`zerotls.policy.Policy` with the method's full
path (``/pkg.Service/Method``) as the route: a denied caller gets ``PERMISSION_DENIED``
with the policy's reason, and every decision is an audit event with the tunnel's schema
(``mode: "grpc"``, ``route``: the method).

Needs ``pip install grpcio`` (``zerotls[spiffe]`` brings it).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from zerotls.errors import ConfigError
from zerotls.policy.rules import Policy, Request, decide
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.identity import Identity

__all__ = ["PolicyInterceptor", "channel_credentials", "channel_options", "server_credentials"]

_PEM = serialization.Encoding.PEM


def _pem(certs: Any) -> bytes:
    return b"".join(c.public_bytes(_PEM) for c in certs)


def _key_pem(key: Any) -> bytes:
    return key.private_bytes(  # type: ignore[no-any-return]
        _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _read(path: Any, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _material(
    config: ClientConfig | ServerConfig,
) -> tuple[bytes | None, bytes | None, bytes | None]:
    """(trust bundle PEM, our chain PEM, our key PEM) from files or the identity source."""
    source = config.identity
    if source is not None:
        ctx = source.context()
        svid = source.svid() if hasattr(source, "svid") else ctx.svid
        bundles = _pem(ca for bundle in ctx.bundles.values() for ca in bundle)
        return bundles, _pem(svid.chain), _key_pem(svid.key)
    files = (config.ca, "CA bundle"), (config.cert, "certificate"), (config.key, "private key")
    ca, cert, key = (_read(path, what) if path is not None else None for path, what in files)
    return ca, cert, key


def server_credentials(config: ServerConfig) -> grpc.ServerCredentials:
    """grpcio server credentials from a zerotls ``ServerConfig`` (see the module notes).

    Raises:
        ConfigError: a file cannot be read, or the identity source has no valid SVID.
    """
    roots, chain, key = _material(config)
    if chain is None or key is None:
        raise ConfigError("gRPC server credentials need cert and key, or an identity source")
    require = config.require_client_cert
    source = config.identity
    if source is None:
        return grpc.ssl_server_credentials([(key, chain)], roots, require_client_auth=require)
    initial = grpc.ssl_server_certificate_configuration([(key, chain)], roots)
    lock = threading.Lock()
    seen = [source.version]

    def fetch() -> Any:
        # grpcio asks before each handshake: None keeps the current configuration.
        with lock:
            if source.version == seen[0]:
                return None
            seen[0] = source.version
        new_roots, new_chain, new_key = _material(config)
        return grpc.ssl_server_certificate_configuration([(new_key, new_chain)], new_roots)

    return grpc.dynamic_ssl_server_credentials(
        initial, fetch, require_client_authentication=require
    )


def channel_credentials(config: ClientConfig) -> grpc.ChannelCredentials:
    """grpcio channel credentials from a zerotls ``ClientConfig`` (see the module notes).

    Use :func:`channel_options` with them when ``server_name`` is not the target's host.

    Raises:
        ConfigError: ``pins`` or ``expect_identity`` are set (grpcio's client cannot check
            them), or a file cannot be read.
    """
    if config.pins or config.expect_identity:
        raise ConfigError(
            "grpcio's TLS client has no hook for pins or an expected SPIFFE ID, so they "
            "would not be checked: drop them and set server_name (checked by grpcio), or "
            "use zerotls's own client (zerotls.connect / zerotls.httpx) for those checks"
        )
    roots, chain, key = _material(config)
    return grpc.ssl_channel_credentials(roots, key, chain)


def channel_options(config: ClientConfig) -> list[tuple[str, str]]:
    """Channel options that make grpcio check ``config.server_name`` on the certificate
    (``grpc.ssl_target_name_override``), for ``grpc.secure_channel(target, creds, options)``."""
    return [("grpc.ssl_target_name_override", config.server_name)] if config.server_name else []


AuditSink = Callable[[dict[str, Any]], None]


class PolicyInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Authorize every call by the caller's SPIFFE ID and a policy; the method is the route.

    Args:
        policy: a :class:`zerotls.policy.Policy` whose routes are method paths
            (``/pkg.Service/Method``); a rule without ``routes`` applies to every method.
        audit: called with each decision as an audit record (the tunnel's JSON fields, with
            ``mode`` ``grpc``); e.g. ``AuditLog("audit.jsonl")``-backed, or a list's append.
        clock: the time decisions are made at (``hours``, ``weekdays`` rules).
    """

    def __init__(
        self,
        policy: Policy,
        *,
        audit: AuditSink | None = None,
        clock: Callable[[], float] = time.time,
        listener: str = "grpc",
    ) -> None:
        self.policy = policy
        self.audit = audit
        self.clock = clock
        self.listener = listener

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: Any
    ) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = str(handler_call_details.method)
        kinds = (
            ("unary_unary", grpc.unary_unary_rpc_method_handler),
            ("unary_stream", grpc.unary_stream_rpc_method_handler),
            ("stream_unary", grpc.stream_unary_rpc_method_handler),
            ("stream_stream", grpc.stream_stream_rpc_method_handler),
        )
        for name, make in kinds:
            behaviour = getattr(handler, name)
            if behaviour is not None:
                return make(
                    self._guard(method, behaviour),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler

    def _guard(self, method: str, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            self.authorize(method, context)
            return behaviour(request, context)

        return guarded

    def authorize(self, method: str, context: grpc.ServicerContext) -> None:
        """Decide for one call; abort it with ``PERMISSION_DENIED`` when denied."""
        started = self.clock()
        identity = _caller(context)
        peer = context.peer() or ""
        source = _peer_ip(peer)
        request = Request(route=method, listener=self.listener, source=source)
        decision = decide(
            identity, request, self.policy, dt.datetime.fromtimestamp(started, dt.UTC)
        )
        if self.audit is not None:
            self.audit(
                {
                    "v": 1,
                    "time": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(),
                    "conn_id": uuid.uuid4().hex[:16],
                    "listener": self.listener,
                    "mode": "grpc",
                    "route": method,
                    "source": peer,
                    "spiffe_id": identity.spiffe_id if identity else None,
                    "identity": identity.name if identity else None,
                    "cert_serial": f"{identity.serial_number:x}" if identity else None,
                    "decision": decision.outcome,
                    "rule": decision.rule,
                    "reason": decision.reason,
                }
            )
        if not decision.allowed:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, decision.reason)


def _caller(context: grpc.ServicerContext) -> Identity | None:
    """The caller's verified certificate (grpcio verified the chain) as an Identity."""
    auth = context.auth_context()
    pems = auth.get("x509_pem_cert") or []
    if not pems:
        return None
    try:
        cert = x509.load_pem_x509_certificate(pems[0])
    except ValueError:
        return None
    return Identity.from_certificate(cert)


def _peer_ip(peer: str) -> str | None:
    # grpcio spells peers ipv4:127.0.0.1:5000, ipv6:[::1]:5000, unix:/path
    if peer.startswith("ipv4:"):
        return peer[5:].rsplit(":", 1)[0]
    if peer.startswith("ipv6:"):
        return peer[5:].rsplit(":", 1)[0].strip("[]")
    return None
