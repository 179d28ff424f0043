"""A fleet scan: 200 local endpoints in one ``--targets`` file (TLS, legacy TLS, SMTP and IMAP
STARTTLS, DTLS, and some that accept and never answer), through the command line, as an
operator runs it: every target gets a line in the summary, the silent ones a clear error."""

from __future__ import annotations

import re
import resource
from pathlib import Path

import pytest

from tests.audit.conftest import Certs
from tests.audit.test_dtls import openssl_dtls
from tests.conftest import PKI
from tests.peers.fleet import fleet
from zerotls.cli import main

pytestmark = pytest.mark.peers

COUNTS = {"tls": 100, "legacy": 40, "smtp": 20, "imap": 16, "silent": 20}
DTLS = 4


def test_two_hundred_targets(
    certs: Certs, pki: PKI, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with fleet(certs.rsa.cert, certs.rsa.key, tmp_path, **COUNTS) as endpoints:
        dtls: list[int] = []
        servers = [openssl_dtls(pki) for _ in range(DTLS)]
        try:
            dtls = [s.__enter__() for s in servers]
            scheme = {"tls": "", "legacy": "", "silent": "", "smtp": "smtp://", "imap": "imap://"}
            lines = [f"{scheme[k]}127.0.0.1:{p}" for k, p in endpoints]
            lines += [f"dtls://127.0.0.1:{p}" for p in dtls]
            targets = tmp_path / "fleet.txt"
            targets.write_text("# the fleet\n" + "\n".join(lines) + "\n")
            capfd.readouterr()
            code = main(["audit", "tls", "--targets", str(targets), "--ca", str(certs.ca),
                         "--probes", "protocols,certificate", "--timeout", "5",
                         "--progress"])  # fmt: skip
            out, err = capfd.readouterr()
        finally:
            for s in servers:
                s.__exit__(None, None, None)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert code == 0  # no gate asked: unreachable targets are reported, not fatal
    assert "200/200 targets" in err  # the progress bar reached the end
    summary = out.split("\nSummary\n", 1)[1]
    rows = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"^  \S*127\.0\.0\.1:(\d+)\s+(\S+)", summary, re.M)
    }
    assert len(rows) == 200, f"{len(rows)} rows in the summary"
    kinds = {p: k for k, p in endpoints} | dict.fromkeys(dtls, "dtls")
    by_kind: dict[str, set[str]] = {}
    for port, grade in rows.items():
        by_kind.setdefault(kinds[port], set()).add(grade)
    assert by_kind["silent"] == {"ERROR"}
    assert by_kind["tls"] <= {"A+", "A", "A-"} and by_kind["smtp"] == by_kind["imap"] == {"A"}
    assert by_kind["dtls"] <= {"A", "A-"}
    assert by_kind["legacy"] and not by_kind["legacy"] & {"A+", "A", "A-", "ERROR"}
    assert "200 targets: 180 scanned" in summary and "20 not scanned" in summary
    # Bounded: the scan's results for 200 targets fit in a modest heap (the peak RSS of
    # this process grew by less than this; a leak per connection would not).
    assert grown_mib < 400, f"peak RSS grew by {grown_mib:.0f} MiB"
