"""Tailing: whole lines only, across rename-rotation and copytruncate; a bounded follow run
that ingests as the file grows and reports each alert once."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from tests.monitor.helpers import T0
from zerotls.monitor.alerts import Alert
from zerotls.monitor.follow import Tailer, follow
from zerotls.monitor.store import Store


def audit_line(
    i: int, ts: float, identity: str, *, decision: str = "allow", route: str = "db"
) -> str:
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return (
        json.dumps(
            {
                "v": 1,
                "time": start,
                "end": start,
                "duration_ms": 5.0,
                "conn_id": f"{i:012x}",
                "listener": "front",
                "mode": "server",
                "route": route if decision == "allow" else None,
                "target": "127.0.0.1:5432" if decision == "allow" else None,
                "source": f"10.0.0.9:{40000 + i}",
                "sni": None,
                "spiffe_id": identity,
                "dns_names": [],
                "identity": identity,
                "tls_version": "TLSv1.3",
                "cipher": "TLS_AES_256_GCM_SHA384",
                "decision": decision,
                "rule": None,
                "reason": f"no rule allows {identity}" if decision == "deny" else "ok",
                "bytes_in": 10,
                "bytes_out": 10,
                "close_reason": "denied" if decision == "deny" else "client_close",
                "error": None,
                "alert": None,
            }
        )
        + "\n"
    )


def test_tailer_returns_whole_lines_and_survives_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    tailer = Tailer(path)
    assert tailer.poll() == (b"", 1)  # not there yet: wait for it
    path.write_bytes(b"one\ntw")
    assert tailer.poll() == (b"one\n", 1)
    assert tailer.poll() == (b"", 2)
    with path.open("ab") as f:
        f.write(b"o\nthree\n")
    assert tailer.poll() == (b"two\nthree\n", 2)
    # rename rotation: the last lines of the old file come first, then the new file
    with path.open("ab") as f:
        f.write(b"last of old\n")
    os.rename(path, tmp_path / "audit.jsonl.1")
    path.write_bytes(b"first of new\n")
    assert tailer.poll() == (b"last of old\n", 4)
    assert tailer.poll() == (b"first of new\n", 1)
    # copytruncate: same file, shorter
    with path.open("r+b") as f:
        f.truncate(0)
    path.write_bytes(b"after truncate\n")
    assert tailer.poll() == (b"after truncate\n", 1)
    assert tailer.rotations == 2
    tailer.close()


def test_follow_ingests_as_the_log_grows_and_reports_each_alert_once(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    runner = "spiffe://corp.example/ci/runner"
    # A baseline of allowed connections, then (written while following) a burst of denials.
    rng = random.Random(5)
    times = [T0]
    for _ in range(199):  # irregular (Poisson) traffic: not a beacon
        times.append(times[-1] + rng.expovariate(1 / 600))
    path.write_text("".join(audit_line(i, t, runner) for i, t in enumerate(times)))
    burst = "".join(
        audit_line(1000 + i, times[-1] + 60 + i * 5, runner, decision="deny") for i in range(25)
    )
    clock = [0.0]
    steps: list[str] = []

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        if not steps:
            with path.open("a") as f:
                f.write(burst + '{"v": 1, "broken\n')
            steps.append("burst")

    seen: list[Alert] = []
    bad: list[str] = []
    with Store() as store:
        stats = follow(
            store,
            path,
            on_alert=seen.append,
            on_reject=bad.append,
            interval=1.0,
            max_seconds=10.0,
            detect_every=0.0,
            clock=lambda: clock[0],
            sleep=sleep,
        )
        assert store.count() == 225
    assert [a.detector for a in seen] == ["probing"]
    assert seen[0].identity == runner and seen[0].evidence["denied"] == 25
    assert stats.events == 225 and stats.alerts == 1 and stats.detections == 2
    assert bad == [f"{path}:226: not a JSON object"]
