"""A hostile tree (a pull request) must not hang, exhaust or read outside the audit: links to
devices, FIFOs named ``*.py``, links out of the tree. Each is reported, none is read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zerotls.cli import main
from zerotls.codeaudit import audit_paths
from zerotls.errors import ConfigError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "ok.py").write_text("import ssl\nctx = ssl.create_default_context()\n")
    (root / "pkg" / "bad.py").write_text(
        "import requests\nrequests.get('https://x', verify=False)\n"
    )
    secret = tmp_path / "outside.py"
    secret.write_text("requests.get('https://x', verify=False)  # outside the tree\n")
    os.symlink("/dev/zero", root / "pkg" / "zero.py")
    os.mkfifo(root / "pkg" / "fifo.py")
    os.symlink(secret, root / "pkg" / "escape.py")
    os.symlink(root / "pkg" / "bad.py", root / "pkg" / "alias.py")  # inside: followed
    os.symlink(root / "pkg" / "loop.py", root / "pkg" / "loop.py")
    return root


def test_devices_fifos_and_escaping_links_are_reported_not_read(tree: Path) -> None:
    report = audit_paths([tree])
    by_path = {Path(f.path).name: f for f in report.findings if f.rule_id == "ZTL001"}
    assert "out of the audited tree" in by_path["zero.py"].message  # /dev/zero
    assert "a FIFO" in by_path["fifo.py"].message
    assert "out of the audited tree" in by_path["escape.py"].message
    assert "loop.py" in by_path
    flagged = {Path(f.path).name for f in report.findings if f.rule_id != "ZTL001"}
    assert {"bad.py", "alias.py"} <= flagged and "escape.py" not in flagged


def test_the_command_finishes_quickly_and_small_on_the_same_tree(tree: Path) -> None:
    # The limits are the harness's, not an assertion on speed: before, this hung on the FIFO
    # (timeout) or grew without bound on /dev/zero (the address-space limit).
    proc = subprocess.run(
        ["prlimit", "--as=2000000000", sys.executable, "-m", "zerotls", "audit", "code", str(tree)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # findings (verify=False), not a crash
    assert "Traceback" not in proc.stderr and "out of the audited tree" in proc.stdout


def test_a_fifo_or_device_named_on_the_command_line_is_a_clear_error(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="is a FIFO, not a regular file"):
        audit_paths([tree / "pkg" / "fifo.py"])
    assert main(["audit", "code", "/dev/zero"]) == 2
    assert "is a device, not a regular file" in capsys.readouterr().err


def test_a_deeply_nested_expression_says_why_it_was_not_audited(tmp_path: Path) -> None:
    deep = tmp_path / "deep.py"
    deep.write_text("x = " + "-" * 100_000 + "1\n")
    [finding] = [f for f in audit_paths([deep]).findings if f.rule_id == "ZTL001"]
    assert "nested too deeply" in finding.message
    assert "cannot parse: " not in finding.message
