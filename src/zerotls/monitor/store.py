"""The monitor's store: one DuckDB file of normalized events, ingested incrementally.

Theory of operation. ``events`` holds the normalized rows (schema.py); ``files`` remembers,
for every file ever read, how far it was read: the byte offset just after the last complete
line, the number of lines before it (counted when an append first needs it), the file's
identity (device, inode, size, mtime) and a fingerprint of the consumed prefix (SHA-256 of
its first 64 KiB, of the 4 KiB before the offset, and of the offset itself). Reading a file
again starts at its offset when the fingerprint still matches (the file only grew: the
appended lines are read), and at 0 when it does not (rotated, truncated or replaced). A line
still being written (no newline yet) is left for the next read.

Re-reading never adds an event twice: every event has a stable key (``uid``: Zeek's uid, the
tunnel's conn_id and start time, a flow CSV's id or a hash of its 5-tuple and time), and rows
whose key is already stored are skipped by an anti-join restricted to the batch's time range
(DuckDB's zone maps make that cheap). So a rotated ``conn.log.1`` read after ``conn.log``,
or a Zeek log read once as TSV and once as JSON, adds nothing.

Bad lines are kept in ``rejects`` with file and line number and reported by every ingest;
they are never fatal. ``ssl.log`` records live in ``zeek_ssl`` and are joined to connections
by uid whichever of the two files is read first.

Parquet is the exchange format: :meth:`Store.export_parquet` writes Hive partitions by day
(``day=YYYY-MM-DD/``), which ``ingest`` reads back and Spark reads as is.
"""

# ruff: noqa: S608
# SQL text here is built only from our own column names, type names and numbers we format;
# nothing read from a log file ever becomes SQL text (DuckDB's readers parse the files, and
# paths and values are passed as parameters).

from __future__ import annotations

import hashlib
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from zerotls.errors import ConfigError
from zerotls.monitor import readers
from zerotls.monitor._deps import require
from zerotls.monitor.readers import Format, Header
from zerotls.monitor.schema import EVENT_COLUMNS, events_ddl

if TYPE_CHECKING:
    import duckdb

    from zerotls.monitor.features import Settings, Window

__all__ = ["FileReport", "IngestReport", "Reject", "Store"]

SCHEMA_VERSION: Final = 1
HEAD_BYTES: Final = 64 * 1024
TAIL_BYTES: Final = 4 * 1024
REJECT_LINES_SHOWN: Final = 20
MAX_GZIP_BYTES: Final = 8 << 30
"""The most one gzip archive may decompress to (a gzip bomb stops here, with a message)."""
_GZIP_MAGIC: Final = b"\x1f\x8b"
FUTURE_SKEW: Final = 600.0
"""Seconds an event may lie after the ingest clock (sensor clocks drift a little)."""
EARLIEST_TS: Final = 631_152_000.0
"""1990-01-01: anything earlier is a unit or parsing mistake, not a connection."""


@dataclass(frozen=True, slots=True)
class Reject:
    """A line that could not be used."""

    file: str
    line: int
    error: str
    text: str | None


