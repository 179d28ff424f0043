"""The zero-trust tunnel: mTLS in front of cleartext services, and back out for legacy clients.

See docs/tunnel.md. ``Tunnel`` runs a :class:`TunnelConfig`; the ``zerotls tunnel`` command is
the usual way in.
"""

from zerotls.tunnel.audit import AuditEvent, AuditLog
from zerotls.tunnel.config import Limits, ListenerConfig, Route, Target, TunnelConfig
from zerotls.tunnel.metrics import Metrics
from zerotls.tunnel.runtime import Tunnel

__all__ = [
    "AuditEvent",
    "AuditLog",
    "Limits",
    "ListenerConfig",
    "Metrics",
    "Route",
    "Target",
    "Tunnel",
    "TunnelConfig",
]
