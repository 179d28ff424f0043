"""The results of a code audit: findings and the report that holds them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from zerotls.codeaudit.rules import RULES, Severity

__all__ = ["CodeAuditReport", "Finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place in one file."""

    rule_id: str
    """The rule that fired, e.g. ``"TLS004"`` (see :data:`zerotls.codeaudit.RULES`)."""
    severity: Severity
    path: str
    """The file, as given or relative to the directory that was scanned."""
    line: int
    """1-based line."""
    col: int
    """1-based column, in characters."""
    message: str
    """What was found here, specifically."""
    why: str
    """Why it is dangerous (the rule's security reason)."""
    fix: str
    """How to fix it, with zerotls or the standard library."""
    suppressed: bool = False
    """Silenced by a ``# zerotls: ignore[...]`` comment (kept in reports, never gates)."""
    suppression_reason: str | None = None
    """The reason the suppression comment gave."""

    @property
    def title(self) -> str:
        """The rule's short title."""
        return RULES[self.rule_id].title

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the ``--json`` schema, documented in docs/code-audit.md)."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "title": self.title,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
            "why": self.why,
            "fix": self.fix,
            "suppressed": self.suppressed,
            "suppression_reason": self.suppression_reason,
        }


@dataclass(frozen=True, slots=True)
class CodeAuditReport:
    """Everything one audit found, sorted by path, line, column and rule."""

    findings: tuple[Finding, ...]
    """All findings, suppressed ones included (marked)."""
    files_scanned: int
    """Python files read (including those that could not be parsed)."""

    @property
    def active(self) -> tuple[Finding, ...]:
        """The findings no suppression silenced."""
        return tuple(f for f in self.findings if not f.suppressed)

    @property
    def suppressed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed)

    def failing(self, min_severity: Severity) -> tuple[Finding, ...]:
        """Unsuppressed findings at or above ``min_severity``: these fail a CI gate."""
        return tuple(f for f in self.active if f.severity.rank >= min_severity.rank)

    def counts(self) -> dict[str, int]:
        """Unsuppressed findings per severity, highest first (zeros included)."""
        counter = Counter(f.severity for f in self.active)
        ordered = sorted(Severity, key=lambda s: -s.rank)
        return {s.value: counter.get(s, 0) for s in ordered}

    def to_dict(self, *, min_severity: Severity | None = None) -> dict[str, Any]:
        """A JSON-ready mapping of the whole report."""
        data: dict[str, Any] = {
            "tool": "zerotls audit code",
            "schema": 1,
            "files_scanned": self.files_scanned,
            "counts": self.counts(),
            "suppressed": len(self.suppressed),
            "findings": [f.to_dict() for f in self.findings],
        }
        if min_severity is not None:
            data["gate"] = {
                "min_severity": min_severity.value,
                "failed": bool(self.failing(min_severity)),
            }
        return data
