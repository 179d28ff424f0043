"""A local PKI: a CA, short-lived workload certificates, revocation and CRLs.

``zerotls.pki.CA`` is an in-memory CA in trustme's shape (ideal for tests); ``PKIStore`` keeps
one on disk for the ``zerotls pki`` command.
"""

from zerotls.pki.ca import CA, IssuedCert, KeyType, Usage, generate_key
from zerotls.pki.reasons import parse_reason
from zerotls.pki.store import CertRecord, PKIStore, default_pki_dir

__all__ = [
    "CA",
    "CertRecord",
    "IssuedCert",
    "KeyType",
    "PKIStore",
    "Usage",
    "default_pki_dir",
    "generate_key",
    "parse_reason",
]
