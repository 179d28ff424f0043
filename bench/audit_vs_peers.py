"""Wall time of a default full scan: zerotls audit vs sslyze vs testssl.sh, same local targets.

Starts four local targets (TLS 1.2+1.3 intermediate, TLS 1.0-1.2 legacy at SECLEVEL 0,
static RSA, and a tlslite-ng SSLv3 server), then times each scanner's default scan of them run
one after the other and all at once, ``--repeat`` times, and prints medians and ratios,
then the findings each tool reported per target by severity (zerotls and testssl.sh; sslyze
reports measurements without severities).

    .venv/bin/python bench/audit_vs_peers.py [--repeat 3] [--no-testssl] [--no-sslyze]

sslyze must live in its own virtualenv (it pins other cryptography/pyOpenSSL versions):
    python3 -m venv ~/.cache/zerotls-bench/sslyze-venv
    ~/.cache/zerotls-bench/sslyze-venv/bin/pip install sslyze
testssl.sh comes from Debian: ``apt-get install testssl.sh``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.peers.legacy import Server, openssl_server, tlslite_server  # noqa: E402

from zerotls.pki import CA  # noqa: E402

SSLYZE = Path.home() / ".cache/zerotls-bench/sslyze-venv/bin/python"
TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
SCAN_TIMEOUT = 900  # seconds; every scanner run is bounded


@contextlib.contextmanager
def targets(tmp: Path) -> Iterator[list[Server]]:
    ca = CA.create("bench CA")
    (tmp / "ca.pem").write_bytes(ca.cert_pem)
    ec = ca.issue("bench-ec", dns=["localhost"], ips=["127.0.0.1"], usage="server")
    rsa = ca.issue("bench-rsa", dns=["localhost"], ips=["127.0.0.1"], usage="server",
                   key_type="rsa")  # fmt: skip
    ec.write(tmp / "ec.pem", tmp / "ec.key")
    rsa.write(tmp / "rsa.pem", tmp / "rsa.key")
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(openssl_server(tmp / "ec.pem", tmp / "ec.key", extra=[
                "-cipher", "ECDHE+AESGCM:ECDHE+CHACHA20", "-groups", "X25519:P-256:P-384"])),
            stack.enter_context(openssl_server(tmp / "rsa.pem", tmp / "rsa.key", extra=[
                "-cipher", "ALL:@SECLEVEL=0", "-min_protocol", "TLSv1",
                "-max_protocol", "TLSv1.2"])),
            stack.enter_context(openssl_server(tmp / "rsa.pem", tmp / "rsa.key", extra=[
                "-cipher", "AES128-GCM-SHA256:AES256-GCM-SHA384", "-no_tls1_3"])),
            stack.enter_context(tlslite_server(tmp / "rsa.pem", tmp / "rsa.key",
                                               max_version="tls1.0")),
        ]  # fmt: skip
        yield servers


def run(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=SCAN_TIMEOUT, check=False)  # fmt: skip
    return time.perf_counter() - started


def zerotls_cmd(tmp: Path, addresses: list[str]) -> list[str]:
    return [sys.executable, "-m", "zerotls", "audit", "tls", *addresses, "--ca",
            str(tmp / "ca.pem"), "--json", "-o", str(tmp / "zerotls.json")]  # fmt: skip


def sslyze_cmd(tmp: Path, addresses: list[str]) -> list[str]:
    return [str(SSLYZE), "-m", "sslyze", "--json_out", str(tmp / "sslyze.json"), *addresses]


def testssl_cmd(tmp: Path, address: str) -> list[str]:
    out = tmp / f"testssl-{address.replace(':', '_')}.json"
    out.unlink(missing_ok=True)
    return [str(TESTSSL), "--quiet", "--warnings", "off", "--color", "0", "--jsonfile",
            str(out), address]  # fmt: skip


def measure(name: str, sequential: Callable[[], float], concurrent: Callable[[], float],
            repeat: int) -> tuple[float, float]:  # fmt: skip
    seq = statistics.median(sequential() for _ in range(repeat))
    par = statistics.median(concurrent() for _ in range(repeat))
    print(f"{name:<10} one after the other {seq:8.2f} s   all at once {par:8.2f} s")
    return seq, par


LEVELS = ("critical", "high", "medium", "low")


def _zerotls_findings(path: Path) -> dict[str, Counter[str]]:
    """Findings by severity per target, from zerotls's JSON report."""
    out: dict[str, Counter[str]] = {}
    for report in json.loads(path.read_text())["targets"]:
        target = report["target"]
        counts = Counter(str(f["severity"]).lower() for f in report.get("findings", []))
        out[f"{target['host']}:{target['port']}"] = counts
    return out


