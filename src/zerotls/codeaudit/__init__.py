"""Audit Python source for insecure TLS, socket, MAC and crypto use (``zerotls audit code``).

Legacy protocols and skipped checks live in code long before they show on an endpoint. This
package reads Python files with :mod:`ast` (never importing or running them), follows values
through simple assignments and imports, and reports each dangerous practice with a rule id, a
severity, a precise location, why it is dangerous and how to fix it::

    from zerotls.codeaudit import audit_paths, Severity

    report = audit_paths(["src/"])
    for finding in report.failing(Severity.LOW):
        print(finding.path, finding.line, finding.rule_id, finding.message)

The rules are data (:data:`RULES`); reporters render text, JSON and SARIF 2.1.0. Findings can
be silenced in place with a reason: ``# zerotls: ignore[TLS004] test server, throwaway cert``.
The analysis is conservative: a value it cannot resolve never triggers a rule (see
``docs/code-audit.md`` for exactly what is followed and what is not).
"""

from zerotls.codeaudit.model import CodeAuditReport, Finding
from zerotls.codeaudit.reporters import to_json, to_sarif, to_text
from zerotls.codeaudit.rules import RULES, Rule, Severity
from zerotls.codeaudit.scan import (
    DEFAULT_EXCLUDES,
    audit_paths,
    audit_source,
    iter_python_files,
    resolve_rule_selection,
)

__all__ = [
    "DEFAULT_EXCLUDES",
    "RULES",
    "CodeAuditReport",
    "Finding",
    "Rule",
    "Severity",
    "audit_paths",
    "audit_source",
    "iter_python_files",
    "resolve_rule_selection",
    "to_json",
    "to_sarif",
    "to_text",
]
