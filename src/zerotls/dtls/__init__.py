"""DTLS 1.2 for UDP services: the same identities, checks and policy as TLS.

* :class:`DTLSConnection` / :class:`DTLSListener`: the sans-IO core (datagrams, timers,
  stateless cookies);
* :func:`connect` / :func:`serve`: asyncio endpoints (``zerotls.dtls.aio``).
"""

from zerotls.dtls.aio import DTLSEndpoint, DTLSServer, connect, serve
from zerotls.dtls.connection import DTLSConnection, DTLSListener, DTLSOptions

__all__ = [
    "DTLSConnection",
    "DTLSEndpoint",
    "DTLSListener",
    "DTLSOptions",
    "DTLSServer",
    "connect",
    "serve",
]
