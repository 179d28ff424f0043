"""Golden server flights (tests/vectors/, recorded from openssl s_server by
tests/vectors/record_flights.py) replayed, with no network, into the hello parser and into the
``protocols`` probe's flow: what the auditor concludes from real bytes, pinned down."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from zerotls.audit.conversation import FirstFlight, read_first_flight
from zerotls.audit.model import ProtocolsResult, ScanOptions, Target
from zerotls.audit.probes.base import REGISTRY, Job, JobFailed, ProbeContext
from zerotls.audit.runner import _drive
from zerotls.errors import DecodeError

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def flights(name: str) -> dict[str, list[bytes | None]]:
    raw = json.loads((VECTORS / f"flights-{name}.json").read_text())
    return {k: [None if r is None else bytes.fromhex(r) for r in v] for k, v in raw.items()}


def replay(conversation: Any, reads: list[bytes | None]) -> Any:
    """Drive a conversation on recorded reads (what the runner does on a socket)."""
    try:
        next(conversation)
        for data in reads:
            conversation.send(data)
    except StopIteration as done:
        return done.value
    except DecodeError as exc:
        return JobFailed(f"undecodable answer: {exc}")
    raise AssertionError("the conversation wanted more than the recording holds")


def run_protocols(name: str) -> ProtocolsResult:
    recorded = flights(name)
    seen: Counter[str] = Counter()

    async def run_job(job: Job[Any]) -> Any:
        key = f"{job.label}#{seen[job.label]}"
        seen[job.label] += 1
        return replay(job.conversation(), recorded[key])

    ctx = ProbeContext(Target.parse("127.0.0.1:4433"), ScanOptions())
    result, jobs = asyncio.run(_drive(REGISTRY["protocols"](), ctx, run_job))
    assert jobs == len(recorded)  # the flow asked exactly what the recording answered
    return result  # type: ignore[no-any-return]


def test_a_tls13_only_server() -> None:
    result = run_protocols("tls13")
    assert result.supported == ("TLS 1.3",)
    tls13 = result.get("TLS 1.3")
    assert tls13 is not None and len(tls13.suites) == 3  # OpenSSL 3.0's three TLS 1.3 suites
    assert all(s.aead and s.forward_secrecy for s in tls13.suites)
    for old in ("SSLv3", "TLS 1.0", "TLS 1.1", "TLS 1.2"):
        version = result.get(old)
        assert version is not None and version.supported is False


def test_a_tls12_server_with_its_own_order() -> None:
    result = run_protocols("tls12-ecdsa")
    assert result.supported == ("TLS 1.2",)
    tls12 = result.get("TLS 1.2")
    assert tls12 is not None
    assert [s.name for s in tls12.suites] == [
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ]
    assert tls12.server_preference is True  # -serverpref: offered reversed, same first pick
    assert all(s.group for s in tls12.suites)  # the ServerKeyExchange's curve was read


@pytest.mark.parametrize("name", ["tls13", "tls12-ecdsa"])
def test_the_hello_parser_reads_every_recorded_flight(name: str) -> None:
    for key, reads in flights(name).items():
        if key.startswith("SSLv2"):
            continue  # another wire format (sslv2_exchange)
        outcome = replay(read_first_flight(), reads)
        assert isinstance(outcome, FirstFlight), key
        assert outcome.server_hello is not None or outcome.alert is not None, key
        # The negative twin: the same bytes cut short never parse into a ServerHello that
        # is not there; the parser waits (Recv) or reports end of stream.
        first = reads[0]
        if first:
            short = replay(read_first_flight(), [first[:5], b""])
            assert isinstance(short, FirstFlight | JobFailed) and (
                not isinstance(short, FirstFlight) or short.server_hello is None
            ), key
