"""DTLS 1.2 for UDP services: the same identities, checks and policy as TLS.

* :class:`DTLSConnection` / :class:`DTLSListener`: the sans-IO core (datagrams, timers,
  stateless cookies);
* :func:`open_association` / :func:`start_server`: asyncio endpoints (``zerotls.dtls.aio``).
"""

from zerotls.dtls.aio import DTLSAssociation, DTLSServer, open_association, start_server
from zerotls.dtls.connection import DTLSConnection, DTLSListener, DTLSOptions

__all__ = [
    "DTLSConnection",
    "DTLSAssociation",
    "DTLSListener",
    "DTLSOptions",
    "DTLSServer",
    "open_association",
    "start_server",
]
