"""Search a whole embedded state folder and a warehouse catalog for a learner's identifiers.

The erasure tests judge the eraser with this, so it shares nothing with it: files are opened by
format (Parquet columns, SQLite tables, ``.npz`` arrays, text) and every warehouse table is
found through ``information_schema``, not through the eraser's own lists.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from learnrec.warehouse import Warehouse

#: Files no store of the platform writes: the DuckDB file itself is searched table by table
#: (its free blocks are not data), Spark's checksum files hold only CRCs.
SKIPPED_SUFFIXES = (".duckdb", ".duckdb.wal", ".crc")


def _hits_in_text(text: str, needles: Iterable[str]) -> set[str]:
    return {n for n in needles if n in text}


def _parquet_text(path: Path) -> str:
    table = pq.read_table(path)
    return "\n".join(str(column.to_pylist()) for column in table.columns)


def _sqlite_text(path: Path) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        parts = []
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            parts.extend(str(row) for row in con.execute(f'SELECT * FROM "{name}"'))
        return "\n".join(parts)
    finally:
        con.close()


def _npz_text(path: Path) -> str:
    with np.load(path, allow_pickle=False) as arrays:
        return "\n".join(str(arrays[name].tolist()) for name in arrays.files)


def file_hits(path: Path, needles: set[str]) -> set[str]:
    """Identifiers found in one file, read as its format."""
    data = path.read_bytes()
    if data.startswith(b"PAR1"):
        text = _parquet_text(path)
    elif data.startswith(b"SQLite format 3"):
        text = _sqlite_text(path)
    elif path.suffix == ".npz" and zipfile.is_zipfile(io.BytesIO(data)):
        text = _npz_text(path)
    else:
        text = data.decode("utf-8", errors="replace")
    return _hits_in_text(text, needles)


def scan_files(root: Path, needles: set[str], skip: Iterable[Path] = ()) -> dict[str, set[str]]:
    """Every file below ``root`` (``skip``: folders left out) that names one of ``needles``."""
    skipped = [p.resolve() for p in skip]
    hits = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.endswith(SKIPPED_SUFFIXES):
            continue
        if any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        found = file_hits(path, needles)
        if found:
            hits[str(path.relative_to(root))] = found
    return hits


def warehouse_tables(warehouse: Warehouse) -> list[str]:
    """Every base table of the warehouse, from its catalog."""
    rows = warehouse.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND lower(table_schema) NOT IN ('information_schema', 'pg_catalog')"
    ).to_pylist()
    return sorted(f"{r['table_schema']}.{r['table_name']}".lower() for r in rows)


def scan_warehouse(warehouse: Warehouse, needles: set[str]) -> dict[str, set[str]]:
    """Every warehouse table (catalog-listed) with a row whose text names one of ``needles``."""
    hits = {}
    for table in warehouse_tables(warehouse):
        text = "\n".join(
            str(column.to_pylist()) for column in warehouse.query(f"SELECT * FROM {table}").columns
        )
        found = _hits_in_text(text, needles)
        if found:
            hits[table] = found
    return hits


def rows_without(warehouse: Warehouse, needles: set[str], skip: Iterable[str] = ()) -> dict[str, int]:
    """Rows per catalog table that name none of ``needles``: what an erasure must leave alone."""
    counts = {}
    for table in warehouse_tables(warehouse):
        if table in skip:
            continue
        rows = warehouse.query(f"SELECT * FROM {table}").to_pylist()
        counts[table] = sum(1 for row in rows if not _hits_in_text(str(row), needles))
    return counts


def identifiers(warehouse: Warehouse, learner_id: str) -> set[str]:
    """The learner's id, e-mail and push token (from raw.learners)."""
    row = warehouse.query(
        "SELECT email, push_token FROM raw.learners WHERE learner_id = ?", [learner_id]
    ).to_pylist()[0]
    return {learner_id} | {v for v in row.values() if v}