@dataclass(frozen=True, slots=True)
class FileReport:
    """What one ingest did with one file.

    Attributes:
        status: ``new`` (first read), ``appended`` (read from the last offset), ``rotated``
            (changed under the same name: read again from the start), ``unchanged``, or
            ``error`` (the file could not be read at all; see ``message``).
    """

    path: str
    status: str
    fmt: str | None = None
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects: tuple[Reject, ...] = ()
    """The first rejected lines (at most 20; all are in the store's ``rejects`` table)."""
    bytes_read: int = 0
    message: str | None = None


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest did, file by file."""

    files: tuple[FileReport, ...]
    seconds: float
    events_read: int = field(default=0)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def failed(self) -> tuple[FileReport, ...]:
        return tuple(f for f in self.files if f.status == "error")

    @property
    def events_per_second(self) -> float:
        return self.events_read / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Seen:
    offset: int
    lines: int | None
    """Lines before ``offset``; None when not counted yet (see :meth:`Store._ingest_one`)."""
    fingerprint: str
    header: Header | None


class Store:
    """A DuckDB file (or ``:memory:``) of normalized events.

    One process at a time may open a store file for writing (DuckDB's rule); a second one
    gets a ConfigError saying so. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        read_only: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        (duckdb_module,) = require("duckdb")
        self.path = str(path)
        self._clock = clock
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con: duckdb.DuckDBPyConnection = duckdb_module.connect(
                self.path, read_only=read_only
            )
        except duckdb_module.IOException as exc:
            if "not a valid DuckDB database" in str(exc):
                raise ConfigError(
                    f"{self.path} is not a monitor store (not a DuckDB file); pass another --store"
                ) from None
            raise ConfigError(
                f"cannot open the monitor store {self.path}: {exc}. If another zerotls monitor "
                "process (follow, ingest) has it open, stop it or pass another --store"
            ) from None
        except duckdb_module.Error as exc:
            raise ConfigError(
                f"{self.path} is not a monitor store ({exc}); pass another --store"
            ) from None
        self.con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            self._create()

    def _create(self) -> None:
        con = self.con
        con.execute(events_ddl())
        con.execute(
            "CREATE TABLE IF NOT EXISTS files (path VARCHAR PRIMARY KEY, format VARCHAR, "
            "header VARCHAR, dev BIGINT, inode BIGINT, size BIGINT, mtime DOUBLE, "
            "offset_bytes BIGINT, lines BIGINT, fingerprint VARCHAR, first_read DOUBLE, "
            "last_read DOUBLE)"
        )
        con.execute(
            "CREATE TABLE IF NOT EXISTS rejects (file VARCHAR, line BIGINT, error VARCHAR, "
            "text VARCHAR, read_at DOUBLE)"
        )
        con.execute(
            "CREATE TABLE IF NOT EXISTS zeek_ssl (uid VARCHAR, server_name VARCHAR, "
            "version VARCHAR, cipher VARCHAR, established BOOLEAN)"
        )
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        found = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall()
        row = found[0] if found else None
        if row is None:
            con.execute("INSERT INTO meta VALUES ('schema', ?)", [str(SCHEMA_VERSION)])
        elif int(row[0]) != SCHEMA_VERSION:
            raise ConfigError(
                f"the store {self.path} has schema {row[0]}, this zerotls reads {SCHEMA_VERSION}; "
                "export it with the zerotls that wrote it and ingest the Parquet files"
            )

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -----------------------------------------------------------------------------------------
    # Reading what is stored

    def count(self) -> int:
        return _scalar(self.con, "SELECT count(*) FROM events")

    def rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """Run one query with ``?`` parameters and return its rows (what detection asks)."""
        cursor = self.con.cursor()
        try:
            return list(cursor.execute(sql, params).fetchall())
        finally:
            cursor.close()

    def features(self, window: Window, settings: Settings) -> dict[str, Any]:
        """The feature tables for ``window`` (see ``zerotls.monitor.features``)."""
        from zerotls.monitor.features import compute

        return compute(self.con, window, settings)

    def time_range(self) -> tuple[float, float] | None:
        """(first, last) event start time, or None for an empty store.

        Only plausible times count (finite, after 1990, at most the clock skew ahead of now):
        a store written before ingest quarantined such events must not move the window.
        """
        row = self.con.execute(
            "SELECT min(ts), max(ts) FROM events WHERE isfinite(ts) AND ts >= ? AND ts <= ?",
            [EARLIEST_TS, self._clock() + FUTURE_SKEW],
        ).fetchall()[0]
        if row[0] is None:
            return None
        return float(row[0]), float(row[1])

    def rejects(self, limit: int = 100) -> list[Reject]:
        rows = self.con.execute(
            "SELECT file, line, error, text FROM rejects ORDER BY read_at DESC, file, line LIMIT ?",
            [limit],
        ).fetchall()
        return [Reject(r[0], int(r[1]), r[2], r[3]) for r in rows]

    # -----------------------------------------------------------------------------------------
    # Ingest

    def ingest(self, paths: Iterable[str | Path]) -> IngestReport:
        """Read new lines from files and directories (recursively), in a stable order.

        ``ssl.log`` files go first so that connections read in the same call get their
        server names at once (a later ``ssl.log`` is joined in when it comes).
        """
        started = time.perf_counter()
        files = list(_expand(paths))
        reports: list[FileReport] = []
        heads: list[tuple[Path, bytes]] = []
        for path in files:
            try:
                with path.open("rb") as f:
                    heads.append((path, f.read(HEAD_BYTES)))
            except OSError as exc:
                reports.append(FileReport(str(path), "error", message=_os_message(path, exc)))
        heads.sort(key=lambda item: 0 if b"server_name" in item[1][:4096] else 1)
        events_read = 0
        for path, head in heads:
            if head.startswith(_GZIP_MAGIC):
                report, read = self._ingest_gzip(path)
            else:
                report, read = self._ingest_one(path, head)
            reports.append(report)
            events_read += read
        return IngestReport(tuple(reports), time.perf_counter() - started, events_read)

    def _ingest_gzip(self, path: Path) -> tuple[FileReport, int]:
        """A gzip-compressed log (Zeek's archive writes ``conn.00:00:00-01:00:00.log.gz``):
        decompressed to a private temporary file, at most :data:`MAX_GZIP_BYTES`, and read
        like any log under the archive's own name. Archives do not grow, so reading one again
        adds nothing (the events' keys are already stored)."""
        import gzip
        import zlib

        key = str(path.resolve())
        try:
            st = path.stat()
        except OSError as exc:
            return FileReport(key, "error", message=_os_message(path, exc)), 0
        # An archive read before, unchanged since (the row keeps the archive's own size and
        # mtime): nothing to decompress, so a daily ingest of an archive tree stays cheap.
        known = self.con.execute(
            "SELECT size, mtime, format FROM files WHERE path = ?", [key]
        ).fetchall()
        if known and known[0][0] == st.st_size and known[0][1] == st.st_mtime:
            return FileReport(key, "unchanged", known[0][2]), 0
        with tempfile.TemporaryDirectory(prefix="zerotls-gunzip-") as tmp:
            plain = Path(tmp) / path.name.removesuffix(".gz")
            try:
                _gunzip(path, plain)
                with plain.open("rb") as f:
                    head = f.read(HEAD_BYTES)
            except ConfigError as exc:
                return FileReport(key, "error", message=str(exc)), 0
            except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
                return FileReport(
                    key, "error", message=f"{path}: not a readable gzip file: {exc}"
                ), 0
            if not head.strip():
                return FileReport(key, "unchanged", message="empty archive"), 0
            result = self._ingest_one(plain, head, key=key)
        self.con.execute(
            "UPDATE files SET size = ?, mtime = ? WHERE path = ?", [st.st_size, st.st_mtime, key]
        )
        return result

    def _seen(self, path: str) -> _Seen | None:
        found = self.con.execute(
            "SELECT offset_bytes, lines, fingerprint, header FROM files WHERE path = ?", [path]
        ).fetchall()
        if not found:
            return None
        row = found[0]
        return _Seen(
            int(row[0]),
            None if row[1] is None else int(row[1]),
            row[2],
            Header.from_json(row[3]) if row[3] else None,
        )

    def _ingest_one(
        self, path: Path, head: bytes, *, key: str | None = None
    ) -> tuple[FileReport, int]:
        key = key or str(path.resolve())
        try:
            st = path.stat()
            seen = self._seen(key)
            start, lines_before, status = 0, 0, "new"
            header: Header | None = None
            if seen is not None:
                if (
                    st.st_size >= seen.offset
                    and _fingerprint(path, seen.offset) == seen.fingerprint
                ):
                    # A file read whole by DuckDB had its lines left uncounted: they are
                    # counted now, once, when a reject's line number first needs them.
                    lines_before = (
                        seen.lines if seen.lines is not None else _count_lines(path, 0, seen.offset)
                    )
                    start, status = seen.offset, "appended"
                    header = seen.header
                else:
                    status = "rotated"
            if header is None:
                if not head.strip():
                    return FileReport(key, "unchanged", message="empty file"), 0
                header = readers.sniff(head, str(path))
            if header.fmt is Format.PARQUET:
                if status == "appended" and seen is not None and st.st_size == seen.offset:
                    return FileReport(key, "unchanged", header.fmt.value), 0
                start, lines_before = 0, 0
            whole = start == 0
            if whole and header.header_bytes:  # a CSV header row is not data
                start, lines_before = header.header_bytes, 1
            lines_in_range: int | None
            with tempfile.TemporaryDirectory(prefix="zerotls-ingest-") as tmp:
                if header.fmt is Format.PARQUET:
                    end, lines_in_range, range_file = st.st_size, 0, None
                elif whole and header.text in ("tsv", "csv") and _ends_in_newline(path, st.st_size):
                    # DuckDB reads the whole file itself. Its lines are not counted: only a
                    # later append's reject line numbers need the count, and most logs
                    # (archives, rotated files) are never appended to. Counting here cost
                    # 4 % of the ingest's CPU.
                    end, lines_in_range, range_file = st.st_size, None, None
                else:
                    end, lines_in_range, range_file = _scan_range(
                        path,
                        start,
                        st.st_size,
                        copy_to=Path(tmp) / "range" if header.text in ("tsv", "csv") else None,
                        whole_file_ok=whole,
                    )
                if end <= start:
                    return FileReport(key, "unchanged", header.fmt.value), 0
                # DuckDB numbers the lines of the file it reads: of the whole file when it
                # reads the file itself, of the range when it reads a copy of the range.
                numbered_from = (
                    0 if header.text in ("tsv", "csv") and range_file is None else lines_before
                )
                report, read = self._load(
                    key,
                    path=path,
                    header=header,
                    start=start,
                    end=end,
                    lines_before=numbered_from,
                    range_file=range_file,
                    status=status,
                )
            fp = _fingerprint(path, end)
            now = time.time()
            self.con.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "coalesce((SELECT first_read FROM files WHERE path = ?), ?), ?)",
                [
                    key,
                    header.fmt.value,
                    header.to_json(),
                    st.st_dev,
                    st.st_ino,
                    st.st_size,
                    st.st_mtime,
                    end,
                    None if lines_in_range is None else lines_before + lines_in_range,
                    fp,
                    key,
                    now,
                    now,
                ],
            )
            return report, read
        except ConfigError as exc:
            return FileReport(key, "error", message=str(exc)), 0
        except OSError as exc:
            return FileReport(key, "error", message=_os_message(path, exc)), 0

    def _load(
        self,
        key: str,
        *,
        path: Path,
        header: Header,
        start: int,
        end: int,
        lines_before: int,
        range_file: Path | None,
        status: str,
    ) -> tuple[FileReport, int]:
        import duckdb

        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for ddl in readers.STAGING_DDL:
                con.execute(ddl)
            try:
                # Fast path for TSV and CSV: rows go straight into events (no staging copy)
                # and duplicates are removed afterwards, inside the same transaction.
                direct: int | None = None
                if header.fmt in (Format.ZEEK_CONN, Format.CSV) and header.text != "json":
                    direct = _scalar(con, "SELECT coalesce(max(rowid), -1) FROM events")
                readers.load_range(
                    con,
                    header,
                    path,
                    start=start,
                    end=end,
                    lines_before=lines_before,
                    range_file=range_file,
                    target="staged" if direct is None else "events",
                )
            except duckdb.Error as exc:
                raise ConfigError(f"{path}: cannot read it as {header.fmt.value}: {exc}") from None
            self._quarantine("staged" if direct is None else "events", direct)
            if direct is None:
                staged = _scalar(con, "SELECT count(*) FROM staged")
                added = self._insert_staged() if staged else 0
            else:
                staged, added = self._dedupe_direct(direct)
            ssl_staged = _scalar(con, "SELECT count(*) FROM staged_ssl")
            if ssl_staged:
                added += self._insert_ssl()
            rejected = _scalar(con, "SELECT count(*) FROM staged_rejects")
            shown: tuple[Reject, ...] = ()
            if rejected:
                con.execute(
                    "INSERT INTO rejects SELECT ?, line, error, text, ? FROM staged_rejects",
                    [key, time.time()],
                )
                rows = con.execute(
                    "SELECT line, error, text FROM staged_rejects ORDER BY line LIMIT ?",
                    [REJECT_LINES_SHOWN],
                ).fetchall()
                shown = tuple(Reject(key, int(r[0]), r[1], r[2]) for r in rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        read = staged + ssl_staged
        return (
            FileReport(
                key,
                status,
                header.fmt.value,
                added=added,
                duplicates=read - added,
                rejected=rejected,
                rejects=shown,
                bytes_read=end - start,
            ),
            read + rejected,
        )

    def _quarantine(self, table: str, after_rowid: int | None) -> None:
        """Move events whose time is not finite, absurdly old or in the future to rejects.

        One line dated 2100 would otherwise move every later default window past all real
        data (and blind detection); a NaN would fail every query. Times more than
        :data:`FUTURE_SKEW` after the ingest clock are quarantined, never stored.
        """
        rows = "" if after_rowid is None else f"rowid > {int(after_rowid)} AND "
        now = self._clock()
        bad = (
            f"{rows}(NOT isfinite(ts) OR ts < $earliest OR ts > $latest "
            "OR (duration IS NOT NULL AND (NOT isfinite(duration) OR duration < 0)))"
        )
        params = {"earliest": EARLIEST_TS, "latest": now + FUTURE_SKEW}
        self.con.execute(
            "INSERT INTO staged_rejects SELECT 0, CASE "
            "WHEN NOT isfinite(ts) THEN 'time ' || CAST(ts AS VARCHAR) || ' is not a finite "
            "number: rejected' "
            "WHEN ts > $latest THEN 'time ' || CASE WHEN ts < 253402300800 "
            "THEN strftime(to_timestamp(ts), '%Y-%m-%dT%H:%MZ') ELSE CAST(ts AS VARCHAR) END "
            "|| ' is in the future (more than 10 min after the ingest time): quarantined, so "
            "it cannot move the detection window; check the sensor''s clock' "
            "WHEN ts < $earliest THEN 'time ' || CAST(ts AS VARCHAR) || ' is before 1990: "
            "quarantined (is it in milliseconds or a counter?)' "
            "ELSE 'duration ' || CAST(duration AS VARCHAR) || ' is not a finite, non-negative "
            "number of seconds: rejected' END, "
            f"'uid ' || uid FROM {table} WHERE {bad}",
            params,
        )
        self.con.execute(f"DELETE FROM {table} WHERE {bad}", params)

    def _insert_staged(self) -> int:
        con = self.con
        lo, hi = con.execute("SELECT min(ts), max(ts) FROM staged").fetchall()[0]
        before = self.count()
        # Duplicates inside the batch are kept once (the first line wins); duplicates of stored
        # events are skipped by an anti-join on the stable key within the batch's time range.
        con.execute(
            "INSERT INTO events SELECT * FROM staged s WHERE NOT EXISTS "
            "(SELECT 1 FROM events e WHERE e.ts BETWEEN ? AND ? AND e.uid = s.uid) "
            "QUALIFY row_number() OVER (PARTITION BY s.uid ORDER BY s.ts) = 1",
            [lo, hi],
        )
        return self.count() - before

    def _dedupe_direct(self, before: int) -> tuple[int, int]:
        """After a fast-path insert (new rows have rowid > ``before``): drop the new rows
        whose key is already stored or repeats inside the batch; return (read, kept)."""
        con = self.con
        lo, hi, rows, keys = con.execute(
            # Distinct 64-bit hashes are cheaper than distinct strings; a collision only sends
            # the batch through the exact path below.
            "SELECT min(ts), max(ts), count(*), count(DISTINCT hash(uid)) FROM events "
            "WHERE rowid > ?",
            [before],
        ).fetchall()[0]
        if not rows:
            return 0, 0
        older = _scalar(
            con,
            "SELECT count(*) FROM events WHERE rowid <= ? AND ts BETWEEN ? AND ?",
            [before, lo, hi],
        )
        if rows == keys and older == 0:
            return int(rows), int(rows)
        # Keep the first row of every key in the range: the stored one if there is one.
        con.execute(
            "DELETE FROM events WHERE rowid > ? AND rowid NOT IN "
            "(SELECT min(rowid) FROM events WHERE ts BETWEEN ? AND ? GROUP BY uid)",
            [before, lo, hi],
        )
        kept = _scalar(con, "SELECT count(*) FROM events WHERE rowid > ?", [before])
        return int(rows), kept

    def _insert_ssl(self) -> int:
        con = self.con
        before = _scalar(con, "SELECT count(*) FROM zeek_ssl")
        con.execute(
            "INSERT INTO zeek_ssl SELECT DISTINCT ON (uid) * FROM staged_ssl s "
            "WHERE NOT EXISTS (SELECT 1 FROM zeek_ssl z WHERE z.uid = s.uid)"
        )
        # Connections read before their ssl.log get the server name and TLS details now.
        con.execute(
            "UPDATE events SET dst_host = CASE WHEN coalesce(s.server_name, '') <> '' "
            "AND events.dst_host = events.dst_ip THEN s.server_name ELSE events.dst_host END, "
            "tls_version = CASE "
            + "WHEN s.version IS NULL THEN NULL ELSE "
            + _tls_case("s.version")
            + " END, cipher = s.cipher, outcome = CASE WHEN s.established = false "
            "AND events.outcome = 'ok' THEN 'handshake_failed' ELSE events.outcome END "
            "FROM staged_ssl s WHERE events.uid = 'zeek:' || s.uid "
            "AND events.tls_version IS NULL AND events.cipher IS NULL"
        )
        return _scalar(con, "SELECT count(*) FROM zeek_ssl") - before

    def ingest_lines(self, data: bytes, *, name: str, first_line: int = 1) -> FileReport:
        """Ingest complete lines handed over directly (``follow`` tails a file this way).

        Args:
            data: whole lines (ending in a newline) of one log; its format is recognized
                from the first line.
            name: the file they came from, for reports and rejects.
            first_line: the line number of the first line in that file.
        """
        if not data.strip():
            return FileReport(name, "unchanged")
        header = readers.sniff(data[:HEAD_BYTES], name)
        if header.text != "json":
            raise ConfigError(
                f"{name}: follow reads JSON Lines (zerotls audit events, Zeek JSON logs); "
                f"this is {header.fmt.value} ({header.text}); ingest it instead"
            )
        with tempfile.TemporaryDirectory(prefix="zerotls-follow-") as tmp:
            chunk = Path(tmp) / "lines"
            chunk.write_bytes(data)
            report, _ = self._load(
                name,
                path=chunk,
                header=header,
                start=0,
                end=len(data),
                lines_before=first_line - 1,
                range_file=None,
                status="appended",
            )
        return report

    # -----------------------------------------------------------------------------------------
    # Parquet

    def export_parquet(self, directory: str | Path, *, since: float | None = None) -> int:
        """Write events as Parquet, Hive-partitioned by day (``day=YYYY-MM-DD``).

        Returns the number of events written. Files of a day already exported are replaced.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        if since is not None and not math.isfinite(since):
            raise ConfigError(f"--since {since!r} is not a finite time")
        where = "" if since is None else "WHERE ts >= ?"
        params = [] if since is None else [float(since)]
        cols = ", ".join(c.name for c in EVENT_COLUMNS)
        n = _scalar(self.con, f"SELECT count(*) FROM events {where}", params)
        if n:
            self.con.execute(
                f"COPY (SELECT {cols}, strftime(to_timestamp(ts), '%Y-%m-%d') AS day "
                f"FROM events {where} ORDER BY ts) TO '{_sql_str(str(out))}' "
                "(FORMAT parquet, PARTITION_BY (day), OVERWRITE_OR_IGNORE, "
                "FILENAME_PATTERN 'events_{i}', COMPRESSION zstd)",
                params,
            )
        return n


def _tls_case(expr: str) -> str:
    from zerotls.monitor.schema import tls_version_sql

    return tls_version_sql(expr)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> int:
    rows = con.execute(sql, list(params)).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _sql_str(text: str) -> str:
    return text.replace("'", "''")


def _os_message(path: Path, exc: OSError) -> str:
    return f"cannot read {path}: {exc.strerror or exc}"


def _expand(paths: Iterable[str | Path]) -> Iterator[Path]:
    for item in paths:
        path = Path(item)
        if path.is_dir():
            # A tree of rotated or archived logs is read oldest first (by modification time,
            # then name), so state such as Zeek's ssl.log joins sees them in time order.
            children = [
                child
                for child in path.rglob("*")
                if child.is_file()
                and not any(part.startswith(".") for part in child.relative_to(path).parts)
            ]
            yield from sorted(children, key=lambda c: (_mtime(c), str(c)))
        else:
            yield path


def _gunzip(path: Path, out: Path) -> None:
    import gzip

    with gzip.open(path, "rb") as src, out.open("wb") as dst:
        copied = 0
        while chunk := src.read(1 << 20):
            copied += len(chunk)
            if copied > MAX_GZIP_BYTES:
                raise ConfigError(
                    f"{path} decompresses to more than {MAX_GZIP_BYTES >> 30} GiB; not read "
                    "(split the archive, or decompress it yourself)"
                )
            dst.write(chunk)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _fingerprint(path: Path, offset: int) -> str:
    """SHA-256 over the first 64 KiB, the 4 KiB before ``offset`` and ``offset`` itself."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        digest.update(f.read(min(offset, HEAD_BYTES)))
        tail_start = max(0, offset - TAIL_BYTES)
        f.seek(tail_start)
        digest.update(f.read(offset - tail_start))
    digest.update(str(offset).encode())
    return digest.hexdigest()


def _ends_in_newline(path: Path, size: int) -> bool:
    if size <= 0:
        return False
    with path.open("rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"


def _count_lines(path: Path, start: int, end: int) -> int:
    block = 8 << 20
    lines = 0
    with path.open("rb") as f:
        f.seek(start)
        remaining = end - start
        while remaining > 0:
            data = f.read(min(block, remaining))
            if not data:
                break
            lines += data.count(b"\n")
            remaining -= len(data)
    return lines


def _scan_range(
    path: Path, start: int, size: int, *, copy_to: Path | None, whole_file_ok: bool
) -> tuple[int, int, Path | None]:
    """Find the end of the last complete line after ``start``, count the lines up to it and,
    if asked, copy the range to ``copy_to`` (unless it is the whole file and that is ok).

    Returns (end offset, lines in the range, the file holding exactly the range or None).
    """
    block = 8 << 20
    end = start
    lines = 0
    with path.open("rb") as f:
        f.seek(start)
        pos = start
        while pos < size:
            data = f.read(min(block, size - pos))
            if not data:
                break
            nl = data.rfind(b"\n")
            if nl >= 0:
                lines += data.count(b"\n")
                end = pos + nl + 1
            pos += len(data)
    if copy_to is None or end <= start:
        return end, lines, None
    if whole_file_ok and end == size:
        return end, lines, None
    with path.open("rb") as src, copy_to.open("wb") as dst:
        src.seek(start)
        remaining = end - start
        while remaining:
            data = src.read(min(block, remaining))
            if not data:
                break
            dst.write(data)
            remaining -= len(data)
    return end, lines, copy_to
