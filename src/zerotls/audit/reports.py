"""Render audit reports: terminal text, JSON (versioned schema), self-contained HTML, SARIF 2.1.0.

Every renderer is a pure function from reports to a string. The JSON is
:func:`~zerotls.audit.model.to_jsonable` of the typed results under a ``schema`` key
(``docs/audit.md`` documents it); SARIF maps each finding id to a rule and each finding to a
result located at the endpoint (``tls://host:port``); HTML is one file with inline CSS and no
scripts, to attach to a ticket or mail to a colleague.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from collections import Counter
from collections.abc import Sequence

from zerotls.audit.findings import FIXES, RULES, days_text
from zerotls.audit.grading import GRADES
from zerotls.audit.model import (
    SCHEMA_VERSION,
    CCSInjectionResult,
    CertificateResult,
    ClientAuthResult,
    ClientSimulationResult,
    CompressionResult,
    DTLSCookieResult,
    FallbackResult,
    GreaseResult,
    GroupsResult,
    HeartbleedResult,
    HSTSResult,
    ProtocolsResult,
    RenegotiationResult,
    ResumptionResult,
    RobotResult,
    Severity,
    TargetReport,
    TicketbleedResult,
    to_jsonable,
)

__all__ = ["render_html", "render_json", "render_sarif", "render_text"]


def _version() -> str:
    from zerotls import __version__

    return __version__


def _yes(value: bool | None, yes: str = "yes", no: str = "no", unknown: str = "n/a") -> str:
    return unknown if value is None else (yes if value else no)


def _lines(report: TargetReport) -> list[tuple[str, str]]:
    """(section, text) lines of one target; shared by text and HTML."""
    out: list[tuple[str, str]] = []
    r = report.results
    protocols = r.get("protocols")
    if isinstance(protocols, ProtocolsResult):
        for v in protocols.versions:
            state = _yes(v.supported, "offered", "not offered", "unknown")
            extra = f" ({v.error})" if v.error and v.supported is None else ""
            out.append(("Protocols", f"{v.version:<8} {state}{extra}"))
        cookie = r.get("dtls_cookie")
        if isinstance(cookie, DTLSCookieResult) and cookie.answered:
            how = (
                f"HelloVerifyRequest first ({cookie.cookie_bytes}-byte cookie)"
                if cookie.hello_verify_request
                else "NONE: the full flight goes to any source address"
            )
            out.append(("Protocols", f"cookie exchange: {how}"))
            out.append(
                (
                    "Protocols",
                    f"unverified hello: {cookie.request_bytes} B in, {cookie.response_bytes} B "
                    f"out ({cookie.amplification:.1f}x amplification)",
                )
            )
        for v in protocols.versions:
            if not v.suites:
                continue
            order = {True: "server order", False: "client order", None: ""}[v.server_preference]
            out.append(
                ("Cipher suites", f"{v.version} ({len(v.suites)}, {order})".replace(", )", ")"))
            )
            for s in v.suites:
                notes = []
                if s.insecure:
                    notes.append("INSECURE")
                elif s.weak:
                    notes.append("weak")
                if not s.forward_secrecy:
                    notes.append("no FS")
                if s.group:
                    notes.append(s.group)
                if s.dh_bits:
                    notes.append(f"DH {s.dh_bits}")
                out.append(("Cipher suites", f"  {s.name:<48} {s.bits:>3} bits  {' '.join(notes)}"))
    groups = r.get("groups")
    if isinstance(groups, GroupsResult):
        if groups.groups:
            names = ", ".join(g.name + (" (PQ)" if g.post_quantum else "") for g in groups.groups)
            order = {True: "server order", False: "client order", None: "order unknown"}[
                groups.server_preference
            ]
            out.append(("Key exchange groups", f"{names}  [{groups.version}, {order}]"))
        else:
            out.append(("Key exchange groups", groups.error or "none"))
    cert = r.get("certificate")
    if isinstance(cert, CertificateResult):
        if cert.chain:
            leaf = cert.chain[0]
            key = f"{leaf.key_type} {leaf.curve or leaf.key_bits}"
            out += [
                ("Certificate", f"subject      {leaf.subject}"),
                ("Certificate", f"issuer       {leaf.issuer}"),
                ("Certificate", f"names        {', '.join(leaf.dns_names + leaf.ip_addresses) or '-'}"),  # noqa: E501
                ("Certificate", f"validity     {leaf.not_before} .. {leaf.not_after} ({days_text(cert.days_left)} left)"),  # noqa: E501
                ("Certificate", f"key          {key}, signed {leaf.signature_algorithm}"),
                ("Certificate", f"trusted      {_yes(cert.trusted)}" + (f" ({cert.trust_error})" if cert.trust_error else "")),  # noqa: E501
                ("Certificate", f"chain        {len(cert.chain)} sent, complete: {_yes(cert.chain_complete)}"),  # noqa: E501
                ("Certificate", f"name match   {_yes(cert.hostname_matches)} ({cert.hostname})"),
                ("Certificate", f"OCSP staple  {_ocsp_text(cert)}; must-staple: {_yes(cert.must_staple)}; SCTs: {cert.sct_count}" + (f" ({', '.join(cert.sct_sources)})" if cert.sct_sources else "")),  # noqa: E501
                ("Certificate", _caa_text(report.target.sni or report.target.host)),
                ("Certificate", f"SPKI pin     {leaf.spki_pin}" + ("" if cert.pin_matches is None else f" (pins match: {_yes(cert.pin_matches)})")),  # noqa: E501
            ]  # fmt: skip
        else:
            out.append(("Certificate", cert.error or "no certificate"))
    other: list[str] = []
    reneg = r.get("renegotiation")
    if isinstance(reneg, RenegotiationResult):
        other.append(f"secure renegotiation    {_yes(reneg.secure)}")
        other.append(
            f"client renegotiation    {_yes(reneg.client_initiated, 'allowed', 'refused')}"
        )
    auth = r.get("client-auth")
    if isinstance(auth, ClientAuthResult) and auth.error is None:
        asked = [v.version for v in auth.versions if v.requested]
        state = ("required" if auth.required else "optional") if asked else "not requested"
        other.append(
            f"client certificates     {state}" + (f" ({', '.join(asked)})" if asked else "")
        )
    comp = r.get("compression")
    if isinstance(comp, CompressionResult):
        other.append(f"TLS compression         {_yes(comp.supported, 'ENABLED', 'off')}")
    fallback = r.get("fallback")
    if isinstance(fallback, FallbackResult):
        other.append(
            f"TLS_FALLBACK_SCSV       {_yes(fallback.supported, 'supported', 'NOT supported')}"
        )
    grease = r.get("grease")
    if isinstance(grease, GreaseResult):
        other.append(
            f"GREASE (RFC 8701)       {_yes(grease.tolerant, 'tolerated', 'NOT tolerated')}"
        )
        other.append(
            f"large ClientHello       {_yes(grease.large_hello, 'answered', 'REFUSED', 'unknown')}"
        )
    attacks: tuple[tuple[str, str, type], ...] = (
        ("heartbleed", "Heartbleed", HeartbleedResult),
        ("ccs", "CCS injection", CCSInjectionResult),
        ("ticketbleed", "Ticketbleed", TicketbleedResult),
        ("robot", "ROBOT", RobotResult),
    )
    for key, label, kind in attacks:
        result = r.get(key)
        if isinstance(result, kind):
            vulnerable: bool | None = getattr(result, "vulnerable", None)
            verdict = _yes(vulnerable, "VULNERABLE", "not vulnerable", "unknown")
            other.append(f"{label:<24}{verdict}")
    res = r.get("resumption")
    if isinstance(res, ResumptionResult):
        other.append(
            f"resumption              session id: {_yes(res.session_id)}, tickets: {_yes(res.tickets)}"  # noqa: E501
        )
    hsts = r.get("hsts")
    if isinstance(hsts, HSTSResult):
        other.append(f"HSTS                    {hsts.header or (hsts.error or 'absent')}")
    out += [("Other checks", line) for line in other]
    for key, heading in (
        ("clients", "Client simulations (one connection each)"),
        ("simulations", "Real clients (computed from the measured preferences)"),
    ):
        sims = r.get(key)
        if not isinstance(sims, ClientSimulationResult):
            continue
        for sim in sims.clients:
            got = (
                " ".join(x for x in (sim.version, sim.suite, sim.group) if x)
                + (f" ({sim.detail})" if sim.detail else "")
                if sim.connects
                else f"refused: {sim.detail}"
            )
            out.append((heading, f"{sim.name}: {got}"))
    return out


def _caa_text(host: str) -> str:
    """CAA (RFC 8659) lives in DNS, which the auditor does not query: say so, and how."""
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return f"CAA          not checked: it needs a DNS query (dig CAA {host})"
    return "CAA          not applicable: a certificate for an IP address has no CAA records"


def _ocsp_text(cert: CertificateResult) -> str:
    o = cert.ocsp
    if not o.stapled:
        return "none"
    if o.valid:
        return f"{o.status} (valid until {o.next_update or '?'})"
    return f"INVALID ({o.error})"


def render_text(reports: Sequence[TargetReport], *, color: bool = False) -> str:
    """A readable terminal report."""

    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    colors = {"A+": "32", "A": "32", "A-": "32", "B": "33", "C": "33", "T": "31", "M": "31"}
    blocks: list[str] = []
    for report in reports:
        t = report.target
        head = f"{t.label}" + (f" (SNI {t.sni})" if t.sni and t.sni != t.host else "")
        if t.starttls:
            head += f" via STARTTLS {t.starttls}"
        if report.error:
            blocks.append(f"{head}\n  ERROR: {report.error}")
            continue
        g = report.grade
        lines = [
            f"{head}  [{report.address}]  {report.connections} connections, {report.duration_s:.2f} s"  # noqa: E501
        ]
        if g is not None:
            letter = paint(g.grade, colors.get(g.grade, "31"))
            extra = f" (if trusted: {g.grade_if_trusted})" if g.grade in ("T", "M") else ""
            lines.append(
                f"  Grade {letter}{extra}   score {g.score} "
                f"(protocol {g.protocol_score}, key exchange {g.key_exchange_score}, cipher {g.cipher_score})"  # noqa: E501
            )
            for cap in g.caps:
                lines.append(f"    capped at {cap.grade}: {cap.reason}")
                if cap.fix:
                    lines.append(f"      fix: {cap.fix}")
        section = None
        for name, text in _lines(report):
            if name != section:
                lines.append(f"  {name}")
                section = name
            lines.append(f"    {text}")
        if report.findings:
            lines.append("  Findings")
            for f in report.findings:
                sev = paint(f"{f.severity.name:<8}", "31" if f.severity >= Severity.high else "33")
                lines.append(f"    {sev} {f.title}: {f.detail}")
                if f.severity > Severity.info:
                    lines.append(f"             fix: {f.fix}")
        if report.profiles:
            lines.append("  Mozilla profiles")
            for p in report.profiles:
                lines.append(
                    f"    {p.profile:<13} {'compliant' if p.compliant else 'NOT compliant'}"
                )
                for v in p.violations:
                    lines.append(f"      - {v.what}")
        blocks.append("\n".join(lines))
    if len(reports) > 1:
        blocks.append(summary_table(reports))
    return "\n\n".join(blocks) + "\n"


def summary_table(reports: Sequence[TargetReport]) -> str:
    """One line per target, worst grade first, then the totals: what a fleet scan ends with."""
    order = {g: i for i, g in enumerate(("M", "T", *reversed(GRADES)))}

    def rank(r: TargetReport) -> tuple[int, str]:
        if r.error is not None:
            return -1, r.target.label
        return order.get(r.grade.grade if r.grade else "F", 0), r.target.label

    def label(r: TargetReport) -> str:
        t = r.target
        return f"{t.starttls}://{t.label}" if t.starttls and "://" not in t.label else t.label

    width = max(len("target"), *(len(label(r)) for r in reports))
    lines = [
        "Summary",
        f"  {'target':<{width}}  grade  critical  high  medium  low  connections  seconds",
    ]
    for r in sorted(reports, key=rank):
        if r.error is not None:
            lines.append(f"  {label(r):<{width}}  ERROR  {r.error}")
            continue
        counts = Counter(f.severity for f in r.findings)
        grade = r.grade.grade if r.grade else "-"
        lines.append(
            f"  {label(r):<{width}}  {grade:<5}  {counts[Severity.critical]:>8}  "
            f"{counts[Severity.high]:>4}  {counts[Severity.medium]:>6}  {counts[Severity.low]:>3}  "
            f"{r.connections:>11}  {r.duration_s:>7.2f}"
        )
    failed = sum(r.error is not None for r in reports)
    grades = Counter(r.grade.grade for r in reports if r.error is None and r.grade)
    spread = ", ".join(f"{g} {grades[g]}" for g in (*GRADES, "T", "M") if grades[g])
    lines.append(
        f"  {len(reports)} targets: {len(reports) - failed} scanned ({spread or 'no grades'}), "
        f"{failed} not scanned"
    )
    return "\n".join(lines)


def render_json(reports: Sequence[TargetReport], *, generated: dt.datetime | None = None) -> str:
    """The JSON report (schema ``zerotls.audit/1``, see docs/audit.md)."""
    document = {
        "schema": SCHEMA_VERSION,
        "generator": f"zerotls {_version()}",
        "generated_at": (generated or dt.datetime.now(dt.UTC)).isoformat(),
        "targets": [to_jsonable(r) for r in reports],
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


_SARIF_LEVEL = {
    Severity.critical: "error",
    Severity.high: "error",
    Severity.medium: "warning",
    Severity.low: "note",
    Severity.info: "note",
}


def render_sarif(reports: Sequence[TargetReport]) -> str:
    """SARIF 2.1.0: one rule per finding id, one result per finding, at ``tls://host:port``."""
    used = sorted({f.id for r in reports for f in r.findings})
    rules = [
        {
            "id": rule,
            "name": rule.replace(".", "_"),
            "shortDescription": {"text": RULES[rule][1]},
            "help": {"text": FIXES[rule]},
            "defaultConfiguration": {"level": _SARIF_LEVEL[RULES[rule][0]]},
            "properties": {"security-severity": _security_severity(RULES[rule][0])},
        }
        for rule in used
    ]
    results = []
    for report in reports:
        uri = f"tls://{report.target.label}"
        for f in report.findings:
            results.append(
                {
                    "ruleId": f.id,
                    "ruleIndex": used.index(f.id),
                    "level": _SARIF_LEVEL[f.severity],
                    "message": {
                        "text": f"{report.target.label}: {f.title}: {f.detail}. Fix: {f.fix}"
                    },
                    "locations": [
                        {
                            "physicalLocation": {"artifactLocation": {"uri": uri}},
                            "logicalLocations": [{"name": report.target.label, "kind": "resource"}],
                        }
                    ],
                    "partialFingerprints": {
                        "endpointFinding/v1": hashlib.sha256(
                            f"{report.target.label}|{f.id}".encode()
                        ).hexdigest()
                    },
                }
            )
        if report.error:
            results.append(
                {
                    "ruleId": "probe.incomplete",
                    "level": "note",
                    "message": {"text": f"{report.target.label}: {report.error}"},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
                }
            )
    if any(r.error for r in reports) and "probe.incomplete" not in used:
        rules.append(
            {
                "id": "probe.incomplete",
                "shortDescription": {"text": RULES["probe.incomplete"][1]},
                "help": {"text": FIXES["probe.incomplete"]},
            }
        )
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "zerotls-audit",
                        "version": _version(),
                        "informationUri": "https://github.com/zerotls/zerotls",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _security_severity(severity: Severity) -> str:
    return {4: "9.5", 3: "8.0", 2: "5.5", 1: "3.0", 0: "0.0"}[int(severity)]


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ccc}
.grade{display:inline-block;font-size:2em;font-weight:bold;padding:.1em .5em;
border-radius:.2em;color:#fff}
.g-A\\+,.g-A,.g-A-{background:#2a7d2a}.g-B,.g-C{background:#c08a00}
.g-D,.g-E,.g-F,.g-T,.g-M{background:#b02020}
table{border-collapse:collapse;margin:.5em 0}
td,th{padding:.2em .6em;border:1px solid #ddd;text-align:left;vertical-align:top}
.critical,.high{color:#b02020;font-weight:bold}.medium{color:#a06000}.low,.info{color:#555}
code{background:#f4f4f4;padding:0 .2em}pre{white-space:pre-wrap}
"""


def render_html(reports: Sequence[TargetReport], *, generated: dt.datetime | None = None) -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external resources)."""
    e = html.escape
    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>zerotls TLS audit, {e(when)}</title><style>{_CSS}</style></head><body>",
        f"<h1>TLS audit</h1><p>{len(reports)} target(s), {e(when)}, zerotls {e(_version())}</p>",
        "<table><tr><th>target</th><th>grade</th><th>findings</th></tr>",
    ]
    for r in reports:
        grade = r.grade.grade if r.grade else "-"
        summary = e(r.error) if r.error else str(len(r.findings))
        parts.append(
            f"<tr><td><a href='#{e(_anchor(r))}'>{e(r.target.label)}</a></td>"
            f"<td>{e(grade)}</td><td>{summary}</td></tr>"
        )
    parts.append("</table>")
    for r in reports:
        parts.append(f"<h2 id='{e(_anchor(r))}'>{e(r.target.label)}</h2>")
        if r.error:
            parts.append(f"<p class='critical'>{e(r.error)}</p>")
            continue
        if r.grade:
            g = r.grade
            extra = f" (if trusted: {e(g.grade_if_trusted)})" if g.grade in ("T", "M") else ""
            parts.append(
                f"<p><span class='grade g-{e(g.grade)}'>{e(g.grade)}</span>{extra} score {g.score}: "  # noqa: E501
                f"protocol {g.protocol_score}, key exchange {g.key_exchange_score}, "
                f"cipher {g.cipher_score}</p>"
            )
            if g.caps:
                parts.append("<table><tr><th>cap</th><th>reason</th><th>fix</th></tr>")
                for cap in g.caps:
                    parts.append(
                        f"<tr><td>{e(cap.grade)}</td><td>{e(cap.reason)}</td>"
                        f"<td>{_code(cap.fix)}</td></tr>"
                    )
                parts.append("</table>")
        if r.findings:
            parts.append(
                "<h3>Findings</h3><table><tr><th>severity</th><th>finding</th><th>fix</th></tr>"
            )
            for f in r.findings:
                parts.append(
                    f"<tr><td class='{f.severity.name}'>{f.severity.name}</td>"
                    f"<td><b>{e(f.title)}</b><br>{e(f.detail)}</td><td>{_code(f.fix)}</td></tr>"
                )
            parts.append("</table>")
        section = None
        for name, text in _lines(r):
            if name != section:
                if section is not None:
                    parts.append("</pre>")
                parts.append(f"<h3>{e(name)}</h3><pre>")
                section = name
            parts.append(e(text) + "\n")
        if section is not None:
            parts.append("</pre>")
        if r.profiles:
            parts.append("<h3>Mozilla profiles</h3><ul>")
            for p in r.profiles:
                state = "compliant" if p.compliant else "not compliant"
                items = "".join(f"<li>{e(v.what)}: {_code(v.fix)}</li>" for v in p.violations)
                parts.append(f"<li>{e(p.profile)}: {state}<ul>{items}</ul></li>")
            parts.append("</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _anchor(report: TargetReport) -> str:
    return "t-" + report.target.label.replace(":", "-").replace("[", "").replace("]", "")


def _code(text: str) -> str:
    """Escape, then show `backticked` config lines as code."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
