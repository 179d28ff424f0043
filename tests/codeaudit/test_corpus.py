"""The corpus: small positive and negative snippets per rule, and bandit on the same files.

Each corpus file marks the findings it must produce with ``# expect: RULE[,RULE]`` on the
line (or ``# expect-next: ...`` on the line before, where the line itself carries a
suppression comment). A file is right when the set of (line, rule) of its unsuppressed
findings equals the marked set exactly: positives must fire where marked, and nothing else
may fire, so every ``*_neg.py`` file must stay silent.

The bandit comparison runs the real ``bandit`` on the same corpus: every TLS- or
crypto-related finding bandit makes must be matched by a zerotls finding (suppressed or not)
of a corresponding rule at the same line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from zerotls.codeaudit import RULES, audit_paths, audit_source

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
DISAGREEMENTS = HERE / "corpus_bandit_false_positives"
_MARK = re.compile(r"#\s*expect(?P<next>-next)?:\s*(?P<ids>[A-Z0-9, ]+)")

# Bandit ids about TLS, certificates, host keys, cleartext protocols and weak crypto, with the
# zerotls rules that cover each. Not compared: B113 (timeouts), B310 (URL schemes: file://),
# B411 (XML parsing); and B401/B402, which flag the *import* of telnetlib/ftplib: zerotls
# reports the cleartext connection instead (B312/B321 lines), checked separately below.
BANDIT_TO_ZEROTLS: dict[str, set[str]] = {
    "B501": {"TLS004"},
    "B502": {"TLS001", "TLS002"},
    "B503": {"TLS001"},
    "B504": {"TLS008"},
    "B323": {"TLS003"},
    "B413": {"CRY001"},
    "B303": {"HASH001", "MAC002"},
    "B324": {"HASH001", "MAC002"},
    "B304": {"CRY003"},
    "B305": {"CRY003"},
    "B505": {"CRY002"},
    "B507": {"SSH001"},
    "B312": {"NET003"},
    "B321": {"NET003"},
}
IMPORT_ONLY = {"B401": "Telnet", "B402": "FTP"}


def expected_findings(text: str) -> set[tuple[int, str]]:
    expected: set[tuple[int, str]] = set()
    for number, line in enumerate(text.splitlines(), 1):
        match = _MARK.search(line)
        if match is None:
            continue
        target = number + 1 if match.group("next") else number
        for rule_id in match.group("ids").split(","):
            if rule_id.strip():
                expected.add((target, rule_id.strip()))
    return expected


CORPUS_FILES = sorted(CORPUS.glob("*.py")) + sorted(DISAGREEMENTS.glob("*.py"))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file_produces_exactly_the_marked_findings(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = expected_findings(text)
    if path.name.endswith("_neg.py") or path.parent == DISAGREEMENTS:
        assert not expected, "negative files carry no expectations"
    findings = audit_source(text, str(path))
    actual = {(f.line, f.rule_id) for f in findings if not f.suppressed}
    details = [f"{f.line}:{f.col} {f.rule_id} {f.message}" for f in findings]
    assert actual == expected, "\n".join(details)


def test_every_rule_has_positive_and_negative_snippets() -> None:
    names = {p.name for p in CORPUS.glob("*.py")}
    fired: dict[str, int] = {}
    for path in CORPUS.glob("*_pos.py"):
        for _, rule_id in expected_findings(path.read_text(encoding="utf-8")):
            fired[rule_id] = fired.get(rule_id, 0) + 1
    for rule_id in RULES:
        if rule_id == "ZTL001":  # unparsable files: tests/codeaudit/test_scan.py
            continue
        stem = rule_id.lower()
        assert f"{stem}_pos.py" in names, f"no positive snippets for {rule_id}"
        assert f"{stem}_neg.py" in names, f"no negative snippets for {rule_id}"
        assert fired.get(rule_id, 0) >= 1, f"{stem}_pos.py never expects {rule_id}"


def run_bandit(directory: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "bandit", "-r", str(directory), "-f", "json", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr  # 1: bandit found issues
    report = json.loads(proc.stdout)
    assert not report["errors"], report["errors"]
    results: list[dict[str, Any]] = report["results"]
    return results


@pytest.fixture(scope="module")
def bandit_results() -> list[dict[str, Any]]:
    return run_bandit(CORPUS)


def test_every_tls_finding_of_bandit_is_matched_at_the_same_line(
    bandit_results: list[dict[str, Any]],
) -> None:
    report = audit_paths([CORPUS])
    by_place: dict[tuple[str, int], set[str]] = {}
    for finding in report.findings:  # suppressed ones count: zerotls found them
        key = (Path(finding.path).name, finding.line)
        by_place.setdefault(key, set()).add(finding.rule_id)
    compared = [r for r in bandit_results if r["test_id"] in BANDIT_TO_ZEROTLS]
    # The corpus must keep exercising bandit's TLS rules, or this comparison proves nothing.
    assert {"B501", "B502", "B503", "B504", "B323", "B413"} <= {r["test_id"] for r in compared}
    unmatched = []
    for result in compared:
        key = (Path(result["filename"]).name, result["line_number"])
        if not by_place.get(key, set()) & BANDIT_TO_ZEROTLS[result["test_id"]]:
            unmatched.append(f"{key[0]}:{key[1]} {result['test_id']} {result['issue_text']}")
    assert not unmatched, "\n".join(unmatched)


def test_cleartext_protocol_imports_flagged_by_bandit_have_a_zerotls_connection_finding(
    bandit_results: list[dict[str, Any]],
) -> None:
    imports = [r for r in bandit_results if r["test_id"] in IMPORT_ONLY]
    assert imports
    for result in imports:
        path = Path(result["filename"])
        findings = audit_source(path.read_text(encoding="utf-8"), str(path))
        protocol = IMPORT_ONLY[result["test_id"]]
        assert any(f.rule_id == "NET003" and protocol in f.message for f in findings)


def test_where_bandit_reports_a_safe_pattern_zerotls_stays_silent() -> None:
    """Documents the disagreements: bandit flags these files, zerotls rightly does not."""
    bandit = run_bandit(DISAGREEMENTS)
    flagged = {Path(r["filename"]).name for r in bandit}
    assert flagged == {p.name for p in DISAGREEMENTS.glob("*.py")}
    assert not audit_paths([DISAGREEMENTS]).findings
