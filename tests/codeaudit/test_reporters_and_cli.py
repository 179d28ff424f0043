"""Text, JSON and SARIF output, and ``zerotls audit code`` through ``main`` and a process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from zerotls.cli import main
from zerotls.codeaudit import RULES, Severity, audit_paths, to_json, to_sarif, to_text

SOURCE = """\
import hashlib
import requests
import ssl

def fetch(url):
    return requests.get(url, verify=False)

def checksum(data):
    return hashlib.sha1(data).hexdigest()

def legacy(sock):
    return ssl.wrap_socket(sock)  # zerotls: ignore[TLS008] vendored test helper, py3.11 only
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(SOURCE, encoding="utf-8")
    (tmp_path / "src" / "clean.py").write_text("import ssl\nssl.create_default_context()\n")
    return tmp_path


def test_text_report(project: Path) -> None:
    report = audit_paths([project / "src"])
    text = to_text(report, min_severity=Severity.LOW)
    lines = text.splitlines()
    assert lines[0].endswith(
        "app.py:6:37: high TLS004 requests.get(..., verify=False) turns "
        "off certificate verification (requests)"
    )
    assert lines[1].startswith("    fix: Remove verify=False")
    assert "why these matter:" in lines
    assert "TLS008" not in text  # suppressed: hidden unless asked
    assert lines[-1] == (
        "2 findings (1 high, 1 medium) in 1 of 2 files; 1 suppressed. FAIL: 2 at or above low."
    )
    shown = to_text(report, min_severity=Severity.HIGH, show_suppressed=True)
    assert "TLS008 (suppressed)" in shown and "reason: vendored test helper" in shown
    assert shown.splitlines()[-1].endswith("FAIL: 1 at or above high.")


def test_text_report_when_clean(project: Path) -> None:
    report = audit_paths([project / "src" / "clean.py"])
    assert to_text(report, min_severity=Severity.LOW) == (
        "0 findings in 1 file. pass: nothing at or above low.\n"
    )


def test_json_report(project: Path) -> None:
    report = audit_paths([project / "src"])
    data = json.loads(to_json(report, min_severity=Severity.MEDIUM))
    assert data["files_scanned"] == 2 and data["suppressed"] == 1
    assert data["counts"] == {"high": 1, "medium": 1, "low": 0, "info": 0}
    assert data["gate"] == {"min_severity": "medium", "failed": True}
    first = data["findings"][0]
    assert set(first) == {
        "rule_id", "severity", "title", "path", "line", "col", "message", "why", "fix",
        "suppressed", "suppression_reason",
    }  # fmt: skip
    assert (first["rule_id"], first["line"], first["col"]) == ("TLS004", 6, 37)
    suppressed = [f for f in data["findings"] if f["suppressed"]]
    assert suppressed[0]["suppression_reason"] == "vendored test helper, py3.11 only"


def check_sarif(log: dict[str, Any]) -> None:
    """The SARIF 2.1.0 properties code-scanning importers require."""
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "zerotls" and driver["version"]
    ids = [r["id"] for r in driver["rules"]]
    assert ids == list(RULES) and len(set(ids)) == len(ids)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"none", "note", "warning", "error"}
        assert 0 <= float(rule["properties"]["security-severity"]) <= 10
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"none", "note", "warning", "error"}
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert not physical["artifactLocation"]["uri"].startswith("/")
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1
        for suppression in result.get("suppressions", []):
            assert suppression["kind"] in {"inSource", "external"}


def test_sarif_log(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    report = audit_paths(["src"])
    log = json.loads(to_sarif(report, version="9.9"))
    check_sarif(log)
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["TLS004", "HASH001", "TLS008"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "src/app.py"
    assert location["region"] == {"startLine": 6, "startColumn": 37}
    assert results[0]["level"] == "error" and results[1]["level"] == "warning"
    assert results[2]["suppressions"] == [
        {"kind": "inSource", "justification": "vendored test helper, py3.11 only"}
    ]
    assert (
        log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    )


def test_cli_exit_codes_and_formats(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert main(["audit", "code", "src"]) == 1
    assert "FAIL: 2 at or above low" in capsys.readouterr().out
    assert main(["audit", "code", "src", "--min-severity", "high"]) == 1
    capsys.readouterr()
    assert main(["audit", "code", "src", "--ignore", "TLS004", "--min-severity", "high"]) == 0
    assert "pass: nothing at or above high" in capsys.readouterr().out
    assert main(["audit", "code", "src/clean.py"]) == 0
    capsys.readouterr()
    assert main(["audit", "code", "src", "--json", "--select", "HASH"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [f["rule_id"] for f in data["findings"]] == ["HASH001"]
    assert main(["audit", "code", "src", "--sarif", "--exclude", "app.py"]) == 0
    check_sarif(json.loads(capsys.readouterr().out))


def test_cli_usage_errors_are_one_line_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert main(["audit", "code", "missing/"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zerotls: missing/: no such file or directory") and err.count("\n") == 1
    assert main(["audit", "code", "src", "--select", "TSL"]) == 2
    assert "matches no rule" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["audit", "code", "src", "--min-severity", "critical"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["audit", "code", "--json", "--sarif"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_cli_list_rules_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "code", "--list-rules"]) == 0
    out = capsys.readouterr().out
    for rule in RULES.values():
        assert f"{rule.id} ({rule.severity.value}) {rule.title}" in out
    with pytest.raises(SystemExit):
        main(["audit", "code", "--help"])
    help_text = capsys.readouterr().out
    assert "examples:" in help_text and "zerotls: ignore[TLS004]" in help_text


def test_cli_as_a_real_process(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "zerotls", "audit", "code", "src", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)["gate"]["failed"] is True


def test_the_user_documentation_lists_every_rule_as_the_code_defines_it() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "code-audit.md").read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"### {rule.id} ({rule.severity.value}): {rule.title}\n" in doc
        assert rule.why in doc and rule.fix in doc
