"""`zerotls audit code` beside bandit on the same real code: speed and TLS findings.

Run by hand (never in the test suite):

    .venv/bin/python bench/code_audit_vs_bandit.py --repeat 3
    .venv/bin/python bench/code_audit_vs_bandit.py path/to/project --repeat 5

Both tools read the same files. Bandit runs as a process limited to its TLS and crypto tests
(-t, the ids of tests/codeaudit/test_corpus.py), so the comparison is like for like; zerotls
runs as a process too (`python -m zerotls audit code --json`). Rounds alternate between the
tools; each round's wall time and the child's CPU time are recorded, and medians are printed
with the ratio. Then the findings are compared: every bandit TLS/crypto finding, and whether
zerotls reports a finding at the same line (the contract the test suite enforces on the
corpus, here measured on code nobody wrote for the test).

Every run is bounded: at most --max-files files, and each tool process has a timeout.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.codeaudit.test_corpus import BANDIT_TO_ZEROTLS  # noqa: E402

from zerotls.codeaudit import iter_python_files  # noqa: E402

SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
DEFAULT_TARGETS = [
    ROOT / "src",
    *(
        SITE / "site-packages" / name
        for name in ("OpenSSL", "cryptography", "bandit", "_pytest", "hypothesis", "pip")
    ),
]


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], timeout: float) -> tuple[float, float, str]:
    cpu0, wall0 = child_cpu(), time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    wall, cpu = time.perf_counter() - wall0, child_cpu() - cpu0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{command[2]} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return wall, cpu, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="trees to scan (default: a mix)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per tool (default 3)")
    parser.add_argument("--max-files", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=600.0, help="per tool run, seconds")
    args = parser.parse_args()
    targets = [p for p in (args.paths or DEFAULT_TARGETS) if p.exists()]
    files = list(iter_python_files(targets))[: args.max_files]
    with tempfile.TemporaryDirectory(prefix="zerotls-bench-") as tmp:
        # One flat copy, so both tools see exactly these files and nothing else.
        corpus = Path(tmp)
        for index, file in enumerate(files):
            (corpus / f"f{index:05d}_{file.name}").write_bytes(file.read_bytes())
        lines = sum(f.read_bytes().count(b"\n") for f in corpus.iterdir())
        print(f"{len(files)} files, {lines} lines from {', '.join(str(t) for t in targets)}")
        zerotls = [sys.executable, "-m", "zerotls", "audit", "code", str(corpus), "--json"]
        bandit = [
            sys.executable, "-m", "bandit", "-r", str(corpus), "-f", "json", "-q",
            "-t", ",".join(sorted(BANDIT_TO_ZEROTLS)),
        ]  # fmt: skip
        times: dict[str, list[tuple[float, float]]] = {"zerotls": [], "bandit": []}
        outputs: dict[str, str] = {}
        for _ in range(args.repeat):
            for name, command in (("zerotls", zerotls), ("bandit", bandit)):
                wall, cpu, out = timed(command, args.timeout)
                times[name].append((wall, cpu))
                outputs[name] = out
        print(f"\n{'tool':<8} {'wall s (median)':>16} {'cpu s (median)':>15} {'files/s':>9}")
        medians = {}
        for name, runs in times.items():
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            medians[name] = (wall, cpu)
            print(f"{name:<8} {wall:>16.2f} {cpu:>15.2f} {len(files) / wall:>9.0f}")
        ratio = medians["bandit"][1] / medians["zerotls"][1]
        print(f"bandit CPU / zerotls CPU: {ratio:.2f}  (over {args.repeat} rounds each)")

        found = json.loads(outputs["zerotls"])["findings"]
        at_line: dict[tuple[str, int], set[str]] = {}
        for finding in found:
            at_line.setdefault((Path(finding["path"]).name, finding["line"]), set()).add(
                finding["rule_id"]
            )
        results = json.loads(outputs["bandit"])["results"]
        compared = [r for r in results if r["test_id"] in BANDIT_TO_ZEROTLS]
        unmatched = [
            r
            for r in compared
            if not at_line.get((Path(r["filename"]).name, r["line_number"]), set())
            & BANDIT_TO_ZEROTLS[r["test_id"]]
        ]
        by_rule: dict[str, int] = {}
        for finding in found:
            by_rule[finding["rule_id"]] = by_rule.get(finding["rule_id"], 0) + 1
        print(f"\nbandit TLS/crypto findings: {len(compared)}; matched by zerotls at the same "
              f"line: {len(compared) - len(unmatched)}")  # fmt: skip
        for r in unmatched:
            print(
                f"  unmatched {r['test_id']} {r['filename']}:{r['line_number']} {r['issue_text']}"
            )
        print(f"zerotls findings: {len(found)} {dict(sorted(by_rule.items()))}")


if __name__ == "__main__":
    main()
