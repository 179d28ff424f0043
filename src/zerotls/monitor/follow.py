"""``follow``: tail the tunnel's audit log, ingest new lines, print alerts as they appear.

:class:`Tailer` reads what was appended to a file since the last poll, whole lines only, and
survives rotation: when the name points to another file (logrotate's rename and create) or
the file shrank (``copytruncate``), it first drains what is left of the file it had open,
then starts at the beginning of the new one. It never reads a clock and never sleeps; the
loop in :func:`follow` does, and stops after ``max_seconds`` (or on Ctrl-C).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from zerotls.monitor.alerts import Alert
from zerotls.monitor.allowlist import Allowlist
from zerotls.monitor.engine import detect
from zerotls.monitor.features import Settings, Window
from zerotls.monitor.store import Store

__all__ = ["FollowStats", "Tailer", "follow"]

MAX_READ: Final = 64 * 2**20
"""At most this much is read per poll, so a huge backlog is ingested in bounded steps."""


class Tailer:
    """Whole new lines of a file, across rotation and truncation."""

    def __init__(self, path: Path, *, from_start: bool = True) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self._inode: tuple[int, int] | None = None
        self._carry = b""
        self.line = 1
        """Number (in the current file) of the next line to be returned."""
        self.rotations = 0
        self._from_start = from_start
        self._head = b""
        """The file's first bytes as we read them: if they change, it was truncated and
        rewritten (copytruncate), even if it has already grown past our position again."""

    def _open(self) -> IO[bytes] | None:
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return None
        st = os.fstat(f.fileno())
        self._file, self._inode = f, (st.st_dev, st.st_ino)
        if not self._from_start:
            f.seek(0, os.SEEK_END)
            self._from_start = True  # only the first file is joined at its end
        self._carry, self.line, self._head = b"", 1, b""
        return f

    def poll(self) -> tuple[bytes, int]:
        """Return (new complete lines, number of the first of them); (b"", n) if none."""
        current = self._file or self._open()
        if current is None:
            return b"", self.line
        if self._truncated(current):
            return self._reopen()
        data, first = self._read(current)
        if data:
            return data, first
        # Nothing new in the file we hold: has the name moved on to another file?
        try:
            st = self.path.stat()
            rotated = (st.st_dev, st.st_ino) != self._inode
        except FileNotFoundError:
            rotated = True
        if not rotated:
            return b"", self.line
        return self._reopen()

    def _truncated(self, f: IO[bytes]) -> bool:
        position = f.tell()
        size = os.fstat(f.fileno()).st_size
        if size < position:
            return True
        if self._head:
            head = os.pread(f.fileno(), len(self._head), 0)
            return head != self._head
        return False

    def _reopen(self) -> tuple[bytes, int]:
        current = self._file
        if current is not None:
            current.close()
        self._file = None
        self.rotations += 1
        reopened = self._open()
        if reopened is None:
            return b"", self.line
        return self._read(reopened)

    def _read(self, f: IO[bytes]) -> tuple[bytes, int]:
        chunk = f.read(MAX_READ)
        if not chunk:
            return b"", self.line
        if len(self._head) < 256:
            self._head = os.pread(f.fileno(), 256, 0)
        data = self._carry + chunk
        cut = data.rfind(b"\n") + 1
        self._carry = data[cut:]
        whole = data[:cut]
        first = self.line
        self.line += whole.count(b"\n")
        return whole, first

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True, slots=True)
class FollowStats:
    events: int
    rejected: int
    alerts: int
    rotations: int
    detections: int


def follow(
    store: Store,
    path: Path,
    *,
    on_alert: Callable[[Alert], None],
    on_reject: Callable[[str], None] = lambda _msg: None,
    interval: float = 1.0,
    max_seconds: float | None = None,
    window_seconds: float = 24 * 3600.0,
    baseline_seconds: float = 14 * 86400.0,
    detect_every: float = 5.0,
    settings: Settings | None = None,
    allowlist: Allowlist | None = None,
    from_start: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FollowStats:
    """Tail ``path`` into ``store`` and report each new alert once (by its key).

    Detection runs over the last ``window_seconds`` of data, at most every ``detect_every``
    seconds and only when new events arrived.
    """
    tailer = Tailer(path, from_start=from_start)
    seen: set[str] = set()
    events = rejected = detections = 0
    dirty = False
    started = clock()
    last_detect = -1e18
    try:
        while True:
            data, first = tailer.poll()
            if data:
                report = store.ingest_lines(data, name=str(path), first_line=first)
                events += report.added
                rejected += report.rejected
                for r in report.rejects:
                    on_reject(f"{path}:{r.line}: {r.error}")
                dirty = dirty or report.added > 0
                continue  # drain a backlog before sleeping
            now = clock()
            if dirty and now - last_detect >= detect_every:
                span = store.time_range()
                if span is not None:
                    end = span[1] + 1e-3
                    start = end - window_seconds
                    window = Window(start=start, end=end, base=start - baseline_seconds)
                    result = detect(store, window, settings=settings, allowlist=allowlist)
                    detections += 1
                    for alert in result.alerts:
                        if alert.key not in seen:
                            seen.add(alert.key)
                            on_alert(alert)
                dirty, last_detect = False, now
            if max_seconds is not None and now - started >= max_seconds:
                break
            sleep(interval)
    finally:
        tailer.close()
    return FollowStats(events, rejected, len(seen), tailer.rotations, detections)
