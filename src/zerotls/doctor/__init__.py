"""``zerotls doctor``: what TLS this Python process will actually use, and what is wrong with it.

A Python process carries two TLS stacks: the stdlib ``ssl`` module on the distribution's
OpenSSL, and the OpenSSL statically linked into the ``cryptography`` wheel, which zerotls's
engine uses through pyOpenSSL. The doctor measures both (versions, protocols and key-exchange
groups by real in-memory handshakes, default trust stores), reads the kernel's clock state,
and checks the security dependencies against a small dated advisory table::

    from zerotls.doctor import run_doctor

    report = run_doctor()
    print(report.to_text())
    raise SystemExit(report.exit_code)   # 1 when something is unsafe

Layers: :mod:`.probes` gathers facts (the only module with I/O), :mod:`.checks` judges them
(pure functions, time passed in), :mod:`.advisories` is the table (data).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
import textwrap
from dataclasses import asdict, dataclass
from typing import Any

from zerotls.doctor.advisories import ADVISORIES, TABLE_DATE
from zerotls.doctor.checks import Check, DoctorFacts, Status, build_checks
from zerotls.doctor.probes import (
    find_pip_audit,
    installed_packages,
    probe_bundled,
    probe_clock,
    probe_stdlib,
    run_pip_audit,
)
from zerotls.errors import ConfigError

__all__ = ["Check", "DoctorFacts", "DoctorReport", "Status", "build_checks", "run_doctor"]

_MARK = {Status.OK: "ok", Status.INFO: "info", Status.WARN: "WARN", Status.UNSAFE: "UNSAFE"}


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """The facts and the verdicts."""

    facts: DoctorFacts
    checks: tuple[Check, ...]
    python: str
    zerotls: str

    @property
    def unsafe(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.UNSAFE)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.WARN)

    @property
    def exit_code(self) -> int:
        """1 when something is unsafe, else 0."""
        return 1 if self.unsafe else 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (schema in docs/doctor.md)."""
        facts = self.facts

        def runtime(info: Any) -> dict[str, Any]:
            data = asdict(info)
            data["groups"] = dict(info.groups)
            data["post_quantum_hybrid"] = list(info.hybrid_groups)
            return data

        return {
            "tool": "zerotls doctor",
            "schema": 1,
            "python": self.python,
            "zerotls": self.zerotls,
            "runtimes": {"stdlib": runtime(facts.stdlib), "bundled": runtime(facts.bundled)},
            "clock": {**asdict(facts.clock), "now": facts.clock.now.isoformat()},
            "packages": {p.name: p.version for p in facts.packages},
            "advisory_table": {"date": TABLE_DATE.isoformat(), "entries": len(ADVISORIES)},
            "pip_audit": {
                "command": list(facts.pip_audit_command) if facts.pip_audit_command else None,
                "ran": facts.pip_audit is not None,
                "vulnerabilities": [
                    {"package": n, "version": v, "id": i, "fix_versions": list(f)}
                    for n, v, i, f in (facts.pip_audit.vulnerabilities if facts.pip_audit else ())
                ],
                "error": facts.pip_audit.error if facts.pip_audit else None,
            },
            "checks": [
                {
                    "id": c.id,
                    "status": c.status.value,
                    "title": c.title,
                    "detail": c.detail,
                    "fix": c.fix,
                }
                for c in self.checks
            ],
            "unsafe": len(self.unsafe),
            "warnings": len(self.warnings),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_text(self, *, verbose: bool = False) -> str:
        """A report for people: the runtime first, then the checks that need attention.

        Args:
            verbose: also list the checks that are ``ok`` and ``info``.
        """
        facts = self.facts
        lines = [f"zerotls {self.zerotls} doctor: Python {self.python}", ""]
        for info in (facts.stdlib, facts.bundled):
            spoken = [p.version for p in info.protocols if p.negotiated]
            groups = [g for g, ok in info.groups if ok]
            hybrid = info.hybrid_groups[0] if info.hybrid_groups else "none"
            trust = info.trust
            lines += [
                f"{info.name}: {info.library}",
                f"  protocols   {', '.join(spoken) or 'none'}",
                f"  groups      {', '.join(groups) or 'none'} (post-quantum hybrid: {hybrid})",
                f"  trust       {trust.certificates} CA certificates from "
                f"{', '.join(trust.files) or 'no file'}"
                + (f", directory {trust.directory}" if trust.directory else ""),
                *(f"  note        {note}" for note in info.notes),
            ]
        clock = facts.clock
        sync = {True: "synchronised", False: "NOT synchronised", None: "synchronisation unknown"}
        lines.append(
            f"clock: {clock.now.strftime('%Y-%m-%dT%H:%M:%SZ')}, {sync[clock.synchronized]}"
            + (f" ({clock.detail})" if clock.detail else "")
        )
        packages = ", ".join(f"{p.name} {p.version or '(not installed)'}" for p in facts.packages)
        lines += [
            f"packages: {packages}",
            f"advisory table: {len(ADVISORIES)} entries, compiled {TABLE_DATE.isoformat()}",
            "",
        ]
        shown = [
            c
            for c in self.checks
            if verbose or c.status in {Status.WARN, Status.UNSAFE} or c.id == "pip-audit"
        ]
        for check in shown:
            lines.append(f"{_MARK[check.status]:>6}  {check.title}")
            for label, text in (("", check.detail), ("fix: ", check.fix or "")):
                if text:
                    lines += textwrap.wrap(
                        label + text, 96, initial_indent=" " * 8, subsequent_indent=" " * 8
                    )
        hidden = len(self.checks) - len(shown)
        if hidden:
            lines.append(f"{'':>6}  ({hidden} checks ok or informational; --verbose lists them)")
        lines += [
            "",
            f"{len(self.unsafe)} unsafe, {len(self.warnings)} warnings: "
            + ("UNSAFE (exit 1)" if self.unsafe else "nothing unsafe (exit 0)"),
        ]
        return "\n".join(lines) + "\n"


def run_doctor(
    *,
    pip_audit: bool = False,
    now: dt.datetime | None = None,
    workload_api: dict[str, Any] | None = None,
) -> DoctorReport:
    """Probe this process's TLS runtime and judge it.

    Args:
        pip_audit: also run pip-audit on this environment (network; several seconds).
        now: the time to judge against (default: the system clock, which is also checked).
        workload_api: what a SPIFFE agent serves (see :class:`DoctorFacts`), to judge too.

    Raises:
        ConfigError: ``pip_audit`` is requested but pip-audit is not installed, or fails to
            start.
    """
    from zerotls import __version__

    command = find_pip_audit()
    if pip_audit and command is None:
        raise ConfigError(
            "pip-audit is not installed in this environment: `python -m pip install "
            "pip-audit`, or run `zerotls doctor` without --pip-audit"
        )
    clock = probe_clock(now)
    moment = clock.now
    facts = DoctorFacts(
        stdlib=probe_stdlib(moment),
        bundled=probe_bundled(moment),
        clock=clock,
        packages=installed_packages(),
        pip_audit_command=command,
        pip_audit=run_pip_audit(command) if pip_audit and command else None,
        workload_api=workload_api,
    )
    python = f"{platform.python_version()} ({sys.executable})"
    return DoctorReport(facts, build_checks(facts), python, __version__)
