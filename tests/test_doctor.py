"""``zerotls doctor``: the real runtime, checked against independent handshakes; the
advisory logic with injected versions (pure data); the CLI in-process and as a process."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import PKI
from tests.tls.pair import pair
from zerotls.cli import main
from zerotls.doctor import DoctorReport, Status, build_checks, probes, run_doctor
from zerotls.doctor.advisories import (
    ADVISORIES,
    OPENSSL_END_OF_LIFE,
    TABLE_DATE,
    affected_by,
)
from zerotls.doctor.checks import DoctorFacts, check_openssl, check_package
from zerotls.doctor.probes import (
    ClockState,
    PackageInfo,
    PipAuditResult,
    ProtocolProbe,
    RuntimeInfo,
    TrustStore,
    parse_pip_audit_json,
)
from zerotls.doctor.versions import openssl_build_date, parse_openssl, parse_package
from zerotls.errors import ConfigError
from zerotls.tls import serve

TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def report() -> DoctorReport:
    return run_doctor()


# --- the real runtime -------------------------------------------------------------------


def test_versions_are_the_ones_this_process_uses(report: DoctorReport) -> None:
    from cryptography.hazmat.backends.openssl import backend
    from OpenSSL import SSL

    assert report.facts.stdlib.library == ssl.OPENSSL_VERSION
    assert report.facts.bundled.library == backend.openssl_version_text()
    assert report.facts.bundled.library == SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()
    import cryptography
    import OpenSSL

    packages = {p.name: p.version for p in report.facts.packages}
    assert packages["cryptography"] == cryptography.__version__
    assert packages["pyOpenSSL"] == OpenSSL.__version__


def test_protocol_probes_agree_with_the_library(report: DoctorReport) -> None:
    for runtime in (report.facts.stdlib, report.facts.bundled):
        spoken = {p.version for p in runtime.protocols if p.negotiated}
        assert {"TLS 1.2", "TLS 1.3"} <= spoken, runtime  # zerotls needs both
        refused = [p for p in runtime.protocols if not p.negotiated]
        assert all(p.detail for p in refused), "a refusal always says why"
    stdlib_sslv3 = next(p for p in report.facts.stdlib.protocols if p.version == "SSLv3")
    assert stdlib_sslv3.negotiated is False
    if not ssl.HAS_SSLv3:
        assert stdlib_sslv3.detail == "not compiled into this OpenSSL"


def test_bundled_groups_agree_with_a_zerotls_engine_handshake(
    report: DoctorReport, pki: PKI
) -> None:
    claimed = dict(report.facts.bundled.groups)
    for group in ("X25519MLKEM768", "X25519", "P-256"):
        done = pair(
            pki.client_config(groups=(group,)),
            pki.server_config(groups=(group,)),
        )
        negotiated = done.client.handshake is not None and done.client.handshake.group == group
        assert claimed[group] is negotiated, group


def test_stdlib_groups_agree_with_a_real_loopback_handshake(report: DoctorReport, pki: PKI) -> None:
    """A default stdlib client over a real socket, to a zerotls server limited to one group."""
    claimed = dict(report.facts.stdlib.groups)
    for group in ("X25519MLKEM768", "X25519"):
        config = pki.server_config(groups=(group,), require_client_cert=False)
        server = serve(lambda conn: None, "127.0.0.1", 0, config)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            ctx = ssl.create_default_context(cafile=str(pki.ca_path))
            try:
                with socket.create_connection(server.server_address, timeout=5) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost"):
                        completed = True
            except (ssl.SSLError, OSError):
                completed = False
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)
        assert claimed[group] is completed, group


def test_stdlib_trust_store_is_what_the_stdlib_loads(report: DoctorReport) -> None:
    trust = report.facts.stdlib.trust
    stats = ssl.create_default_context().cert_store_stats()
    assert trust.certificates == stats["x509"]
    paths = ssl.get_default_verify_paths()
    assert trust.files == ((paths.cafile,) if paths.cafile else ())
    assert trust.directory == paths.capath


def test_clock_is_read_from_the_kernel(report: DoctorReport) -> None:
    clock = report.facts.clock
    assert abs((dt.datetime.now(dt.UTC) - clock.now).total_seconds()) < 60
    if sys.platform.startswith("linux"):
        assert clock.source == "adjtimex"
        assert clock.max_error_s is not None and clock.max_error_s >= 0
        # The same rule timedatectl applies: synchronised iff the max error is under 16 s.
        assert clock.synchronized is (clock.max_error_s < 16)
        assert clock.kernel_state in {"TIME_OK", "TIME_INS", "TIME_DEL", "TIME_OOP"} | {
            "TIME_WAIT",
            "TIME_ERROR",
        }


def test_exit_code_follows_the_checks(report: DoctorReport) -> None:
    statuses = {c.status for c in report.checks}
    assert report.exit_code == (1 if Status.UNSAFE in statuses else 0)
    ids = [c.id for c in report.checks]
    assert len(ids) == len(set(ids)), "check ids are unique"
    assert "clock" in ids and "pip-audit" in ids


def test_probe_handshakes_verify_the_certificate() -> None:
    """The probes are real, verified handshakes: a client trusting another CA fails."""
    with probes._material() as material, probes._material() as other:
        server = probes._stdlib_endpoint(
            probes._stdlib_pinned(ssl.TLSVersion.TLSv1_3, material, server=True), server=True
        )
        client = probes._stdlib_endpoint(
            probes._stdlib_pinned(ssl.TLSVersion.TLSv1_3, other, server=False), server=False
        )
        ok, why = probes._handshake(client, server)
        assert not ok and "certificate verify failed" in why
        server = probes._stdlib_endpoint(
            probes._stdlib_pinned(ssl.TLSVersion.TLSv1_3, material, server=True), server=True
        )
        client = probes._stdlib_endpoint(
            probes._stdlib_pinned(ssl.TLSVersion.TLSv1_2, material, server=False), server=False
        )
        ok, why = probes._handshake(client, server)
        assert not ok and why


# --- the checks, with injected facts (pure data) ----------------------------------------


def runtime(**changes: object) -> RuntimeInfo:
    base = RuntimeInfo(
        name="stdlib ssl",
        library="OpenSSL 3.5.7 1 Jul 2026",
        protocols=(
            ProtocolProbe("TLS 1.0", False, "no protocols available"),
            ProtocolProbe("TLS 1.2", True),
            ProtocolProbe("TLS 1.3", True),
        ),
        groups=(("X25519MLKEM768", True), ("X25519", True)),
        trust=TrustStore(("/etc/ssl/cert.pem",), None, 140, 0),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def facts(**changes: object) -> DoctorFacts:
    base = DoctorFacts(
        stdlib=runtime(),
        bundled=runtime(name="bundled OpenSSL", library="OpenSSL 4.0.3 29 Sep 2026"),
        clock=ClockState(NOW, "adjtimex", True, 0.05, 0.01, "TIME_OK"),
        packages=(PackageInfo("cryptography", "50.0.2"), PackageInfo("pyOpenSSL", "26.4.0")),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def statuses(checks: object) -> dict[str, Status]:
    return {c.id: c.status for c in checks}  # type: ignore[attr-defined]


def test_a_healthy_runtime_is_all_ok() -> None:
    result = statuses(build_checks(facts(), today=TODAY))
    assert set(result.values()) <= {Status.OK, Status.INFO}, result


def test_heartbleed_era_openssl_is_unsafe() -> None:
    result = statuses(
        check_openssl("openssl.stdlib", "OpenSSL 1.0.1f 6 Jan 2014", today=TODAY, system=True)
    )
    assert result["openssl.stdlib.CVE-2014-0160"] is Status.UNSAFE
    assert result["openssl.stdlib.CVE-2014-0224"] is Status.UNSAFE
    assert result["openssl.stdlib.eol"] is Status.WARN
    fixed = statuses(check_openssl("k", "OpenSSL 1.0.1g 7 Apr 2014", today=TODAY, system=True))
    assert "k.CVE-2014-0160" not in fixed and fixed["k.CVE-2014-0224"] is Status.UNSAFE
    heartbleed = next(a for a in ADVISORIES if a.id == "CVE-2014-0160")
    assert heartbleed.name == "Heartbleed" and heartbleed.published == dt.date(2014, 4, 7)
    report_text = check_openssl("k", "OpenSSL 1.0.1f 6 Jan 2014", today=TODAY, system=True)
    heart = next(c for c in report_text if c.id == "k.CVE-2014-0160")
    assert "Heartbleed" in heart.title and "2014-04-07" in heart.detail
    assert heart.fix and "1.0.1g" in heart.fix and "backport" in heart.detail


def test_opt_in_advisories_and_end_of_life_warn() -> None:
    result = statuses(check_openssl("k", "OpenSSL 3.0.19 27 Jan 2026", today=TODAY, system=True))
    assert result["k.CVE-2026-45447"] is Status.WARN  # PKCS#7 only: opt-in
    assert result["k.eol"] is Status.WARN  # 3.0 ended on 2026-09-07
    before = statuses(
        check_openssl("k", "OpenSSL 3.0.21 9 Jun 2026", today=dt.date(2026, 9, 6), system=True)
    )
    assert before == {"k.advisories": Status.OK, "k.eol": Status.OK}
    assert statuses(check_openssl("k", "LibreSSL 3.3.6", today=TODAY, system=True)) == {
        "k.advisories": Status.INFO
    }


def test_pyopenssl_cookie_overflow_fixed_in_26() -> None:
    old = statuses(check_package(PackageInfo("pyOpenSSL", "25.3.0")))
    assert old["package.pyopenssl.CVE-2026-27459"] is Status.WARN  # DTLS cookie callbacks only
    assert "package.pyopenssl.CVE-2026-27448" in old
    assert statuses(check_package(PackageInfo("pyOpenSSL", "21.0.0"))).keys() == {
        "package.pyopenssl.CVE-2026-27448"  # the overflow came with 22.0.0
    }
    assert statuses(check_package(PackageInfo("pyOpenSSL", "26.0.0"))) == {
        "package.pyopenssl": Status.OK
    }


def test_old_cryptography_and_certifi_are_unsafe() -> None:
    crypto = statuses(check_package(PackageInfo("cryptography", "47.0.0")))
    assert crypto["package.cryptography.GHSA-537c-gmf6-5ccf"] is Status.UNSAFE  # bundled OpenSSL
    assert crypto["package.cryptography.CVE-2026-69247"] is Status.WARN
    certifi = statuses(check_package(PackageInfo("certifi", "2023.5.7")))
    assert certifi["package.certifi.CVE-2023-37920"] is Status.UNSAFE
    assert certifi["package.certifi.CVE-2024-39689"] is Status.WARN
    assert statuses(check_package(PackageInfo("certifi", "2026.10.5"))) == {
        "package.certifi": Status.OK
    }
    assert statuses(check_package(PackageInfo("uvloop", None))) == {"package.uvloop": Status.INFO}
    assert statuses(check_package(PackageInfo("uvloop", "not-a-version"))) == {
        "package.uvloop": Status.WARN
    }


def test_unsafe_facts_make_the_report_exit_1() -> None:
    unsafe = facts(packages=(PackageInfo("cryptography", "41.0.0"),))
    report = DoctorReport(unsafe, build_checks(unsafe, today=TODAY), "3.11", "0.1.0")
    assert report.exit_code == 1
    assert "UNSAFE (exit 1)" in report.to_text()
    assert json.loads(report.to_json())["unsafe"] == len(report.unsafe) > 0


def test_a_default_client_that_accepts_tls_1_0_is_unsafe() -> None:
    weak = facts(stdlib=runtime(default_client_accepts=("TLS 1.0",)))
    assert statuses(build_checks(weak, today=TODAY))["openssl.stdlib.downgrade"] is Status.UNSAFE


def test_missing_post_quantum_and_tls_1_3_warn() -> None:
    classic = runtime(groups=(("X25519MLKEM768", False), ("X25519", True)))
    no13 = runtime(protocols=(ProtocolProbe("TLS 1.2", True), ProtocolProbe("TLS 1.3", False, "x")))
    result = statuses(build_checks(facts(stdlib=classic, bundled=no13), today=TODAY))
    assert result["openssl.stdlib.groups"] is Status.WARN
    assert result["openssl.bundled.protocols"] is Status.WARN


def test_no_trust_anchors_warn() -> None:
    empty = runtime(trust=TrustStore((), None, 0, 0, source="defaults"))
    assert statuses(build_checks(facts(stdlib=empty), today=TODAY))["openssl.stdlib.trust"] is (
        Status.WARN
    )


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        (ClockState(NOW, "adjtimex", True, 0.2), Status.OK),
        (ClockState(NOW, "adjtimex", False, 16.0, 16.0, "TIME_ERROR"), Status.WARN),
        (ClockState(NOW, "unavailable", None, detail="not supported on darwin"), Status.INFO),
        # Behind the advisory table's date: provably wrong, whatever the kernel says.
        (ClockState(NOW - dt.timedelta(days=400), "adjtimex", True, 0.1), Status.UNSAFE),
    ],
)
def test_clock_verdicts(clock: ClockState, expected: Status) -> None:
    assert statuses(build_checks(facts(clock=clock), today=TODAY))["clock"] is expected


def test_clock_behind_the_bundled_openssl_release_is_unsafe() -> None:
    later = runtime(name="bundled OpenSSL", library="OpenSSL 4.9.0 1 Jan 2030")
    check = next(c for c in build_checks(facts(bundled=later), today=TODAY) if c.id == "clock")
    assert check.status is Status.UNSAFE and "2030-01-01" in check.title


def test_stale_advisory_table_warns() -> None:
    later = TABLE_DATE + dt.timedelta(days=365)
    assert statuses(build_checks(facts(), today=later))["advisories.age"] is Status.WARN


def test_pip_audit_offer_and_results() -> None:
    absent = statuses(build_checks(facts(), today=TODAY))
    assert absent["pip-audit"] is Status.INFO
    offered = build_checks(facts(pip_audit_command=("pip-audit",)), today=TODAY)
    assert "zerotls doctor --pip-audit" in next(c for c in offered if c.id == "pip-audit").title
    found = PipAuditResult(("pip-audit",), (("requests", "2.0.0", "PYSEC-2014-13", ("2.3.0",)),))
    check = next(
        c for c in build_checks(facts(pip_audit=found), today=TODAY) if c.id == "pip-audit"
    )
    assert check.status is Status.UNSAFE and "requests 2.0.0: PYSEC-2014-13" in check.detail
    clean = PipAuditResult(("pip-audit",))
    assert statuses(build_checks(facts(pip_audit=clean), today=TODAY))["pip-audit"] is Status.OK


def test_parse_pip_audit_json() -> None:
    text = json.dumps(
        {
            "dependencies": [
                {"name": "requests", "version": "2.0.0", "vulns": [
                    {"id": "PYSEC-2014-13", "fix_versions": ["2.3.0"], "aliases": ["CVE-2014-1829"]}
                ]},
                {"name": "zerotls", "skip_reason": "Dependency not found on PyPI"},
                {"name": "idna", "version": "3.10", "vulns": []},
            ],
            "fixes": [],
        }
    )  # fmt: skip
    vulns, skipped = parse_pip_audit_json(text)
    assert vulns == (("requests", "2.0.0", "PYSEC-2014-13", ("2.3.0",)),)
    assert skipped == ("zerotls",)
    with pytest.raises(ValueError):
        parse_pip_audit_json('{"not": "pip-audit"}')


def test_pip_audit_is_found_on_path_and_run_against_this_interpreter(tmp_path: Path) -> None:
    if probes.importlib.util.find_spec("pip_audit") is not None:
        pytest.skip("pip-audit is importable here: the PATH lookup is not used")
    assert probes.find_pip_audit(path=str(tmp_path)) is None
    tool = tmp_path / "pip-audit"
    record = tmp_path / "args.json"
    tool.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"json.dump([sys.argv[1:], os.environ.get('PIPAPI_PYTHON_LOCATION')], open({str(record)!r}, 'w'))\n"
        "print(json.dumps({'dependencies': []}))\n"
    )
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    command = probes.find_pip_audit(path=str(tmp_path))
    assert command == (str(tool),)
    result = probes.run_pip_audit(command, timeout=30)
    assert result.error is None and result.vulnerabilities == ()
    args, interpreter = json.loads(record.read_text())
    assert args == ["--format", "json", "--progress-spinner", "off"]
    assert interpreter == sys.executable


# --- the table and the version arithmetic -----------------------------------------------


def test_advisory_table_is_consistent() -> None:
    ids = [a.id for a in ADVISORIES]
    assert len(ids) == len(set(ids))
    for advisory in ADVISORIES:
        assert advisory.published <= TABLE_DATE
        assert advisory.fix and advisory.title and advisory.url.startswith("https://")
        for span in advisory.affected:
            if span.introduced and span.fixed:
                assert affected_by(advisory, span.introduced), advisory.id
                assert not affected_by(advisory, span.fixed), advisory.id
    assert all(branch.count(".") >= 1 for branch in OPENSSL_END_OF_LIFE)


def test_openssl_versions_order_letter_releases() -> None:
    order = [
        "0.9.8y",
        "0.9.8za",
        "1.0.1",
        "1.0.1f",
        "1.0.1g",
        "1.0.2z",
        "1.0.2zq",
        "3.0.19",
        "3.0.21",
        "4.0.3",
    ]
    parsed = [parse_openssl(f"OpenSSL {v}") for v in order]
    assert parsed == sorted(parsed)  # type: ignore[type-var]
    assert parse_openssl("LibreSSL 3.3.6") is None
    assert openssl_build_date("OpenSSL 4.0.3 29 Sep 2026") == dt.date(2026, 9, 29)
    assert openssl_build_date("OpenSSL 4.0.3") is None


_RELEASE = st.lists(st.integers(0, 30), min_size=1, max_size=4).map(
    lambda parts: ".".join(map(str, parts))
)
_SUFFIX = st.sampled_from(
    ["", "a1", "b2", "rc1", "rc10", ".post1", ".post2", ".dev1", "a1.dev2", ".post1.dev1"]
)


@given(_RELEASE, _SUFFIX, _RELEASE, _SUFFIX)
def test_package_versions_order_like_pep_440(r1: str, s1: str, r2: str, s2: str) -> None:
    packaging = pytest.importorskip("packaging.version")
    a, b = r1 + s1, r2 + s2
    ours_a, ours_b = parse_package(a), parse_package(b)
    assert ours_a is not None and ours_b is not None
    theirs = packaging.Version(a), packaging.Version(b)
    assert (ours_a < ours_b) == (theirs[0] < theirs[1]), (a, b)
    assert (ours_a == ours_b) == (theirs[0] == theirs[1]), (a, b)


# --- the command ------------------------------------------------------------------------


def test_cli_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert out.startswith("zerotls ") and "stdlib ssl: OpenSSL" in out
    assert "bundled OpenSSL:" in out and out.rstrip().endswith(f"(exit {code})")
    code_json = main(["doctor", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code_json == (1 if data["unsafe"] else 0)
    assert set(data) >= {"runtimes", "clock", "packages", "advisory_table", "checks", "pip_audit"}
    assert data["runtimes"]["bundled"]["library"] == data["runtimes"]["bundled"]["library"]
    assert data["advisory_table"]["date"] == TABLE_DATE.isoformat()
    assert main(["doctor", "--verbose"]) == code
    assert "ok  " in capsys.readouterr().out


def test_cli_pip_audit_without_pip_audit_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if probes.find_pip_audit() is not None:
        pytest.skip("pip-audit is installed here")
    assert main(["doctor", "--pip-audit"]) == 2
    err = capsys.readouterr().err
    assert "pip-audit is not installed" in err and err.count("\n") == 1
    with pytest.raises(ConfigError):
        run_doctor(pip_audit=True)


def test_cli_as_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "zerotls", "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    data = json.loads(proc.stdout)
    assert proc.returncode == (1 if data["unsafe"] else 0), proc.stderr
    assert proc.stderr == ""


def test_the_user_documentation_lists_the_advisory_table() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "doctor.md").read_text(encoding="utf-8")
    assert f"compiled on\n**{TABLE_DATE.isoformat()}**" in doc
    for advisory in ADVISORIES:
        name = f" ({advisory.name})" if advisory.name else ""
        spans = "; ".join(
            f">= {r.introduced}, < {r.fixed}" if r.introduced else f"< {r.fixed}"
            for r in advisory.affected
        )
        assert (
            f"| {advisory.component} | {advisory.id}{name} | {advisory.published} | "
            f"{advisory.severity} | {advisory.exposure} | {spans} |"
        ) in doc, advisory.id
