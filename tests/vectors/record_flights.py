"""Record golden server flights for the auditor's probe flows (run by hand, needs openssl).

    python -m tests.vectors.record_flights

For each server below (``openssl s_server`` of the system OpenSSL, started here on loopback
with a throwaway ECDSA P-256 certificate) the real ``protocols`` probe runs, and every read
each of its connections made is written to ``tests/vectors/flights-NAME.json``: job label and
occurrence -> the list of reads (hex, ``null`` for a timeout, ``""`` for end of stream).
``tests/audit/test_vectors.py`` replays them into the same flow and into the hello parser,
with no network, and checks what the auditor concludes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

from tests.peers.openssl import OPENSSL, free_port, stop, wait_for_port
from zerotls.audit.conversation import Conversation
from zerotls.audit.model import ScanOptions, Target
from zerotls.audit.probes.base import REGISTRY, Job, ProbeContext
from zerotls.audit.runner import _drive, run_conversation
from zerotls.pki import CA

HERE = Path(__file__).parent
SERVERS = {
    "tls13": ["-tls1_3"],
    "tls12-ecdsa": [
        "-tls1_2",
        "-cipher",
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256",
        "-serverpref",
    ],
}


def recording(conv: Conversation[Any], reads: list[bytes | None]) -> Generator[Any, Any, Any]:
    item = next(conv)
    while True:
        data = yield item
        reads.append(data)
        try:
            item = conv.send(data)
        except StopIteration as done:
            return done.value


def record(port: int) -> dict[str, list[str | None]]:
    """Run the protocols probe against 127.0.0.1:port and keep every read of every job."""
    transcripts: dict[str, list[str | None]] = {}
    seen: Counter[str] = Counter()

    async def run_job(job: Job[Any]) -> Any:
        key = f"{job.label}#{seen[job.label]}"
        seen[job.label] += 1
        reads: list[bytes | None] = []
        result = await run_conversation(
            "127.0.0.1", port, recording(job.conversation(), reads), 2.0
        )
        transcripts[key] = [None if r is None else r.hex() for r in reads]
        return result

    ctx = ProbeContext(Target.parse(f"127.0.0.1:{port}"), ScanOptions())
    asyncio.run(_drive(REGISTRY["protocols"](), ctx, run_job))
    return transcripts


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ca = CA.create("vectors CA")
        ca.issue("localhost", dns=["localhost"], usage="server").write(
            root / "s.pem", root / "s.key"
        )
        for name, extra in SERVERS.items():
            port = free_port()
            proc = subprocess.Popen(
                [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(root / "s.pem"),
                 "-key", str(root / "s.key"), "-naccept", "200", "-quiet", *extra],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                wait_for_port(port, proc)
                transcripts = record(port)
            finally:
                stop(proc)
            out = HERE / f"flights-{name}.json"
            out.write_text(json.dumps(transcripts, indent=1, sort_keys=True) + "\n")
            print(f"wrote {out} ({len(transcripts)} connections)")


if __name__ == "__main__":
    main()
