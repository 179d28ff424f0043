"""Identities for policy tests: real certificates from real CAs, at a fixed issuing time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from zerotls.pki import CA
from zerotls.tls.identity import Identity

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
"""Issuing time of every test certificate (a Monday). Leaves live 24 h: until T0 + 1 day."""
DOMAIN = "prod.example"


@dataclass(frozen=True)
class Ids:
    """The identities the policy tests decide about."""

    ca: CA
    other_ca: CA
    web: Identity
    """spiffe://prod.example/svc/web, DNS web.prod.example."""
    db: Identity
    """spiffe://prod.example/svc/db, DNS db.prod.example."""
    batch: Identity
    """spiffe://prod.example/batch/nightly."""
    legacy: Identity
    """spiffe://prod.example/batch/legacy-etl."""
    deep: Identity
    """spiffe://prod.example/batch/legacy-etl/v2 (two segments below batch)."""
    foreign: Identity
    """spiffe://staging.example/svc/web: same path, other trust domain."""
    dns_only: Identity
    """No SPIFFE ID; DNS api.prod.example and a.b.prod.example."""
    wildcard_san: Identity
    """No SPIFFE ID; the DNS SAN is itself a wildcard, *.prod.example."""
    other_issuer: Identity
    """spiffe://prod.example/svc/web again, but issued by ``other_ca``."""

    def all(self) -> list[Identity]:
        return [
            self.web,
            self.db,
            self.batch,
            self.legacy,
            self.deep,
            self.foreign,
            self.dns_only,
            self.wildcard_san,
            self.other_issuer,
        ]


def make_ids() -> Ids:
    ca = CA.create("policy test root", now=T0 - dt.timedelta(days=1))
    other = CA.create("other root", now=T0 - dt.timedelta(days=1))

    def issue(name: str, ca: CA = ca, **kwargs: object) -> Identity:
        return ca.issue(name, now=T0, **kwargs).identity  # type: ignore[arg-type]

    return Ids(
        ca=ca,
        other_ca=other,
        web=issue("web", spiffe_id=f"spiffe://{DOMAIN}/svc/web", dns=["web.prod.example"]),
        db=issue("db", spiffe_id=f"spiffe://{DOMAIN}/svc/db", dns=["db.prod.example"]),
        batch=issue("batch", spiffe_id=f"spiffe://{DOMAIN}/batch/nightly"),
        legacy=issue("legacy", spiffe_id=f"spiffe://{DOMAIN}/batch/legacy-etl"),
        deep=issue("deep", spiffe_id=f"spiffe://{DOMAIN}/batch/legacy-etl/v2"),
        foreign=issue("foreign", spiffe_id="spiffe://staging.example/svc/web"),
        dns_only=issue("api", dns=["api.prod.example", "a.b.prod.example"]),
        wildcard_san=issue("wild", dns=["*.prod.example"]),
        other_issuer=issue("web2", ca=other, spiffe_id=f"spiffe://{DOMAIN}/svc/web"),
    )


IDS = make_ids()
"""Built once at import: Hypothesis strategies sample from them outside any fixture."""


@pytest.fixture(scope="session")
def ids() -> Ids:
    return IDS
