"""zerotls: secure network programming the zero-trust way.

Mutual TLS with workload identities, in-handshake pinning, a local PKI and HMAC integrity,
TLS 1.3 by default. The public API::

    from zerotls import ClientConfig, ServerConfig, open_connection, start_server
    from zerotls.pki import CA
"""

import logging

from zerotls.errors import (
    ConfigError,
    ConnectionBroken,
    DecodeError,
    HandshakeTimeout,
    PinMismatch,
    PolicyDenied,
    ProtocolError,
    RevocationError,
    TLSAlert,
    TransportError,
    VerificationError,
    ZeroTLSError,
)
from zerotls.tls import (
    ClientConfig,
    Identity,
    ServerConfig,
    TLSConnection,
    TLSContext,
    TLSServer,
    TLSSocket,
    TLSStream,
    TLSVersion,
    check_peer,
    connect,
    open_connection,
    serve,
    start_server,
    to_ssl_context,
)

__version__ = "0.1.0"

# A library logs; the application decides where logs go (no last-resort stderr output).
logging.getLogger("zerotls").addHandler(logging.NullHandler())

__all__ = [
    "ClientConfig",
    "ConfigError",
    "ConnectionBroken",
    "DecodeError",
    "HandshakeTimeout",
    "Identity",
    "PinMismatch",
    "PolicyDenied",
    "ProtocolError",
    "RevocationError",
    "ServerConfig",
    "TLSAlert",
    "TLSConnection",
    "TLSContext",
    "TLSServer",
    "TLSSocket",
    "TLSStream",
    "TLSVersion",
    "TransportError",
    "VerificationError",
    "ZeroTLSError",
    "__version__",
    "check_peer",
    "connect",
    "open_connection",
    "serve",
    "start_server",
    "to_ssl_context",
]
