"""A SPIFFE Workload API server for the tests: the official gRPC service and messages over a
unix socket, serving X.509-SVIDs minted with zerotls.pki, rotating them on demand.

It is an agent in everything the protocol shows: the method paths and message field
numbers of workload.proto, the ``workload.spiffe.io: true`` security header (a call without
it is refused with INVALID_ARGUMENT, as SPIRE's agent does), a first response at once and a
new one on every change, streams that end when the server stops.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives import serialization

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
    _server: Any = None
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _generation: int = 0

    def start(self) -> Agent:
        if self.identity.issued is None:
            self.identity.mint()
        types = messages()
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "FetchX509SVID": grpc.unary_stream_rpc_method_handler(
                    self._fetch,
                    request_deserializer=types["X509SVIDRequest"].FromString,
                    response_serializer=types["X509SVIDResponse"].SerializeToString,
                ),
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
        if ("workload.spiffe.io", "true") not in tuple(context.invocation_metadata()):
            self.calls_without_header += 1
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")
        seen = -1
        while context.is_active() and self._server is not None:
            with self._changed:
                if seen == self._generation:
                    self._changed.wait(0.2)
                    continue
                seen = self._generation
                response = self.response()
            yield response
