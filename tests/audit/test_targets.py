"""The auditor against real local servers: every finding present on one, absent on another."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.audit.conftest import Certs, audit, https_server
from tests.peers.legacy import Server, openssl_server, ticketbleed_proxy
from zerotls.audit.model import (
    CCSInjectionResult,
    CertificateResult,
    FallbackResult,
    GroupsResult,
    HeartbleedResult,
    HSTSResult,
    ProtocolsResult,
    RenegotiationResult,
    ResumptionResult,
    RobotResult,
    TargetReport,
    TicketbleedResult,
)
from zerotls.audit.reports import render_text

pytestmark = pytest.mark.peers


def ids(report: TargetReport) -> set[str]:
    return {f.id for f in report.findings}


def caps(report: TargetReport) -> dict[str, str]:
    assert report.grade is not None
    return {c.finding: c.grade for c in report.grade.caps}


def protocols(report: TargetReport) -> ProtocolsResult:
    result = report.results["protocols"]
    assert isinstance(result, ProtocolsResult)
    return result


@pytest.fixture(scope="module")
def modern(tls13_only: Server, certs: Certs) -> TargetReport:
    return audit(tls13_only, certs.ca)


@pytest.fixture(scope="module")
def intermediate(tls12_13: Server, certs: Certs) -> TargetReport:
    return audit(tls12_13, certs.ca)


@pytest.fixture(scope="module")
def legacy(legacy_tls10: Server, certs: Certs) -> TargetReport:
    return audit(legacy_tls10, certs.ca)


@pytest.fixture(scope="module")
def static(static_rsa: Server, certs: Certs) -> TargetReport:
    return audit(static_rsa, certs.ca)


@pytest.fixture(scope="module")
def ssl3(sslv3: Server, certs: Certs) -> TargetReport:
    return audit(sslv3, certs.ca, probes=("protocols", "certificate", "fallback"))


@pytest.fixture(scope="module")
def broken(raw_broken: Server, certs: Certs) -> TargetReport:
    return audit(raw_broken, certs.ca)


@pytest.fixture(scope="module")
def fixed(raw_fixed: Server, certs: Certs) -> TargetReport:
    return audit(raw_fixed, certs.ca)


# -- protocols and suites -----------------------------------------------------------------------


def test_tls13_only_server(modern: TargetReport) -> None:
    result = protocols(modern)
    assert result.supported == ("TLS 1.3",)
    tls13 = result.get("TLS 1.3")
    assert tls13 is not None
    assert {s.name for s in tls13.suites} == {
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
    }
    assert modern.grade is not None and modern.grade.grade_if_trusted in ("A", "A+")
    assert not ids(modern) & {"protocol.tls10", "protocol.tls11", "cipher.no_fs"}
    assert {p.profile: p.compliant for p in modern.profiles} == {
        "modern": True,
        "intermediate": True,
    }


def test_tls12_and_13_server_is_intermediate_not_modern(intermediate: TargetReport) -> None:
    result = protocols(intermediate)
    assert result.supported == ("TLS 1.2", "TLS 1.3")
    tls12 = result.get("TLS 1.2")
    assert tls12 is not None
    assert [s.name for s in tls12.suites] == [
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ]
    assert tls12.server_preference is True  # -serverpref
    profiles = {p.profile: p for p in intermediate.profiles}
    assert profiles["intermediate"].compliant
    assert not profiles["modern"].compliant
    assert any("TLS 1.2 is enabled" in v.what for v in profiles["modern"].violations)
    assert intermediate.grade is not None and intermediate.grade.grade == "A"


def test_tls10_and_11_found_and_capped_at_b(legacy: TargetReport, modern: TargetReport) -> None:
    assert protocols(legacy).supported == ("TLS 1.0", "TLS 1.1", "TLS 1.2")
    assert {"protocol.tls10", "protocol.tls11"} <= ids(legacy)
    assert caps(legacy)["protocol.tls10"] == "B"
    cap = next(c for c in legacy.grade.caps if c.finding == "protocol.tls10")  # type: ignore[union-attr]
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in cap.fix
    assert not {"protocol.tls10", "protocol.tls11"} & ids(modern)


def test_sslv3_rc4_3des_found_on_tlslite(ssl3: TargetReport, legacy: TargetReport) -> None:
    result = protocols(ssl3)
    assert "SSLv3" in result.supported
    sslv3 = result.get("SSLv3")
    assert sslv3 is not None
    names = {s.name for s in sslv3.suites}
    assert "TLS_RSA_WITH_RC4_128_SHA" in names
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA" in names
    assert {"protocol.sslv3", "cipher.rc4", "cipher.3des", "cipher.no_fs"} <= ids(ssl3)
    assert caps(ssl3)["protocol.sslv3"] == "C"
    assert "protocol.sslv3" not in ids(legacy)


def test_static_rsa_has_no_forward_secrecy(
    static: TargetReport, intermediate: TargetReport
) -> None:
    assert "cipher.no_fs" in ids(static)
    assert caps(static)["cipher.no_fs"] == "B"
    assert static.grade is not None and static.grade.grade_if_trusted == "B"
    assert not {"cipher.no_fs", "cipher.static_kex"} & ids(intermediate)


def test_legacy_accepts_static_rsa_beside_ecdhe(legacy: TargetReport) -> None:
    assert "cipher.static_kex" in ids(legacy)
    assert "cipher.no_fs" not in ids(legacy)


def test_dhe_parameters_are_measured(legacy: TargetReport, certs: Certs) -> None:
    tls12 = protocols(legacy).get("TLS 1.2")
    assert tls12 is not None
    dh = {s.dh_bits for s in tls12.suites if s.kex == "DHE"}
    # At @SECLEVEL=0 OpenSSL sizes automatic DH parameters by suite strength: 1024 for some.
    assert 1024 in dh
    assert "kex.dh_weak" in ids(legacy)
    assert caps(legacy)["kex.dh_weak"] == "B"
    extra = ["-cipher", "DHE-RSA-AES128-GCM-SHA256", "-no_tls1_3"]
    with openssl_server(certs.rsa.cert, certs.rsa.key, extra=extra) as server:
        report = audit(server, certs.ca, probes=("protocols",))
    suites = protocols(report).get("TLS 1.2").suites  # type: ignore[union-attr]
    assert [s.name for s in suites] == ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"]
    assert (suites[0].dh_bits or 0) >= 2048
    assert not {"kex.dh_weak", "kex.dh_insecure"} & ids(report)


def test_sslv2_found_on_scripted_server(broken: TargetReport, fixed: TargetReport) -> None:
    assert protocols(broken).get("SSLv2").supported is True  # type: ignore[union-attr]
    assert "protocol.sslv2" in ids(broken)
    assert caps(broken)["protocol.sslv2"] == "F"
    assert broken.grade is not None and broken.grade.grade_if_trusted == "F"
    assert protocols(fixed).get("SSLv2").supported is False  # type: ignore[union-attr]


# -- groups ---------------------------------------------------------------------------------------


def test_groups_in_server_order(modern: TargetReport, legacy: TargetReport) -> None:
    groups = modern.results["groups"]
    assert isinstance(groups, GroupsResult)
    assert groups.version == "TLS 1.3"
    assert [g.name for g in groups.groups] == ["x25519", "secp256r1", "secp384r1"]
    assert "group.no_pq" in ids(modern)
    legacy_groups = legacy.results["groups"]
    assert isinstance(legacy_groups, GroupsResult)
    assert legacy_groups.version == "TLS 1.2 and below"
    assert "x25519" in {g.name for g in legacy_groups.groups}


# -- certificates ---------------------------------------------------------------------------------


def _cert(report: TargetReport) -> CertificateResult:
    result = report.results["certificate"]
    assert isinstance(result, CertificateResult)
    return result


@pytest.mark.parametrize(
    ("name", "finding", "grade"),
    [
        ("expired", "cert.expired", "T"),
        ("wrong_name", "cert.hostname", "M"),
        ("self_signed", "cert.self_signed", "T"),
        ("weak_key", "cert.weak_key", "B"),
        ("leaf_only", "cert.incomplete_chain", "B"),
    ],
)
def test_certificate_problems(certs: Certs, name: str, finding: str, grade: str) -> None:
    pair = getattr(certs, name)
    ca = certs.ca_with_intermediate if name == "leaf_only" else certs.ca
    with openssl_server(pair.cert, pair.key, extra=["-cipher", "ALL:@SECLEVEL=0"]) as server:
        report = audit(server, ca, probes=("protocols", "certificate"))
    assert finding in ids(report)
    assert caps(report)[finding] == grade
    if grade in ("T", "M"):
        assert report.grade is not None and report.grade.grade == grade


def test_good_certificate_has_none_of_those(intermediate: TargetReport) -> None:
    cert = _cert(intermediate)
    assert cert.trusted and cert.chain_complete and cert.hostname_matches
    assert not (cert.expired or cert.self_signed or cert.weak_key or cert.sha1_signature)
    bad = {"cert.expired", "cert.hostname", "cert.self_signed", "cert.weak_key",
           "cert.incomplete_chain", "cert.sha1", "cert.untrusted"}  # fmt: skip
    assert not bad & ids(intermediate)


def test_full_chain_is_complete(certs: Certs, tmp_path: Path) -> None:
    intermediate = tmp_path / "intermediate.pem"
    pem = certs.full_chain.cert.read_text()
    intermediate.write_text(pem[pem.index("-----END CERTIFICATE-----") + 26 :])
    with openssl_server(certs.full_chain.cert, certs.full_chain.key, chain=intermediate) as server:
        report = audit(server, certs.ca_with_intermediate, probes=("certificate",))
    cert = _cert(report)
    assert cert.trusted and cert.chain_complete
    assert len(cert.chain) == 2


def test_untrusted_without_the_right_ca(tls12_13: Server, certs: Certs) -> None:
    report = audit(tls12_13, certs.sha1_ca, probes=("certificate",))
    assert "cert.untrusted" in ids(report)
    assert _cert(report).trust_error is not None


def test_sha1_signature(certs: Certs) -> None:
    with openssl_server(certs.sha1.cert, certs.sha1.key, extra=["-cipher", "ALL:@SECLEVEL=0"]) as s:
        report = audit(s, certs.sha1_ca, probes=("certificate",))
    assert _cert(report).trusted
    assert "cert.sha1" in ids(report)
    assert caps(report)["cert.sha1"] == "T"


def test_expiring_soon_follows_warn_days(
    intermediate: TargetReport, tls12_13: Server, certs: Certs
) -> None:
    assert "cert.expires_soon" in ids(intermediate)  # a 24 h certificate, 30-day default
    report = audit(tls12_13, certs.ca, probes=("certificate",), warn_days=0)
    assert "cert.expires_soon" not in ids(report)


def test_ocsp_staple_present_and_valid(intermediate: TargetReport, modern: TargetReport) -> None:
    ocsp = _cert(intermediate).ocsp
    assert ocsp.stapled and ocsp.valid and ocsp.status == "good"
    assert "ocsp.missing" not in ids(intermediate)
    assert not _cert(modern).ocsp.stapled
    assert "ocsp.missing" in ids(modern)


def test_pin_drift(tls12_13: Server, certs: Certs, intermediate: TargetReport) -> None:
    good = _cert(intermediate).chain[0].spki_pin
    matching = audit(tls12_13, certs.ca, probes=("certificate",), pins=frozenset({good}))
    assert _cert(matching).pin_matches is True
    assert "cert.pin_drift" not in ids(matching)
    other = audit(tls12_13, certs.ca, probes=("certificate",), pins=frozenset({"A" * 43 + "="}))
    assert "cert.pin_drift" in ids(other)


# -- renegotiation, compression, fallback, heartbleed, resumption, HSTS --------------------------


def test_client_initiated_renegotiation(legacy: TargetReport, intermediate: TargetReport) -> None:
    allowed = legacy.results["renegotiation"]
    refused = intermediate.results["renegotiation"]
    assert isinstance(allowed, RenegotiationResult) and isinstance(refused, RenegotiationResult)
    assert allowed.secure is True and allowed.client_initiated is True
    assert refused.secure is True and refused.client_initiated is False
    assert "reneg.client_initiated" in ids(legacy)
    assert "reneg.client_initiated" not in ids(intermediate)


def test_secure_renegotiation_missing(broken: TargetReport, fixed: TargetReport) -> None:
    assert "reneg.insecure" in ids(broken)
    assert caps(broken)["reneg.insecure"] == "C"
    assert "reneg.insecure" not in ids(fixed)


def test_compression(broken: TargetReport, fixed: TargetReport) -> None:
    assert "compression.enabled" in ids(broken)
    assert "compression.enabled" not in ids(fixed)


def test_fallback_scsv(
    broken: TargetReport, fixed: TargetReport, intermediate: TargetReport
) -> None:
    assert "fallback.missing" in ids(broken)
    for report in (fixed, intermediate):
        result = report.results["fallback"]
        assert isinstance(result, FallbackResult) and result.supported is True
        assert "fallback.missing" not in ids(report)


def test_heartbleed(broken: TargetReport, fixed: TargetReport, modern: TargetReport) -> None:
    vulnerable = broken.results["heartbleed"]
    assert isinstance(vulnerable, HeartbleedResult)
    assert vulnerable.vulnerable and vulnerable.leaked_bytes > 1000
    assert caps(broken)["heartbleed"] == "F"
    safe = fixed.results["heartbleed"]
    assert isinstance(safe, HeartbleedResult)
    assert safe.heartbeat_extension and safe.vulnerable is False
    assert "heartbleed" not in ids(fixed) | ids(modern)


def test_ccs_injection(
    broken: TargetReport, fixed: TargetReport, intermediate: TargetReport, modern: TargetReport
) -> None:
    vulnerable = broken.results["ccs"]
    assert isinstance(vulnerable, CCSInjectionResult)
    assert vulnerable.vulnerable is True and "bad_record_mac" in vulnerable.detail
    assert caps(broken)["ccs_injection"] == "F"
    (finding,) = [f for f in broken.findings if f.id == "ccs_injection"]
    assert "CVE-2014-0224" in finding.title and "1.0.1h" in finding.fix
    refused = fixed.results["ccs"]  # the scripted server's unexpected_message
    assert isinstance(refused, CCSInjectionResult) and refused.vulnerable is False
    assert "unexpected_message" in refused.detail
    real = intermediate.results["ccs"]  # Debian's OpenSSL 3.0 (s_server, TLS 1.2 and 1.3)
    assert isinstance(real, CCSInjectionResult) and real.vulnerable is False, real
    tls13 = modern.results["ccs"]  # no TLS 1.2 at all: not applicable
    assert isinstance(tls13, CCSInjectionResult) and tls13.vulnerable is False
    assert "ccs_injection" not in ids(fixed) | ids(intermediate) | ids(modern)


def test_cbc_family_is_informational(
    legacy: TargetReport, intermediate: TargetReport, static: TargetReport
) -> None:
    """BEAST where TLS 1.0 takes CBC suites; LUCKY13 and POODLE-TLS wherever CBC is taken,
    said to be untested; nothing of either where only AEAD suites are accepted."""
    findings = {f.id: f for f in legacy.findings}
    beast, cbc = findings["cipher.beast"], findings["cipher.cbc"]
    assert beast.severity.name == cbc.severity.name == "low"
    assert beast.detail.startswith("TLS 1.0 accepts CBC suites")
    assert "LUCKY13" in cbc.detail and "neither is tested actively" in cbc.detail
    assert "cipher.beast" not in caps(legacy) and "cipher.cbc" not in caps(legacy)
    for report in (intermediate, static):  # AES-GCM and ChaCha20 only
        assert not {"cipher.beast", "cipher.cbc"} & ids(report)


def test_robot(
    broken: TargetReport, fixed: TargetReport, static: TargetReport, modern: TargetReport
) -> None:
    strong = broken.results["robot"]  # bad format: handshake_failure at once
    assert isinstance(strong, RobotResult) and strong.vulnerable is True, strong
    assert strong.answers[0] == strong.answers[4] == "alert bad_record_mac, then closed"
    assert set(strong.answers[1:4]) == {"alert handshake_failure, then closed"}
    assert caps(broken)["robot"] == "F"
    (finding,) = [f for f in broken.findings if f.id == "robot"]
    assert "padding oracle" in finding.title and "ECDHE" in finding.fix
    # Negative twins: the scripted server answering every padding alike, and Debian's
    # OpenSSL 3.0 with static RSA suites only (implicit rejection), a real peer.
    for report in (fixed, static):
        result = report.results["robot"]
        assert isinstance(result, RobotResult) and result.vulnerable is False, result
        assert len(result.answers) == 5 and len(set(result.answers)) == 1
        assert "robot" not in ids(report)
    tls13 = modern.results["robot"]  # no static RSA at all: not applicable
    assert isinstance(tls13, RobotResult) and tls13.vulnerable is False
    assert "not applicable" in tls13.detail and tls13.answers == ()


def test_robot_finds_a_weaker_oracle(raw_robot_close: Server, certs: Certs) -> None:
    """Only a block that does not start 00 02 is told apart (a close without an alert)."""
    weak = audit(raw_robot_close, certs.ca, probes=("robot",)).results["robot"]
    assert isinstance(weak, RobotResult) and weak.vulnerable is True, weak
    assert weak.answers[1] == "no alert, then closed"
    assert len(set(weak.answers)) == 2 and "wrong first bytes" in weak.detail


def test_robot_on_tlslite(sslv3: Server, certs: Certs) -> None:
    """tlslite-ng (static RSA, TLS 1.0) hides its padding check: an independent real peer."""
    result = audit(sslv3, certs.ca, probes=("robot",)).results["robot"]
    assert isinstance(result, RobotResult) and result.vulnerable is False, result
    assert len(result.answers) == 5 and len(set(result.answers)) == 1


def test_a_partial_scan_is_neither_graded_nor_compliant(static_rsa: Server, certs: Certs) -> None:
    """Without the protocols and certificate probes there is no evidence for a grade or a
    profile: say so, and never pass a --profile gate for want of evidence."""
    report = audit(static_rsa, certs.ca, probes=("robot",))
    assert report.grade is not None
    assert [c.reason for c in report.grade.caps] == ["not graded: the protocols probe did not run"]
    for profile in report.profiles:
        assert profile.compliant is False
        (violation,) = profile.violations
        assert "protocols and certificate probes did not run" in violation.what


def test_ticketbleed(
    legacy_tls10: Server, certs: Certs, intermediate: TargetReport, modern: TargetReport
) -> None:
    """A real ticket from s_server, offered back with a 16-byte session ID: s_server echoes
    16 bytes; the same server behind a proxy that pads the echo to 32, as F5 did, leaks."""
    with ticketbleed_proxy(legacy_tls10) as proxy:
        leaky = audit(proxy, certs.ca, probes=("ticketbleed",))
    result = leaky.results["ticketbleed"]
    assert isinstance(result, TicketbleedResult) and result.vulnerable is True, result
    assert result.leaked_bytes == 16 and "came back as 32 bytes" in result.detail
    assert caps(leaky)["ticketbleed"] == "F"
    (finding,) = [f for f in leaky.findings if f.id == "ticketbleed"]
    assert "CVE-2016-9244" in finding.title and "session tickets" in finding.fix
    direct = audit(legacy_tls10, certs.ca, probes=("ticketbleed",)).results["ticketbleed"]
    assert isinstance(direct, TicketbleedResult) and direct.vulnerable is False, direct
    assert "echoed at its own length" in direct.detail  # the ticket was really resumed
    real = intermediate.results["ticketbleed"]  # the full scan runs it too
    assert isinstance(real, TicketbleedResult) and real.vulnerable is False, real
    tls13 = modern.results["ticketbleed"]
    assert isinstance(tls13, TicketbleedResult) and tls13.vulnerable is False
    assert "not applicable" in tls13.detail


def test_scts_from_the_tls_extension_and_caa_said_to_need_dns(
    certs: Certs, tmp_path: Path, intermediate: TargetReport
) -> None:
    """s_server serving two SCTs in the signed_certificate_timestamp extension (RFC 6962
    §3.3): they are counted with where they came from; CAA is said to need DNS."""
    import base64

    scts = [b"\x00" + bytes(range(1, 48)), b"\x00" + bytes(range(2, 60))]
    sct_list = b"".join(len(x).to_bytes(2, "big") + x for x in scts)
    data = len(sct_list).to_bytes(2, "big") + sct_list
    info = (18).to_bytes(2, "big") + len(data).to_bytes(2, "big") + data
    pem = tmp_path / "serverinfo.pem"
    pem.write_text("-----BEGIN SERVERINFO FOR 18-----\n"
                   + base64.encodebytes(info).decode() + "-----END SERVERINFO FOR 18-----\n")  # fmt: skip
    with openssl_server(certs.rsa.cert, certs.rsa.key, extra=["-serverinfo", str(pem)]) as s:
        report = audit(s, certs.ca, probes=("certificate",))
    cert = report.results["certificate"]
    assert isinstance(cert, CertificateResult)
    assert (cert.sct_count, cert.sct_sources) == (2, ("tls extension",))
    assert "cert.no_sct" not in ids(report)
    text = render_text([report])
    assert "SCTs: 2 (tls extension)" in text
    assert "CAA          not checked: it needs a DNS query (dig CAA localhost)" in text
    plain = intermediate.results["certificate"]  # no SCT anywhere
    assert isinstance(plain, CertificateResult) and plain.sct_count == 0 and not plain.sct_sources


def test_resumption(intermediate: TargetReport, broken: TargetReport) -> None:
    result = intermediate.results["resumption"]
    assert isinstance(result, ResumptionResult)
    assert result.session_id is True and result.tickets is True
    assert "resumption.none" not in ids(intermediate)


def test_hsts(certs: Certs) -> None:
    with https_server(certs.ec.cert, certs.ec.key, "max-age=63072000; includeSubDomains") as a:
        present = audit("https://" + a, certs.ca, probes=("protocols", "certificate", "hsts"))
    with https_server(certs.ec.cert, certs.ec.key, None) as b:
        absent = audit("https://" + b, certs.ca, probes=("protocols", "certificate", "hsts"))
        skipped = audit(b, certs.ca, probes=("hsts",))
    result = present.results["hsts"]
    assert isinstance(result, HSTSResult)
    assert result.max_age == 63072000 and result.include_subdomains
    assert "hsts.missing" not in ids(present)
    assert "hsts.missing" in ids(absent)
    assert "hsts.missing" not in ids(skipped)  # not an HTTPS port, not https://: not asked


def test_default_scan_of_one_target_is_fast(tls12_13: Server, certs: Certs) -> None:
    started = time.perf_counter()
    report = audit(tls12_13, certs.ca)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"a full default scan took {elapsed:.2f} s"
    assert report.connections < 60
