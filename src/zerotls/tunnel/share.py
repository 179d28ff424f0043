"""How worker processes show their figures to the one that serves ``/metrics``.

Each worker writes a small JSON snapshot (metrics and status) into a directory they share,
atomically, about once a second; the admin worker adds the others' latest snapshots to its
own. Staleness is bounded by the interval; a worker that has not written yet, or is exiting,
is simply left out of that scrape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zerotls._util import atomic_write

__all__ = ["WorkerShare", "publish_every"]


class WorkerShare:
    """One worker's place in the shared directory."""

    def __init__(self, directory: Path, worker: int) -> None:
        self.directory = directory
        self.worker = worker

    def write(self, data: dict[str, Any]) -> None:
        """Leave this worker's figures for the admin worker."""
        path = self.directory / f"worker-{self.worker}.json"
        atomic_write(path, json.dumps(data).encode(), mode=0o600)

    def others(self) -> list[dict[str, Any]]:
        """The other workers' latest snapshots."""
        snaps = []
        for path in sorted(self.directory.glob("worker-*.json")):
            if path.name == f"worker-{self.worker}.json":
                continue
            try:
                snaps.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue  # a worker that has not written yet, or is mid-exit
        return snaps


async def publish_every(write: Callable[[], None], interval: float = 1.0) -> None:
    """Call ``write`` every ``interval`` seconds (bounded staleness of the merged figures)."""
    while True:
        write()
        await asyncio.sleep(interval)
