"""The TLS auditor: find legacy protocols, weak suites and certificate problems; grade them.

Quick use::

    from zerotls.audit import ScanOptions, scan

    [report] = scan(["example.com"], ScanOptions(timeout=3))
    print(report.grade.grade, [f.title for f in report.findings])

The pieces: ``_wire`` builds and parses raw hellos; :mod:`zerotls.audit.probes` holds the probe
plugins (``REGISTRY``); :mod:`zerotls.audit.runner` drives them with bounded concurrency;
:mod:`zerotls.audit.findings`, :mod:`zerotls.audit.grading` and :mod:`zerotls.audit.profiles`
are pure functions of the results; :mod:`zerotls.audit.reports` renders text, JSON, HTML and
SARIF. ``docs/audit.md`` is the user guide and documents the JSON schema.
"""

from zerotls.audit.grading import grade, meets
from zerotls.audit.model import (
    SCHEMA_VERSION,
    Cap,
    CertificateResult,
    Finding,
    GradeResult,
    ProfileResult,
    ProtocolsResult,
    ScanOptions,
    Severity,
    Target,
    TargetReport,
)
from zerotls.audit.profiles import PROFILES, check_profile
from zerotls.audit.runner import DEFAULT_PROBES, scan, scan_async

__all__ = [
    "DEFAULT_PROBES",
    "PROFILES",
    "SCHEMA_VERSION",
    "Cap",
    "CertificateResult",
    "Finding",
    "GradeResult",
    "ProfileResult",
    "ProtocolsResult",
    "ScanOptions",
    "Severity",
    "Target",
    "TargetReport",
    "check_profile",
    "grade",
    "meets",
    "scan",
    "scan_async",
]
