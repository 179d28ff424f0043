"""Secure-by-default TLS: configs, the sans-IO engine, asyncio and blocking APIs."""

from zerotls.tls.aio import TLSServer, TLSStream, open_connection, start_server
from zerotls.tls.config import ClientConfig, ServerConfig, TLSVersion, parse_pin
from zerotls.tls.context import TLSContext
from zerotls.tls.engine import (
    ConnectionClosed,
    DataReceived,
    HandshakeCompleted,
    State,
    TLSConnection,
)
from zerotls.tls.identity import Identity, SpiffeId, parse_spiffe_id, spki_pin
from zerotls.tls.stdlib import check_peer, to_ssl_context
from zerotls.tls.sync import TLSSocket, TLSThreadingServer, connect, serve

__all__ = [
    "ClientConfig",
    "ConnectionClosed",
    "DataReceived",
    "HandshakeCompleted",
    "Identity",
    "ServerConfig",
    "SpiffeId",
    "State",
    "TLSConnection",
    "TLSContext",
    "TLSServer",
    "TLSSocket",
    "TLSStream",
    "TLSThreadingServer",
    "TLSVersion",
    "check_peer",
    "connect",
    "open_connection",
    "parse_pin",
    "parse_spiffe_id",
    "serve",
    "spki_pin",
    "start_server",
    "to_ssl_context",
]
