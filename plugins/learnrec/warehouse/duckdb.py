"""DuckDB warehouse: the embedded default, one file under ``LEARNREC_HOME``.

DuckDB allows one writing process per file; Airflow's ``dags test`` and the CLI run tasks
in-process one after another, which is what the embedded default is for. Production uses
Snowflake.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from learnrec.warehouse.base import SCHEMAS, LoadMode, Warehouse

#: DuckDB's row group size. Appended Arrow chunks of other sizes leave partly filled row groups,
#: which the next checkpoint merges: 2 s for 1M ingested events, against 0.1 s when full.
ROW_GROUP_ROWS = 122_880


def quote_table(table: str) -> str:
    """``schema.table`` with each part quoted; rejects anything else."""
    parts = table.split(".")
    if len(parts) != 2 or not all(part.replace("_", "").isalnum() for part in parts):
        raise ValueError(f"expected schema.table of letters, digits and underscores, got {table!r}")
    return ".".join(f'"{part}"' for part in parts)


def _row_group_chunks(data: pa.Table) -> pa.Table:
    """``data`` in chunks of whole row groups (copied only when its chunks are not)."""
    sizes = [batch.num_rows for batch in data.to_batches()]
    if all(size % ROW_GROUP_ROWS == 0 for size in sizes[:-1]):
        return data
    return pa.Table.from_batches(
        [
            batch
            for start in range(0, data.num_rows, ROW_GROUP_ROWS)
            for batch in data.slice(start, ROW_GROUP_ROWS).combine_chunks().to_batches()
        ],
        schema=data.schema,
    )


class DuckDBWarehouse(Warehouse):
    dialect = "duckdb"

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.con = duckdb.connect(str(path), read_only=read_only)
        self.con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            for schema in SCHEMAS:
                self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        # drain the result: DuckDB 2 refuses new work while a result is unfinished
        self.con.execute(sql, params).fetchall()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        relation = self.con.sql(sql, params=params)
        return relation.to_arrow_table() if relation is not None else pa.table({})

    def load_arrow(self, table: str, data: pa.Table, mode: LoadMode = "append") -> int:
        self.con.register("_learnrec_load", _row_group_chunks(data))
        try:
            self._write(table, "_learnrec_load", mode)
        finally:
            self.con.unregister("_learnrec_load")
        return data.num_rows

    def stage_arrow(self, table: str, data: pa.Table) -> str:
        """A view over the Arrow table itself: no copy into the database file."""
        name = "_learnrec_stage_" + quote_table(table).replace('"', "").replace(".", "_")
        self.con.register(name, data)
        return name

    def load_parquet(self, table: str, files: Sequence[str], mode: LoadMode = "append") -> int:
        """DuckDB reads the files itself (``read_parquet``), in parallel, without an Arrow copy."""
        import pyarrow.parquet as pq

        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        # the columns are the files' own: no hive partition columns from the path (run_date=...)
        self._write(table, f"read_parquet([{listed}], hive_partitioning = false)", mode)
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)

    def _write(self, table: str, source: str, mode: LoadMode) -> None:
        """Every row of ``source`` (a relation or table function) into ``table``, in one transaction."""
        name = quote_table(table)
        with self.transaction():
            if mode == "replace":
                self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {source}")
            elif not self.table_exists(table):
                self.con.execute(f"CREATE TABLE {name} AS SELECT * FROM {source}")
            else:
                self.con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {source}")

    def table_exists(self, table: str) -> bool:
        schema, name = table.split(".")
        found = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
        return bool(found[0][0])

    def begin(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self.con.execute("COMMIT")

    def rollback(self) -> None:
        self.con.execute("ROLLBACK")

    def close(self) -> None:
        self.con.close()
