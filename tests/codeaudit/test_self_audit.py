"""zerotls's own source passes ``zerotls audit code``: every deliberate exception (the endpoint
auditor's legacy handshakes, the SHA-1 CertIDs that OCSP prescribes) carries a suppression with
its reason, and anything new fails here."""

from __future__ import annotations

from pathlib import Path

from zerotls.codeaudit import audit_paths

SRC = Path(__file__).resolve().parents[2] / "src" / "zerotls"


def test_zerotls_source_passes_its_own_code_audit() -> None:
    report = audit_paths([SRC])
    # Stale suppressions (ZTL003: a `zerotls: ignore[...]` with nothing left to ignore) count
    # too: a leftover suppression would silently cover the next real finding on its line.
    open_findings = [f for f in report.findings if not f.suppressed]
    assert open_findings == [], "\n".join(
        f"{f.rule_id} {f.path}:{f.line} {f.message}" for f in open_findings
    )
    assert sum(f.suppressed for f in report.findings) >= 5  # the reasoned exceptions are seen