def _testssl_findings(path: Path) -> Counter[str]:
    """Findings by severity from one testssl.sh JSON file (OK, INFO and WARN not counted)."""
    if not path.exists():
        return Counter()
    try:
        entries = json.loads(path.read_text())
    except ValueError:
        return Counter()
    return Counter(str(e.get("severity", "")).lower() for e in entries if isinstance(e, dict))


def print_findings(tmp: Path, addresses: list[str], *, with_testssl: bool) -> None:
    """Findings per tool and target (critical/high/medium/low) from the last runs' reports.
    sslyze reports measurements, not findings with a severity, so it has no column."""
    ours = _zerotls_findings(tmp / "zerotls.json")
    head = "findings (critical/high/medium/low)"
    print(f"{head:<36} {'zerotls':>14}" + (f" {'testssl.sh':>14}" if with_testssl else ""))
    for address in addresses:
        line = (
            f"  {address:<34} {'/'.join(str(ours.get(address, Counter())[k]) for k in LEVELS):>14}"
        )
        if with_testssl:
            theirs = _testssl_findings(tmp / f"testssl-{address.replace(':', '_')}.json")
            line += f" {'/'.join(str(theirs[k]) for k in LEVELS):>14}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-testssl", action="store_true")
    parser.add_argument("--no-sslyze", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name, targets(Path(name)) as servers:
        tmp = Path(name)
        addresses = [s.address for s in servers]
        print(f"targets: {', '.join(addresses)}; median of {args.repeat}")
        results: dict[str, tuple[float, float]] = {}

        def each(make: Callable[[str], list[str]]) -> Callable[[], float]:
            return lambda: sum(run(make(a)) for a in addresses)

        def together(make: Callable[[str], list[str]]) -> Callable[[], float]:
            def go() -> float:
                started = time.perf_counter()
                with ThreadPoolExecutor(len(addresses)) as pool:
                    list(pool.map(lambda a: run(make(a)), addresses))
                return time.perf_counter() - started

            return go

        results["zerotls"] = measure(
            "zerotls",
            each(lambda a: zerotls_cmd(tmp, [a])),
            lambda: run(zerotls_cmd(tmp, addresses)),
            args.repeat,
        )
        if not args.no_sslyze and SSLYZE.exists():
            results["sslyze"] = measure(
                "sslyze",
                each(lambda a: sslyze_cmd(tmp, [a])),
                lambda: run(sslyze_cmd(tmp, addresses)),
                args.repeat,
            )
        elif not args.no_sslyze:
            print(f"sslyze: not installed at {SSLYZE} (see this file's docstring)")
        if not args.no_testssl and TESTSSL:
            results["testssl"] = measure(
                "testssl.sh",
                each(lambda a: testssl_cmd(tmp, a)),
                together(lambda a: testssl_cmd(tmp, a)),
                args.repeat,
            )
        elif not args.no_testssl:
            print("testssl.sh: not installed (apt-get install testssl.sh)")
        print_findings(tmp, addresses, with_testssl="testssl" in results)
        ours = results["zerotls"]
        for peer in ("sslyze", "testssl"):
            if peer in results:
                theirs = results[peer]
                print(f"{peer}/zerotls: {theirs[0] / ours[0]:.1f}x one after the other, "
                      f"{theirs[1] / ours[1]:.1f}x all at once")  # fmt: skip


if __name__ == "__main__":
    main()
