"""The monitor's own Parquet export (``zerotls monitor export``), read back as events."""

# ruff: noqa: S608
# SQL text here is built only from our own column names, type names and numbers we format;
# nothing read from a log file ever becomes SQL text (DuckDB's readers parse the files, and
# paths and values are passed as parameters).

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zerotls.errors import ConfigError
from zerotls.monitor.schema import EVENT_COLUMNS

if TYPE_CHECKING:
    import duckdb


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    names = {
        row[0]
        for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    }
    missing = [c.name for c in EVENT_COLUMNS if c.name not in names]
    if missing:
        raise ConfigError(
            f"{path}: a Parquet file without the event column(s) {', '.join(missing)}; the "
            "monitor imports only what `zerotls monitor export` writes"
        )
    casts = ", ".join(f"TRY_CAST({c.name} AS {c.sql_type}) AS {c.name}" for c in EVENT_COLUMNS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE zt_parquet AS SELECT file_row_number + 1 AS line_no, "
        f"{casts} FROM read_parquet(?, file_row_number=true)",
        [str(path)],
    )
    con.execute(
        "INSERT INTO staged_rejects SELECT line_no, 'row without uid or ts (row number given "
        "as the line)', NULL FROM zt_parquet WHERE uid IS NULL OR ts IS NULL"
    )
    cols = ", ".join(c.name for c in EVENT_COLUMNS)
    con.execute(
        f"INSERT INTO staged SELECT {cols} FROM zt_parquet WHERE uid IS NOT NULL AND ts IS NOT NULL"
    )
    con.execute("DROP TABLE zt_parquet")
