"""A SPIFFE Workload API server for the tests: the official gRPC service and messages over a
unix socket, serving X.509-SVIDs minted with zerotls.pki, rotating them on demand.

JWT-SVIDs are minted and checked with PyJWT (an implementation that is not zerotls's): an
ES256 key per agent (``jwt_key``, rotated by ``rotate_jwt_key``), published as a JWK set by
``FetchJWTBundles`` with any federated trust domain's keys.

It is an agent in everything the protocol shows: the method paths and message field
numbers of workload.proto, the ``workload.spiffe.io: true`` security header (a call without
it is refused with INVALID_ARGUMENT, as SPIRE's agent does), a first response at once and a
new one on every change, streams that end when the server stops.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import struct_pb2

from zerotls.pki import CA, IssuedCert
from zerotls.spiffe._proto import SERVICE, messages


@dataclass
class Identity:
    spiffe_id: str
    ca: CA
    ttl: dt.timedelta = dt.timedelta(hours=1)
    issued: IssuedCert | None = None
    uri_san: bool = True
    signer: CA | None = None
    """Sign with this CA instead of ``ca`` (a bundle that does not sign the SVID)."""

    def mint(self) -> IssuedCert:
        signer = self.signer or self.ca
        self.issued = signer.issue(
            self.spiffe_id.rsplit("/", 1)[-1],
            spiffe_id=self.spiffe_id if self.uri_san else None,
            dns=[] if self.uri_san else ["no-spiffe-id.test"],
            usage="both",
            ttl=self.ttl,
        )
        return self.issued


@dataclass
class Agent:
    socket: Path
    identity: Identity
    federated: dict[str, CA] = field(default_factory=dict)
    calls_without_header: int = 0
    jwt_ttl: float = 300.0
    jwt_key: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    jwt_kid: str = "k1"
    federated_jwt: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Trust domain -> {kid: public key} published with ours."""
    _server: Any = None
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _generation: int = 0

    def start(self) -> Agent:
        if self.identity.issued is None:
            self.identity.mint()
        types = messages()
        streams, unary = grpc.unary_stream_rpc_method_handler, grpc.unary_unary_rpc_method_handler
        methods = {  # name: (kind, implementation, request, response)
            "FetchX509SVID": (streams, self._fetch, "X509SVIDRequest", "X509SVIDResponse"),
            "FetchJWTSVID": (unary, self._fetch_jwt, "JWTSVIDRequest", "JWTSVIDResponse"),
            "FetchJWTBundles": (
                streams, self._fetch_jwt_bundles, "JWTBundlesRequest", "JWTBundlesResponse"
            ),
            "ValidateJWTSVID": (
                unary, self._validate_jwt, "ValidateJWTSVIDRequest", "ValidateJWTSVIDResponse"
            ),
        }  # fmt: skip
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                name: kind(
                    impl,
                    request_deserializer=types[req].FromString,
                    response_serializer=types[resp].SerializeToString,
                )
                for name, (kind, impl, req, resp) in methods.items()
            },
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self._server.add_generic_rpc_handlers((handler,))
        self._server.add_insecure_port(f"unix:{self.socket}")
        self._server.start()
        return self

    @property
    def address(self) -> str:
        return f"unix://{self.socket}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0).wait()
            self._server = None
        with self._changed:
            self._changed.notify_all()

    def rotate(self) -> IssuedCert:
        issued = self.identity.mint()
        with self._changed:
            self._generation += 1
            self._changed.notify_all()
        return issued

    def federate(self, domain: str, ca: CA) -> None:
        with self._changed:
            self.federated[domain] = ca
            self._generation += 1
            self._changed.notify_all()

    def response(self) -> Any:
        types = messages()
        issued = self.identity.issued
        assert issued is not None
        der = serialization.Encoding.DER
        svid = types["X509SVID"](
            spiffe_id=self.identity.spiffe_id,
            x509_svid=b"".join(c.public_bytes(der) for c in (issued.cert, *issued.chain)),
            x509_svid_key=issued.key.private_bytes(
                der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            bundle=self.identity.ca.cert.public_bytes(der),
        )
        out = types["X509SVIDResponse"](svids=[svid])
        for domain, ca in self.federated.items():
            out.federated_bundles[f"spiffe://{domain}"] = ca.cert.public_bytes(der)
        return out

    def _fetch(self, _request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._header(context)
        yield from self._on_every_change(context, self.response)

    def _on_every_change(
        self, context: grpc.ServicerContext, make: Callable[[], Any]
    ) -> Iterator[Any]:
        """A stream's answers: one at once, and one more whenever something changes."""
        seen = -1
        while context.is_active() and self._server is not None:
            with self._changed:
                if seen == self._generation:
                    self._changed.wait(0.2)
                    continue
                seen = self._generation
                response = make()
            yield response

    # -- JWT-SVIDs -------------------------------------------------------------------

    @property
    def trust_domain(self) -> str:
        return self.identity.spiffe_id.split("/")[2]

    def rotate_jwt_key(self, kid: str) -> None:
        with self._changed:
            self.jwt_key = ec.generate_private_key(ec.SECP256R1())
            self.jwt_kid = kid
            self._generation += 1
            self._changed.notify_all()

    def mint_jwt(self, audience: list[str], *, ttl: float | None = None, **claims: Any) -> str:
        now = time.time()
        payload = {
            "sub": self.identity.spiffe_id,
            "aud": audience,
            "exp": int(now + (self.jwt_ttl if ttl is None else ttl)),
            "iat": int(now),
        } | claims
        return jwt.encode(
            payload, self.jwt_key, algorithm="ES256", headers={"kid": self.jwt_kid, "typ": "JWT"}
        )

    def jwks(self) -> dict[str, bytes]:
        def jwk(kid: str, key: Any) -> dict[str, Any]:
            d = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
            return d | {"kid": kid, "use": "jwt-svid"}

        out = {
            f"spiffe://{self.trust_domain}": json.dumps(
                {"keys": [jwk(self.jwt_kid, self.jwt_key.public_key())]}
            ).encode()
        }
        for domain, keys in self.federated_jwt.items():
            out[f"spiffe://{domain}"] = json.dumps(
                {"keys": [jwk(kid, key) for kid, key in keys.items()]}
            ).encode()
        return out

    def _header(self, context: grpc.ServicerContext) -> None:
        if ("workload.spiffe.io", "true") not in tuple(context.invocation_metadata()):
            self.calls_without_header += 1
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")

    def _fetch_jwt(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._header(context)
        if not request.audience:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "audience must be specified")
        if request.spiffe_id and request.spiffe_id != self.identity.spiffe_id:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "no identity issued")
        types = messages()
        token = self.mint_jwt(list(request.audience))
        return types["JWTSVIDResponse"](
            svids=[types["JWTSVID"](spiffe_id=self.identity.spiffe_id, svid=token)]
        )

    def _fetch_jwt_bundles(self, _request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._header(context)
        yield from self._on_every_change(
            context, lambda: messages()["JWTBundlesResponse"](bundles=self.jwks())
        )

    def _validate_jwt(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._header(context)
        try:
            kid = jwt.get_unverified_header(request.svid).get("kid")
            keys = {self.jwt_kid: self.jwt_key.public_key()}
            for more in self.federated_jwt.values():
                keys |= more
            if kid not in keys:
                raise jwt.InvalidTokenError(f"key {kid!r} not found")
            claims = jwt.decode(
                request.svid, keys[kid], algorithms=["ES256"], audience=request.audience
            )
        except jwt.InvalidTokenError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unable to validate token: {exc}")
        struct = struct_pb2.Struct()
        struct.update(claims)
        return messages()["ValidateJWTSVIDResponse"](spiffe_id=claims["sub"], claims=struct)
