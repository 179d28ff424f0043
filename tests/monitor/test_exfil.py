"""Exfiltration to a fresh address from a host that meets new sites all day: the upload
makes the new destination count, whatever the host's browsing habits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.monitor.helpers import CONN_FIELDS, T0, conn_line, write, zeek_header
from zerotls.cli import main

HOUR = 3600.0


def browsing(days: int) -> list[str]:
    """10.0.0.8 meets a dozen new web sites every hour (it would never pass as 'stable')."""
    return [
        conn_line(
            T0 + h * HOUR + i * 60,
            f"B{h}x{i}",
            "10.0.0.8",
            f"site{h}-{i}.example",
            orig="2000",
            resp="90000",
        )
        for h in range(days * 24)
        for i in range(12)
    ]


def new_destination_alerts(
    tmp_path: Path, lines: list[str], capsys: pytest.CaptureFixture[str]
) -> list[dict[str, object]]:
    write(tmp_path / "conn.log", zeek_header("conn", CONN_FIELDS) + "".join(sorted(lines)))
    store = str(tmp_path / "m.duckdb")
    assert main(["monitor", "ingest", str(tmp_path / "conn.log"), "--store", store]) == 0
    capsys.readouterr()
    assert main(["monitor", "detect", "--store", store, "--json", "--only", "new-destination"]) == 0
    return json.loads(capsys.readouterr().out)["alerts"]  # type: ignore[no-any-return]


def test_tens_of_megabytes_to_a_never_seen_address_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = browsing(3)
    at = T0 + (3 * 24 - 3) * HOUR
    for i in range(40):  # 40 x 1.5 MB = 60 MB to an address nobody reached
        lines.append(conn_line(at + i * 60, f"X{i}", "10.0.0.8", "109.74.216.22", orig="1500000"))
    alerts = new_destination_alerts(tmp_path, lines, capsys)
    hit = [a for a in alerts if a["destination"] == "109.74.216.22"]
    assert hit and "which is how exfiltration looks" in str(hit[0]["why"])


def test_the_same_host_browsing_new_sites_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert new_destination_alerts(tmp_path, browsing(3), capsys) == []


def _with_a_call(upload: int) -> list[dict[str, object]]:
    """Ten days: 10.0.0.5 sends about 1 MB an hour to payroll; colleagues send 20 MB an
    hour there and make 800 MB calls through calls.example. On the last day 10.0.0.5 makes
    its first call, and in the same hours sends ``upload`` bytes an hour to payroll."""
    from tests.monitor.helpers import DAY, WINDOW_START, event

    rows: list[dict[str, object]] = []
    peers = [f"10.0.0.{i}" for i in range(20, 26)]
    for d in range(10):
        base = WINDOW_START - (10 - d) * DAY
        for h in range(9, 17):
            t = base + h * HOUR
            rows.append(event(t, "10.0.0.5", "payroll.example", bytes_out=1_000_000))
            for i, peer in enumerate(peers):
                rows.append(event(t + i, peer, "payroll.example", bytes_out=20_000_000))
                if h == 11:
                    rows.append(event(t + 60 + i, peer, "calls.example", bytes_out=800_000_000))
    for h in range(9, 17):
        t = WINDOW_START + h * HOUR
        busy = h in (13, 14)
        rows.append(event(t, "10.0.0.5", "payroll.example",
                          bytes_out=upload if busy else 1_000_000))  # fmt: skip
        if busy:
            rows.append(event(t + 60, "10.0.0.5", "calls.example", bytes_out=800_000_000))
    return rows


@pytest.mark.parametrize(("upload", "stands"), [(30_000_000, True), (1_000_000, False)])
def test_a_call_does_not_hide_the_upload_beside_it(upload: int, stands: bool) -> None:
    from tests.monitor.helpers import WINDOW, store_with
    from zerotls.monitor.engine import detect

    with store_with(_with_a_call(upload)) as store:
        result = detect(store, WINDOW, only=("volume-spike",), merge=False)
    spikes = [a for a in result.alerts if a.identity == "10.0.0.5"]
    noted = [a for a in result.unusual if a.identity == "10.0.0.5"]
    if stands:  # 30 MB an hour to payroll is 30x what it sends there itself
        assert spikes and not noted, "the upload beside the call is an alert"
        why = spikes[0].why
        assert "besides it" in why and "payroll.example" in why, why
    else:  # only the call, which colleagues make every day: weighed down to a note
        assert noted and not spikes, "the call hours are noted, not alerted"
        why = noted[0].why
        assert "so this much is not new there" in why, why
        assert noted[0].severity < 0.25 and noted[0].evidence["discount"] < 1
