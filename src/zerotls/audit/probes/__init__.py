"""Probe plugins. Importing this package fills :data:`REGISTRY`, in report order."""

from zerotls.audit.probes import (
    ccs_injection,
    certificate,
    client_auth,
    clients,
    compression,
    fallback,
    grease,
    groups,
    heartbleed,
    hsts,
    protocols,
    renegotiation,
    resumption,
    robot,
    ticketbleed,
)
from zerotls.audit.probes.base import REGISTRY, Job, JobFailed, Probe, ProbeContext, register

__all__ = ["ORDER", "REGISTRY", "Job", "JobFailed", "Probe", "ProbeContext", "register"]

ORDER = (
    protocols.ProtocolsProbe.name,
    groups.GroupsProbe.name,
    certificate.CertificateProbe.name,
    client_auth.ClientAuthProbe.name,
    renegotiation.RenegotiationProbe.name,
    compression.CompressionProbe.name,
    fallback.FallbackProbe.name,
    grease.GreaseProbe.name,
    heartbleed.HeartbleedProbe.name,
    ccs_injection.CCSInjectionProbe.name,
    robot.RobotProbe.name,
    ticketbleed.TicketbleedProbe.name,
    resumption.ResumptionProbe.name,
    hsts.HSTSProbe.name,
    clients.ClientsProbe.name,
)
"""Probe names in the order reports show them."""

for _name in ORDER:  # re-insert in report order, whatever order the imports ran in
    REGISTRY[_name] = REGISTRY.pop(_name)
