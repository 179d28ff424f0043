"""Render a :class:`~zerotls.codeaudit.model.CodeAuditReport`: text, JSON, SARIF 2.1.0.

SARIF (Static Analysis Results Interchange Format, OASIS 2.1.0) is what code-scanning UIs
(GitHub code scanning, GitLab, Azure DevOps, IDE viewers) import. Each rule goes into
``tool.driver.rules`` with its reason and fix as help text; each finding becomes a result
with a ``physicalLocation`` relative to ``%SRCROOT%``; suppressed findings stay in the log
with an ``inSource`` suppression and its justification, so the UI shows them as dismissed
rather than losing them.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from zerotls.codeaudit.model import CodeAuditReport, Finding
from zerotls.codeaudit.rules import RULES, Rule, Severity

__all__ = ["SARIF_SCHEMA", "to_json", "to_sarif", "to_text"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub maps security-severity (CVSS-like 0-10) to critical/high/medium/low.
_SECURITY_SEVERITY = {
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _wrap(text: str, *, indent: int = 4, width: int = 100) -> list[str]:
    return textwrap.wrap(
        text,
        width,
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent + 4),
        break_on_hyphens=False,
        break_long_words=False,
    )


def to_text(
    report: CodeAuditReport,
    *,
    min_severity: Severity,
    show_suppressed: bool = False,
) -> str:
    """A human report: one block per finding (message and fix), then why each rule matters.

    Args:
        report: the audit's result.
        min_severity: the gate, named in the summary.
        show_suppressed: also list suppressed findings (with their reasons).
    """
    lines: list[str] = []
    shown = [f for f in report.findings if show_suppressed or not f.suppressed]
    for finding in shown:
        mark = " (suppressed)" if finding.suppressed else ""
        lines.append(
            f"{finding.path}:{finding.line}:{finding.col}: {finding.severity.value} "
            f"{finding.rule_id}{mark} {finding.message}"
        )
        if finding.suppressed:
            lines += _wrap(f"reason: {finding.suppression_reason}")
        else:
            lines += _wrap(f"fix: {finding.fix}")
    fired = sorted({f.rule_id for f in shown if not f.suppressed}, key=list(RULES).index)
    if fired:
        lines.append("")
        lines.append("why these matter:")
        for rule_id in fired:
            rule = RULES[rule_id]
            lines += _wrap(f"{rule.id} {rule.title}: {rule.why}", indent=2)
    counts = report.counts()
    active = len(report.active)
    files = len({f.path for f in report.active})
    parts = [f"{n} {name}" for name, n in counts.items() if n]
    scanned = report.files_scanned
    summary = f"{active} finding{'s' if active != 1 else ''}"
    if active:
        summary += f" ({', '.join(parts)}) in {files} of {scanned} files"
    else:
        summary += f" in {scanned} file{'s' if scanned != 1 else ''}"
    if report.suppressed:
        summary += f"; {len(report.suppressed)} suppressed"
    failing = report.failing(min_severity)
    verdict = (
        f"FAIL: {len(failing)} at or above {min_severity.value}"
        if failing
        else f"pass: nothing at or above {min_severity.value}"
    )
    if lines:
        lines.append("")
    lines.append(f"{summary}. {verdict}.")
    return "\n".join(lines) + "\n"


def to_json(report: CodeAuditReport, *, min_severity: Severity) -> str:
    """The report as a JSON document (schema in docs/code-audit.md)."""
    return json.dumps(report.to_dict(min_severity=min_severity), indent=2) + "\n"


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "tags": ["security"] + ([f"external/cwe/cwe-{rule.cwe}"] if rule.cwe else []),
        "security-severity": _SECURITY_SEVERITY[rule.severity],
        "severity": rule.severity.value,
    }
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.replace("-", " ").split())[:120],
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.why},
        "help": {
            "text": f"Why: {rule.why}\nFix: {rule.fix}",
            "markdown": f"**Why.** {rule.why}\n\n**Fix.** {rule.fix}",
        },
        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
        "properties": properties,
    }


def _uri(path: str) -> str:
    posix = Path(path).as_posix()
    return posix[2:] if posix.startswith("./") else posix


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": index[finding.rule_id],
        "level": _SARIF_LEVEL[finding.severity],
        "message": {"text": f"{finding.message}. Fix: {finding.fix}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.path), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": finding.line, "startColumn": finding.col},
                }
            }
        ],
        "partialFingerprints": {
            "zerotls/v1": f"{finding.rule_id}:{_uri(finding.path)}:{finding.message}"
        },
    }
    if finding.suppressed:
        result["suppressions"] = [
            {"kind": "inSource", "justification": finding.suppression_reason or ""}
        ]
    return result


def to_sarif(report: CodeAuditReport, *, version: str, root: Path | None = None) -> str:
    """The report as a SARIF 2.1.0 log.

    Args:
        report: the audit's result.
        version: the zerotls version, for ``tool.driver.version``.
        root: the directory paths are relative to (``%SRCROOT%``); default the current one.
    """
    rules = list(RULES.values())
    index = {rule.id: i for i, rule in enumerate(rules)}
    base = (root or Path.cwd()).resolve().as_uri().rstrip("/") + "/"
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "zerotls",
                        "version": version,
                        "rules": [_rule_descriptor(r) for r in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": base}},
                "results": [_result(f, index) for f in report.findings],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
