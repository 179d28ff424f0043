"""SPIFFE identities for zerotls: X.509-SVIDs and trust bundles from the Workload API.

A fleet that runs SPIRE (or Istio's agent, or any SPIFFE Workload API) hands its workloads
short-lived X.509-SVIDs over a local socket and rotates them. :class:`WorkloadAPI` keeps the
current one (and every trust domain's bundle) and is the ``identity`` of a zerotls config::

    from zerotls.spiffe import WorkloadAPI
    from zerotls.tls import ServerConfig

    source = WorkloadAPI("unix:///run/spire/sockets/agent.sock").start()
    config = ServerConfig(identity=source, allowed_identities={"spiffe://example.org/web"})

Handshakes use the SVID current when they start; a peer is verified by the bundle of the
trust domain its own SPIFFE ID names (federation), and refused when there is none.

For what leaves the TLS channel, ``source.fetch_jwt_svid(audience)`` gets a JWT-SVID and
``source.validate_jwt_svid(token, audience)`` checks one a peer sent (:mod:`zerotls.spiffe.jwt`).
See docs/spiffe.md.
"""

from zerotls.spiffe.jwt import JWTSVID, JWTBundle, JWTSVIDError, validate_jwt_svid
from zerotls.spiffe.source import (
    ENDPOINT_ENV,
    X509SVID,
    StaleSVIDError,
    WorkloadAPI,
    WorkloadAPIError,
    X509Context,
    parse_address,
    shared_source,
    trust_domain_of,
)

__all__ = [
    "ENDPOINT_ENV",
    "JWTSVID",
    "JWTBundle",
    "JWTSVIDError",
    "StaleSVIDError",
    "WorkloadAPI",
    "WorkloadAPIError",
    "X509Context",
    "X509SVID",
    "parse_address",
    "shared_source",
    "trust_domain_of",
    "validate_jwt_svid",
]
