"""The HTML reports as a person sees them: rendered in headless Chromium, with no console
error, every chart drawn and non-empty, and nothing fetched from anywhere.

Set ZEROTLS_SCREENSHOTS=DIR to keep screenshots of both (``make screenshots`` writes the
ones in docs/img)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM, Browser

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium (make test installs Debian's chromium)"
)

# Every chart: how many there are, and the ones with nothing drawn or no size.
CHARTS = """(() => {
  const svgs = [...document.querySelectorAll('section svg')];
  const empty = svgs.filter(s => {
    const box = s.getBoundingClientRect();
    const marks = s.querySelectorAll('polyline, circle, rect, line, path').length;
    return box.width < 50 || box.height < 50 || marks < 2;
  }).length;
  return {charts: svgs.length, empty: empty, sections: document.querySelectorAll('section').length,
          text: document.body.innerText.length};
})()"""


def _shots() -> Path | None:
    value = os.environ.get("ZEROTLS_SCREENSHOTS")
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Any:
    b = Browser()
    yield b
    b.close()


def _only_itself(requests: list[str], page: Path) -> None:
    assert requests == [page.resolve().as_uri()], requests


def test_the_monitor_report_in_a_browser(browser: Browser, tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from zerotls.cli.demo_more import history
    from zerotls.monitor.engine import default_window, detect
    from zerotls.monitor.report import render_html
    from zerotls.monitor.store import Store

    log = tmp_path / "audit.jsonl"
    now = dt.datetime.now(dt.UTC).timestamp()
    log.write_text("".join(json.dumps(e) + "\n" for e in history(now)), encoding="utf-8")
    with Store(tmp_path / "m.duckdb") as store:
        store.ingest([log])
        result = detect(store, default_window(store, since_seconds=12 * 3600))
    page = tmp_path / "monitor.html"
    page.write_text(render_html(result), encoding="utf-8")
    shots = _shots()
    report = browser.open(page, CHARTS, shots / "monitor-report.png" if shots else None)
    assert report.console == []
    _only_itself(report.requests, page)
    charts = report.result
    assert charts["charts"] >= 3 and charts["empty"] == 0, charts
    # Every rendered section with a plot has its chart: the alerts, and the unusual-only notes
    # and suppressed alerts listed below them (which of those appear depends on the hour the
    # history ends, so the test counts them rather than assuming none).
    shown = [*result.alerts, *result.unusual, *result.suppressed]
    assert charts["charts"] == sum(1 for a in shown if a.plot)
    # The probing burst is two ten-minute buckets: drawn as stems, not a made-up slope.
    html = page.read_text()
    assert "<line " in html


def test_the_audit_report_in_a_browser(browser: Browser, tmp_path: Path) -> None:
    from zerotls.audit import ScanOptions, scan_async
    from zerotls.audit.model import Target
    from zerotls.audit.reports import render_html
    from zerotls.cli.demo_more import weak_server

    with weak_server(tmp_path) as port:
        reports = asyncio.run(
            scan_async(
                [Target("localhost", port)],
                ScanOptions(ca_file=tmp_path / "legacy-ca.pem"),
            )
        )
    page = tmp_path / "audit.html"
    page.write_text(render_html(reports), encoding="utf-8")
    shots = _shots()
    report = browser.open(
        page,
        "({grade: document.body.innerText.includes('TLS 1.0 is enabled'),"
        " text: document.body.innerText.length,"
        " width: document.documentElement.scrollWidth})",
        shots / "audit-report.png" if shots else None,
    )
    assert report.console == []
    _only_itself(report.requests, page)
    assert report.result["grade"] and report.result["text"] > 500
    assert report.result["width"] <= 1280  # nothing runs off the side of the window
