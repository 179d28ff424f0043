"""Readers and the store: every format, bad lines with their numbers, incremental and
idempotent ingest across appends, rotation and truncation, Parquet round trips."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.monitor.helpers import (
    CONN_FIELDS,
    SSL_FIELDS,
    T0,
    conn_line,
    ssl_line,
    write,
    zeek_header,
)
from zerotls.errors import ConfigError
from zerotls.monitor._deps import require
from zerotls.monitor.readers import Format, sniff
from zerotls.monitor.store import Store


def rows(
    store: Store,
    sql: str = "SELECT uid, identity, dst_host, dst_port, bytes_out, bytes_in, tls_version, cipher, outcome FROM events ORDER BY ts",
) -> list[tuple[object, ...]]:
    return store.con.execute(sql).fetchall()


def conn_log(path: Path, lines: list[str], fields: list[str] = CONN_FIELDS) -> Path:
    return write(
        path, zeek_header("conn", fields) + "".join(lines) + "#close\t2026-01-01-01-00-00\n"
    )


def test_zeek_tsv_conn_joined_with_ssl_whichever_comes_first(tmp_path: Path) -> None:
    conn = conn_log(
        tmp_path / "conn.log",
        [
            conn_line(T0, "Caaa", "10.0.0.1", "93.1.1.1"),
            conn_line(T0 + 1, "Cbbb", "10.0.0.2", "93.1.1.2", 22, state="REJ", orig="-", resp="-"),
            conn_line(T0 + 2, "Cccc", "10.0.0.3", "93.1.1.3", 123, proto="udp", state="S0"),
        ],
    )
    ssl = write(
        tmp_path / "ssl.log",
        zeek_header("ssl", SSL_FIELDS)
        + ssl_line(T0, "Caaa", "api.example", version="TLSv10", cipher="TLS_RSA_WITH_RC4_128_SHA"),
    )
    for order in ([conn, ssl], [ssl, conn]):
        with Store() as store:
            for path in order:  # one file per call: the join must not depend on the order
                report = store.ingest([path])
                assert report.failed == ()
            got = rows(store)
        assert got[0] == (
            "zeek:Caaa",
            "10.0.0.1",
            "api.example",
            443,
            100,
            2000,
            "TLSv1.0",
            "TLS_RSA_WITH_RC4_128_SHA",
            "ok",
        )
        assert got[1][-1] == "rejected" and got[1][4:6] == (0, 0)  # '-' bytes are 0
        assert got[2][-1] == "ok"  # a UDP S0 is one-way traffic, not a refusal


def test_zeek_tsv_of_older_versions_without_local_resp(tmp_path: Path) -> None:
    fields = [f for f in CONN_FIELDS if f != "local_resp"]
    path = conn_log(
        tmp_path / "conn.log",
        [conn_line(T0, "Cold", "10.0.0.1", "93.1.1.1", fields=fields)],
        fields,
    )
    with Store() as store:
        assert store.ingest([path]).added == 1


def test_zeek_json_with_epoch_and_iso_times_dedupes_against_tsv(tmp_path: Path) -> None:
    tsv = conn_log(tmp_path / "conn.log", [conn_line(T0, "Cdup", "10.0.0.1", "93.1.1.1")])
    base = {
        "uid": "Cdup",
        "id.orig_h": "10.0.0.1",
        "id.orig_p": 50000,
        "id.resp_h": "93.1.1.1",
        "id.resp_p": 443,
        "proto": "tcp",
        "duration": 1.5,
        "orig_bytes": 100,
        "resp_bytes": 2000,
        "conn_state": "SF",
    }
    other = {**base, "uid": "Ciso", "ts": "2026-01-01T00:00:05.250000Z"}
    js = write(
        tmp_path / "conn.json", json.dumps({**base, "ts": T0}) + "\n" + json.dumps(other) + "\n"
    )
    with Store() as store:
        store.ingest([tsv])
        report = store.ingest([js])
        assert (report.added, report.files[0].duplicates, report.files[0].fmt) == (
            1,
            1,
            "zeek-conn",
        )
        ts = store.con.execute("SELECT ts FROM events WHERE uid = 'zeek:Ciso'").fetchall()
    assert ts[0][0] == pytest.approx(T0 + 5.25)


def test_bad_tsv_lines_are_counted_with_line_numbers_and_not_fatal(tmp_path: Path) -> None:
    good = [conn_line(T0 + i, f"C{i}", "10.0.0.1", "93.1.1.1") for i in range(5)]
    lines = [*good[:2], conn_line(T0, "Cbad", "10.0.0.1", "93.1.1.1", orig="lots"), *good[2:3]]
    lines += [
        "garbage\tline\n",
        *good[3:],
        conn_line(T0, "Cx", "10.0.0.1", "93.1.1.1").rstrip("\n") + "\textra\n",
    ]
    path = conn_log(tmp_path / "conn.log", lines)
    with Store() as store:
        report = store.ingest([path])
        (f,) = report.files
        assert (f.added, f.rejected) == (5, 3)
        # 8 header lines; the bad lines are the file's lines 11, 13 and 16
        assert [r.line for r in f.rejects] == [11, 13, 16]
        assert "orig_bytes" in f.rejects[0].error and "lots" in (f.rejects[0].text or "")
        assert [r.line for r in store.rejects()] == [11, 13, 16]


def test_bad_json_lines_say_what_is_wrong(tmp_path: Path) -> None:
    ok = {
        "ts": T0,
        "uid": "C1",
        "id.orig_h": "10.0.0.1",
        "id.orig_p": 1,
        "id.resp_h": "93.1.1.1",
        "id.resp_p": 443,
        "proto": "tcp",
        "conn_state": "SF",
    }
    data = (
        (
            json.dumps(ok)
            + "\n\n{not json\n"
            + json.dumps({**ok, "uid": "C2", "orig_bytes": "lots"})
            + "\n"
            + json.dumps({k: v for k, v in ok.items() if k != "uid"})
            + "\n[1, 2]\n"
        ).encode()
        + b'{"ts": 1, "uid": "\xff"}\n'
        + json.dumps({**ok, "uid": "C3"}).encode()
        + b"\n"
    )
    path = tmp_path / "conn.json"
    path.write_bytes(data)
    with Store() as store:
        (f,) = store.ingest([path]).files
    assert f.added == 2
    assert [(r.line, r.error) for r in f.rejects] == [
        (3, "not a JSON object"),
        (4, "field orig_bytes is not a number"),
        (5, "field uid is missing"),
        (6, "not a JSON object"),
        (7, "not UTF-8 text"),
    ]


def test_flow_csv_with_nfdump_names_and_iso_times(tmp_path: Path) -> None:
    path = write(
        tmp_path / "flows.csv",
        "ts,sa,da,sp,dp,pr,ibyt,obyt,td\n"
        "2026-01-01 00:00:00,10.0.0.1,93.1.1.1,5000,443,TCP,1200,30000,2.5\n"
        "2026-01-01 00:00:01,10.0.0.2,93.1.1.2,5001,notaport,TCP,1,1,1\n"
        '2026-01-01T00:00:02Z,10.0.0.3,"93.1.1.3",5002,53,UDP,60,120,0.1\n',
    )
    with Store() as store:
        (f,) = store.ingest([path]).files
        got = rows(store)
    assert (f.added, f.rejected, [r.line for r in f.rejects]) == (2, 1, [3])
    assert got[0][1:6] == ("10.0.0.1", "93.1.1.1", 443, 1200, 30000)
    assert got[1][2] == "93.1.1.3"


def test_a_csv_read_whole_then_appended_numbers_its_rejects_by_the_files_lines(
    tmp_path: Path,
) -> None:
    # The first read is DuckDB's over the whole file, which leaves the lines uncounted; the
    # append counts them then, header line included.
    path = write(
        tmp_path / "flows.csv",
        "ts,sa,da,sp,dp,pr,ibyt,obyt,td\n"
        "2026-01-01 00:00:00,10.0.0.1,93.1.1.1,5000,443,TCP,1200,30000,2.5\n"
        "2026-01-01 00:00:01,10.0.0.2,93.1.1.2,5001,443,TCP,1,1,1\n",
    )
    store_file = tmp_path / "store.duckdb"
    with Store(store_file) as store:
        assert store.ingest([path]).added == 2
    with path.open("a") as f:
        f.write("2026-01-01 00:00:02,10.0.0.3,93.1.1.3,5002,notaport,TCP,1,1,1\n")
        f.write("2026-01-01 00:00:03,10.0.0.4,93.1.1.4,5003,443,TCP,1,1,1\n")
    with Store(store_file) as store:
        (f1,) = store.ingest([path]).files
        assert (f1.status, f1.added, [r.line for r in f1.rejects]) == ("appended", 1, [4])
    with path.open("a") as f:
        f.write("2026-01-01 00:00:04,10.0.0.5,93.1.1.5,5004,nope,TCP,1,1,1\n")
    with Store(store_file) as store:  # the count was kept: the next append goes on from it
        (f2,) = store.ingest([path]).files
        assert [r.line for r in f2.rejects] == [6]


def test_unknown_formats_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path / "dns.log", zeek_header("dns", ["ts", "uid", "query"]) + "1\tC1\tx\n")
    write(tmp_path / "notes.txt", "hello\nworld\n")
    conn_log(tmp_path / "conn.log", [conn_line(T0, "C1", "10.0.0.1", "93.1.1.1")])
    with Store() as store:
        report = store.ingest([tmp_path])
    assert report.added == 1
    assert sorted(Path(f.path).name for f in report.failed) == ["dns.log", "notes.txt"]
    assert all(f.message for f in report.failed)
    with pytest.raises(ConfigError, match="monitor reads conn.log and ssl.log"):
        sniff((tmp_path / "dns.log").read_bytes(), "dns.log")
    assert sniff(b'{"v":1,"conn_id":"ab","decision":"allow"}\n', "a").fmt is Format.ZEROTLS


def test_ingest_is_incremental_and_idempotent(tmp_path: Path) -> None:
    path = conn_log(
        tmp_path / "conn.log",
        [conn_line(T0 + i, f"C{i}", "10.0.0.1", "93.1.1.1") for i in range(3)],
    )
    text = path.read_text()
    path.write_text(text.replace("#close\t2026-01-01-01-00-00\n", ""))
    store_file = tmp_path / "store.duckdb"
    with Store(store_file) as store:
        assert store.ingest([path]).added == 3
        again = store.ingest([path])
        assert (again.added, again.files[0].status) == (0, "unchanged")
        # Append one whole line and half of another (a writer mid-line).
        with path.open("a") as f:
            f.write(conn_line(T0 + 3, "C3", "10.0.0.1", "93.1.1.1"))
            partial = conn_line(T0 + 4, "C4", "10.0.0.1", "93.1.1.1")
            f.write(partial[:20])
        r = store.ingest([path])
        assert (r.added, r.files[0].status) == (1, "appended")
        with path.open("a") as f:
            f.write(partial[20:] + "garbage\n")
        r = store.ingest([path])
        assert (r.added, r.rejected) == (1, 1)
        assert r.files[0].rejects[0].line == 8 + 6  # line numbers continue across appends
    with Store(store_file) as store:  # state survives reopening
        assert store.ingest([path]).added == 0
        assert store.count() == 5


def test_rotation_truncation_and_copies_add_nothing_twice(tmp_path: Path) -> None:
    path = conn_log(
        tmp_path / "conn.log",
        [conn_line(T0 + i, f"A{i}", "10.0.0.1", "93.1.1.1") for i in range(4)],
    )
    with Store() as store:
        store.ingest([path])
        # logrotate: rename, then a new file under the old name.
        os.rename(path, tmp_path / "conn.log.1")
        conn_log(path, [conn_line(T0 + 10 + i, f"B{i}", "10.0.0.1", "93.1.1.1") for i in range(2)])
        r = store.ingest([tmp_path / "conn.log.1", path])
        status = {Path(f.path).name: (f.status, f.added, f.duplicates) for f in r.files}
        assert status == {"conn.log.1": ("new", 0, 4), "conn.log": ("rotated", 2, 0)}
        # copytruncate: same inode, shorter content.
        conn_log(path, [conn_line(T0 + 20, "C0", "10.0.0.1", "93.1.1.1")])
        r = store.ingest([path])
        assert (r.files[0].status, r.added) == ("rotated", 1)
        assert store.count() == 7


def test_parquet_export_and_import_round_trip(tmp_path: Path) -> None:
    path = conn_log(
        tmp_path / "conn.log",
        [conn_line(T0 + i * 60000, f"C{i}", "10.0.0.1", "93.1.1.1") for i in range(4)],
    )
    out = tmp_path / "parquet"
    with Store() as store:
        store.ingest([path])
        assert store.export_parquet(out) == 4
        original = rows(store)
    days = sorted(p.name for p in out.iterdir())
    assert days == ["day=2026-01-01", "day=2026-01-02", "day=2026-01-03"]
    with Store() as other:
        r = other.ingest([out])
        assert (r.added, r.failed) == (4, ())
        assert rows(other) == original
        assert other.ingest([out]).added == 0


def test_store_lock_and_missing_dependency_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"install zerotls\[monitor\]"):
        require("zerotls_no_such_module")
    bogus = write(tmp_path / "not-a-store.duckdb", "hello, this is not a database file" * 100)
    with pytest.raises(ConfigError, match="not a monitor store"):
        Store(bogus)


def test_duplicates_inside_a_file_and_across_overlapping_files(tmp_path: Path) -> None:
    a = conn_log(
        tmp_path / "a.log",
        [conn_line(T0 + i, f"C{i}", "10.0.0.1", "93.1.1.1") for i in (0, 1, 1, 2)],
    )
    b = conn_log(
        tmp_path / "b.log",
        [conn_line(T0 + i, f"C{i}", "10.0.0.1", "93.1.1.1") for i in (2, 3, 1, 4)],
    )
    with Store() as store:
        (fa,) = store.ingest([a]).files
        (fb,) = store.ingest([b]).files
        uids = [r[0] for r in rows(store)]
    assert (fa.added, fa.duplicates, fb.added, fb.duplicates) == (3, 1, 2, 2)
    assert uids == [f"zeek:C{i}" for i in range(5)]
