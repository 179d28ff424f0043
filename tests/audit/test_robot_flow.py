"""The ROBOT probe's decisions, driven with canned answers (the real servers, vulnerable and
not, are in test_targets.py): a difference must repeat before it is a finding."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from zerotls.audit.model import RobotResult, ScanOptions, Target
from zerotls.audit.probes.base import REGISTRY, Job, JobFailed, ProbeContext
from zerotls.audit.probes.robot import VARIANTS, premaster_block
from zerotls.audit.runner import _drive

ALIKE = "alert bad_record_mac, then closed"


def run(answer: Callable[[int, int], str | JobFailed]) -> tuple[RobotResult, int]:
    """The flow, with ``answer(variant, attempt)`` as each connection's outcome."""

    async def run_job(job: Job[Any]) -> Any:
        _, variant, attempt = job.label.split("-")
        return answer(int(variant), int(attempt))

    ctx = ProbeContext(Target.parse("127.0.0.1:4433"), ScanOptions())
    result, jobs = asyncio.run(_drive(REGISTRY["robot"](), ctx, run_job))
    assert isinstance(result, RobotResult)
    return result, jobs


def test_answers_alike_are_no_oracle_in_five_connections() -> None:
    result, jobs = run(lambda v, a: ALIKE)
    assert (result.vulnerable, jobs) == (False, 5)


def test_a_difference_that_repeats_is_reported_with_the_variants() -> None:
    result, jobs = run(lambda v, a: "no alert, then closed" if v == 3 else ALIKE)
    assert result.vulnerable is True and jobs == 7  # five, then the reference and variant 3
    assert "no 0x00 separator: no alert, then closed" in result.detail


def test_a_difference_that_does_not_repeat_is_unknown_not_a_finding() -> None:
    result, _ = run(lambda v, a: "silence" if (v, a) == (2, 1) else ALIKE)
    assert result.vulnerable is None and "not the same way twice" in result.detail


def test_a_reset_is_an_answer_and_a_refused_connection_is_an_error() -> None:
    reset = JobFailed("connection failed: [Errno 104] Connection reset by peer")
    result, _ = run(lambda v, a: reset if v == 1 else ALIKE)
    assert result.vulnerable is True and result.answers[1] == "connection reset"
    refused = JobFailed("cannot connect to 127.0.0.1:4433: Connection refused")
    result, _ = run(lambda v, a: refused)
    assert result.vulnerable is None and result.error == refused.reason


def test_no_static_rsa_is_not_applicable() -> None:
    result, jobs = run(lambda v, a: "not applicable")
    assert (result.vulnerable, jobs) == (False, 5) and "not applicable" in result.detail


def test_the_blocks_are_what_their_names_say() -> None:
    size = 256
    blocks = [premaster_block(v, size) for v in range(len(VARIANTS))]
    assert all(len(b) == size for b in blocks)
    good, first, early, none, version = blocks
    assert (
        good[:2] == b"\x00\x02" and good.index(0, 2) == size - 49 and good[-48:-46] == b"\x03\x03"
    )
    assert first[:2] == b"\x41\x17"
    assert early.index(0, 2) == 10 and size - 11 != 48
    assert 0 not in none[2:]
    assert version.index(0, 2) == size - 49 and version[-48:-46] == b"\x02\x02"
