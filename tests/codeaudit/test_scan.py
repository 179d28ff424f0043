"""Walking files, unreadable input, suppressions and rule selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerotls.codeaudit import (
    Severity,
    audit_paths,
    audit_source,
    iter_python_files,
    resolve_rule_selection,
)
from zerotls.errors import ConfigError

INSECURE = "import requests\nrequests.get('https://x', verify=False)\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_bad_files_become_findings_and_the_scan_goes_on(tmp_path: Path) -> None:
    write(tmp_path / "a_syntax.py", "def broken(:\n    pass\n")
    write(tmp_path / "b_encoding.py", b"# -*- coding: klingon -*-\nx = 1\n")
    write(tmp_path / "c_bad_utf8.py", b"x = '\xff\xfe'\n")
    write(tmp_path / "d_null.py", b"x = 1\x00\n")
    write(tmp_path / "e_nesting.py", "x = " + "(" * 300 + "1" + ")" * 300 + "\n")
    write(tmp_path / "f_deep.py", "x = 1" + " + 1" * 200_000 + "\n")
    write(tmp_path / "g_deep.py", "x = 1" + " + 1" * 2_000 + "\n")  # parses, too deep for us
    write(tmp_path / "z_fine.py", INSECURE)
    report = audit_paths([tmp_path])
    assert report.files_scanned == 8
    by_file = {Path(f.path).name: f for f in report.findings}
    assert by_file["z_fine.py"].rule_id == "TLS004"  # the scan went on after the bad files
    assert by_file["a_syntax.py"].rule_id == "ZTL001"
    assert by_file["a_syntax.py"].line == 1 and "syntax error" in by_file["a_syntax.py"].message
    assert "unknown encoding" in by_file["b_encoding.py"].message
    assert "decode" in by_file["c_bad_utf8.py"].message
    assert "nested too deeply" in by_file["g_deep.py"].message
    for name in ("d_null.py", "e_nesting.py", "f_deep.py", "g_deep.py"):
        assert by_file[name].rule_id == "ZTL001", name
        assert by_file[name].message.startswith("not audited: ")


def test_a_file_too_large_is_reported_not_read(tmp_path: Path) -> None:
    from zerotls.codeaudit.scan import MAX_FILE_SIZE

    big = write(tmp_path / "big.py", "")
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_SIZE + 1)
    (finding,) = audit_paths([big]).findings
    assert finding.rule_id == "ZTL001" and "MiB" in finding.message


def test_default_excludes_and_globs(tmp_path: Path) -> None:
    for name in ("app.py", ".venv/lib/x.py", ".git/hooks/h.py", "pkg/__pycache__/c.py"):
        write(tmp_path / name, INSECURE)
    write(tmp_path / "tests/fixtures/vendored.py", INSECURE)
    write(tmp_path / "gen/api_pb2.py", INSECURE)
    write(tmp_path / "notes.txt", INSECURE)
    found = {p.relative_to(tmp_path).as_posix() for p in iter_python_files([tmp_path])}
    assert found == {"app.py", "tests/fixtures/vendored.py", "gen/api_pb2.py"}
    found = {
        p.relative_to(tmp_path).as_posix()
        for p in iter_python_files([tmp_path], exclude=["tests/fixtures/*", "*_pb2.py"])
    }
    assert found == {"app.py"}
    found = {
        p.relative_to(tmp_path).as_posix()
        for p in iter_python_files([tmp_path], exclude=["tests"], default_excludes=False)
    }
    assert found == {"app.py", ".venv/lib/x.py", ".git/hooks/h.py", "pkg/__pycache__/c.py"} | {
        "gen/api_pb2.py"
    }


def test_a_file_named_explicitly_is_audited_whatever_its_suffix(tmp_path: Path) -> None:
    script = write(tmp_path / "deploy-script", INSECURE)
    assert [f.rule_id for f in audit_paths([script]).findings] == ["TLS004"]


def test_directory_symlink_loops_are_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "pkg/mod.py", INSECURE)
    (tmp_path / "pkg/loop").symlink_to(tmp_path / "pkg", target_is_directory=True)
    assert [p.name for p in iter_python_files([tmp_path])] == ["mod.py"]


def test_a_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or directory"):
        audit_paths([tmp_path / "nope"])


def test_suppression_with_reason_silences_and_keeps_the_reason() -> None:
    source = (
        "import requests\n"
        "requests.get('https://x', verify=False)  # zerotls: ignore[TLS004] lab box, no data\n"
    )
    (finding,) = audit_source(source)
    assert finding.suppressed and finding.suppression_reason == "lab box, no data"


def test_suppression_on_the_first_line_of_a_statement_covers_its_other_lines() -> None:
    source = (
        "import requests\n"
        "requests.get(  # zerotls: ignore[TLS004] fixture\n"
        "    'https://x',\n"
        "    verify=False,\n"
        ")\n"
    )
    (finding,) = audit_source(source)
    assert finding.line == 4 and finding.suppressed


def test_suppression_for_another_rule_does_not_silence() -> None:
    source = (
        "import requests\nrequests.get('https://x', verify=False)  # zerotls: ignore[TLS005] x\n"
    )
    rules = sorted((f.rule_id, f.suppressed) for f in audit_source(source))
    assert rules == [("TLS004", False), ("ZTL003", False)]


def test_suppression_text_inside_a_string_is_not_a_suppression() -> None:
    source = (
        "import requests\n"
        "requests.get('https://x', verify=False, headers={'h': '# zerotls: ignore[TLS004] no'})\n"
    )
    assert [(f.rule_id, f.suppressed) for f in audit_source(source)] == [("TLS004", False)]


@pytest.mark.parametrize(
    ("comment", "problem"),
    [
        ("# zerotls: ignore[TLS004]", "no reason"),
        ("# zerotls: ignore[TLS004]   ", "no reason"),
        ("# zerotls: ignore[TLS004] --", "no reason"),
        ("# zerotls: ignore[] because", "no rule id"),
        ("# zerotls: ignore[TLS04] because", "unknown rule id TLS04"),
        ("# zerotls: ignore because", "rule ids in brackets"),
    ],
)
def test_invalid_suppressions_are_reported_and_suppress_nothing(comment: str, problem: str) -> None:
    source = f"import requests\nrequests.get('https://x', verify=False)  {comment}\n"
    findings = audit_source(source)
    assert [(f.rule_id, f.suppressed) for f in findings] == [("TLS004", False), ("ZTL002", False)]
    assert problem in findings[1].message
    assert findings[1].severity is Severity.MEDIUM


def test_rule_selection_by_id_and_prefix() -> None:
    assert resolve_rule_selection(["TLS004"]) == {"TLS004"}
    assert resolve_rule_selection(["net,mac001"]) == {"NET001", "NET002", "NET003", "NET004"} | {
        "MAC001"
    }
    everything_but = resolve_rule_selection([], ["ZTL", "TLS00"])
    assert "ZTL002" not in everything_but and "TLS001" not in everything_but
    assert "TLS010" in everything_but
    with pytest.raises(ConfigError, match="matches no rule"):
        resolve_rule_selection(["TSL004"])
    with pytest.raises(ConfigError, match="--ignore"):
        resolve_rule_selection([], ["XYZ"])


def test_selection_filters_findings_but_suppression_bookkeeping_sees_all_rules(
    tmp_path: Path,
) -> None:
    source = (
        "import requests, hashlib\n"
        "requests.get('http://example.com/', verify=False)  # zerotls: ignore[TLS004] lab\n"
        "hashlib.md5(b'x')\n"
    )
    path = write(tmp_path / "m.py", source)
    report = audit_paths([path], select=["NET"])
    # The TLS004 suppression is used (by a finding not selected): no ZTL003 for it.
    assert [f.rule_id for f in report.findings] == ["NET004"]
    report = audit_paths([path], ignore=["NET", "HASH"])
    assert [(f.rule_id, f.suppressed) for f in report.findings] == [("TLS004", True)]


def test_report_gate_and_counts(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "import hashlib\nhashlib.sha1(b'x')\n")  # medium
    write(tmp_path / "b.py", "import ssl\nssl.wrap_socket(s)  # zerotls: ignore[TLS008] legacy\n")
    report = audit_paths([tmp_path])
    assert report.counts() == {"high": 0, "medium": 1, "low": 0, "info": 0}
    assert len(report.suppressed) == 1
    assert report.failing(Severity.MEDIUM) and not report.failing(Severity.HIGH)
