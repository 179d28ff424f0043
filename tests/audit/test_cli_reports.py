"""The CLI (in process and once as a subprocess), the report formats, STARTTLS, and sslyze."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit.conftest import Certs, audit
from tests.peers.legacy import Server
from zerotls.audit.grading import meets
from zerotls.audit.model import GradeResult, Target
from zerotls.audit.reports import render_html, render_json, render_sarif, render_text
from zerotls.cli import main
from zerotls.errors import ConfigError

pytestmark = pytest.mark.peers

SSLYZE = Path.home() / ".cache/zerotls-bench/sslyze-venv/bin/python"


def test_json_report_follows_the_schema(
    tls12_13: Server, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["audit", tls12_13.address, "--sni", "localhost", "--ca", str(certs.ca), "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "zerotls.audit/1"
    [target] = document["targets"]
    assert target["target"]["port"] == tls12_13.port
    assert target["grade"]["grade"] == "A"
    versions = {v["version"]: v["supported"] for v in target["results"]["protocols"]["versions"]}
    assert versions["TLS 1.3"] is True and versions["TLS 1.0"] is False
    assert all({"id", "severity", "title", "detail", "fix"} <= f.keys() for f in target["findings"])


def test_gates_set_the_exit_code(
    legacy_tls10: Server, tls12_13: Server, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["audit", "tls", "--sni", "localhost", "--ca", str(certs.ca), "--probes",
            "protocols,certificate,groups"]  # fmt: skip
    # SECLEVEL=0 "ALL" includes anonymous suites: an F, which passes only a gate of F.
    assert main([*base, legacy_tls10.address, "--min-grade", "F"]) == 0
    assert main([*base, legacy_tls10.address, "--min-grade", "B"]) == 1
    assert "below B" in capsys.readouterr().err
    assert main([*base, legacy_tls10.address, "--profile", "intermediate"]) == 1
    assert main([*base, tls12_13.address, "--profile", "intermediate", "--min-grade", "A"]) == 0
    assert main([*base, tls12_13.address, "--profile", "modern"]) == 1


def test_unreachable_and_bad_arguments(certs: Certs, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["audit", f"127.0.0.1:{port}", "--ca", str(certs.ca)]) == 3
    assert "no target could be scanned" in capsys.readouterr().err
    assert main(["audit", "tls", "--ca", str(certs.ca)]) == 2
    assert main(["audit", "127.0.0.1:1", "--probes", "nonsense"]) == 2
    assert "unknown probe nonsense" in capsys.readouterr().err
    assert main(["audit", "127.0.0.1:1", "--ca", "/nonexistent.pem"]) == 2
    with pytest.raises(ConfigError, match="unknown scheme"):
        Target.parse("gopher://x")
    with pytest.raises(ConfigError, match="port"):
        Target.parse("host:99999")


def test_targets_file_sarif_and_html(
    tls12_13: Server, legacy_tls10: Server, certs: Certs, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet.txt"
    fleet.write_text(f"# fleet\n{tls12_13.address}\n{legacy_tls10.address}  # old box\n")
    sarif_path = tmp_path / "audit.sarif"
    args = ["audit", "tls", "--targets", str(fleet), "--ca", str(certs.ca), "--probes",
            "protocols,certificate", "--no-progress"]  # fmt: skip
    assert main([*args, "--sarif", "-o", str(sarif_path)]) == 0
    sarif = json.loads(sarif_path.read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    results = run["results"]
    assert {"protocol.tls10", "protocol.tls11"} <= {r["ruleId"] for r in results} <= rules
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("tls://")
               for r in results)  # fmt: skip
    html_path = tmp_path / "audit.html"
    assert main([*args, "--html", "-o", str(html_path)]) == 0
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http://" not in page
    assert "TLS 1.0 is enabled" in page and legacy_tls10.address in page


def test_reports_escape_and_render(tls12_13: Server, certs: Certs) -> None:
    report = audit(tls12_13, certs.ca, probes=("protocols", "certificate"))
    text = render_text([report])
    assert "Grade A" in text and "TLS 1.3  offered" in text
    assert json.loads(render_json([report]))["targets"][0]["grade"]["grade"] == "A"
    assert json.loads(render_sarif([report]))["runs"][0]["tool"]["driver"]["name"]
    assert "<b>" not in render_html([report]).split("<h3>Findings")[0].split("<body>")[0]


def test_meets() -> None:
    def g(letter: str) -> GradeResult:
        return GradeResult(letter, letter, 0, 0, 0, 0)

    assert meets(g("A+"), "A") and meets(g("B"), "B") and not meets(g("C"), "B")
    assert not meets(g("T"), "F") and not meets(g("M"), "F")


def test_cli_as_a_subprocess(tls13_only: Server, certs: Certs) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "zerotls",
            "audit",
            tls13_only.address,
            "--sni",
            "localhost",
            "--ca",
            str(certs.ca),
            "--min-grade",
            "A",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Grade A" in proc.stdout and "Traceback" not in proc.stderr


# -- STARTTLS ------------------------------------------------------------------------------------


@pytest.fixture
def smtp_server(certs: Certs) -> Iterator[str]:
    """A minimal SMTP server that upgrades to TLS (stdlib ssl) after STARTTLS."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.ec.cert, certs.ec.key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"220 mail.test ESMTP\r\n")
                buf = b""
                while b"STARTTLS" not in buf:
                    chunk = conn.recv(1024)
                    if not chunk:
                        return
                    buf += chunk
                    if b"EHLO" in buf and b"250 " not in buf:
                        conn.sendall(b"250-mail.test\r\n250 STARTTLS\r\n")
                        buf += b"250 "
                conn.sendall(b"220 ready\r\n")
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                return

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"smtp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_starttls_smtp(smtp_server: str, certs: Certs) -> None:
    report = audit(smtp_server, certs.ca, probes=("protocols", "certificate"))
    assert report.target.starttls == "smtp"
    assert "TLS 1.3" in report.results["protocols"].supported
    assert report.results["certificate"].trusted


# -- comparison with sslyze ----------------------------------------------------------------------


@pytest.mark.skipif(
    not SSLYZE.exists(), reason=f"sslyze is not installed at {SSLYZE} (see bench/audit_vs_peers.py)"
)
def test_same_suites_as_sslyze(tls12_13: Server, certs: Certs, tmp_path: Path) -> None:
    """sslyze and zerotls agree on the TLS 1.2 and 1.3 suites of the same server.

    Known difference: sslyze only tests the suites its bundled OpenSSL knows, zerotls offers
    the whole IANA table, so zerotls may find more, never fewer. (The full legacy comparison,
    slower, is in bench/audit_vs_peers.py.)
    """
    out = tmp_path / "sslyze.json"
    subprocess.run(
        [
            str(SSLYZE),
            "-m",
            "sslyze",
            "--json_out",
            str(out),
            "--tlsv1_2",
            "--tlsv1_3",
            tls12_13.address,
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    scan = json.loads(out.read_text())["server_scan_results"][0]["scan_result"]
    ours = audit(tls12_13, certs.ca, probes=("protocols",)).results["protocols"]
    for key, label in (("tls_1_2_cipher_suites", "TLS 1.2"), ("tls_1_3_cipher_suites", "TLS 1.3")):
        accepted = scan[key]["result"]["accepted_cipher_suites"]
        theirs = {s["cipher_suite"]["name"] for s in accepted}
        mine = {s.name for s in ours.get(label).suites}
        assert theirs == mine, f"{label}: sslyze {sorted(theirs)} zerotls {sorted(mine)}"
