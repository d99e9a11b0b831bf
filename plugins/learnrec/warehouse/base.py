"""The warehouse interface every stage writes through, and the factory that picks the backend.

Kept deliberately small: SQL in, Arrow out, bulk Arrow loads, and transactions. Anything
dialect-specific lives in the adapter (or in dbt's dispatch macros), never in the callers.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import pyarrow as pa

from learnrec.settings import Settings

LoadMode = Literal["append", "replace"]
#: Rows per ``load_arrow`` call when the fallback ``load_parquet`` streams Parquet files.
PARQUET_BATCH_ROWS = 250_000
#: Schemas of the warehouse layout (DESIGN.md): created on first connect.
SCHEMAS = ("raw", "features", "recs", "ops")


class Warehouse(abc.ABC):
    """A connection to the warehouse. Use as a context manager; not thread-safe."""

    dialect: str

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement."""

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a query and return its result as an Arrow table."""

    @abc.abstractmethod
    def load_arrow(self, table: str, data: pa.Table, mode: LoadMode = "append") -> int:
        """Bulk-load ``data`` into ``schema.table`` (created from the Arrow schema if missing).

        ``replace`` swaps the table's content in one transaction. Returns the rows written.
        """

    def load_parquet(self, table: str, files: Sequence[str], mode: LoadMode = "append") -> int:
        """Bulk-load Parquet files (paths or URIs) into ``schema.table``, as :meth:`load_arrow` does.

        This fallback streams the files through :meth:`load_arrow` in batches of
        ``PARQUET_BATCH_ROWS`` (bounded memory) inside one transaction (Snowflake: a stage and a
        ``COPY`` per batch); adapters whose engine reads Parquet itself override it (DuckDB).
        """
        import pyarrow.dataset as ds

        dataset = ds.dataset(list(files), format="parquet")
        rows = 0
        with self.transaction():
            for batch in dataset.to_batches(batch_size=PARQUET_BATCH_ROWS):
                rows += self.load_arrow(
                    table, pa.Table.from_batches([batch]), mode if rows == 0 else "append"
                )
            if rows == 0:
                self.load_arrow(table, dataset.schema.empty_table(), mode)
        return rows

    def stage_arrow(self, table: str, data: pa.Table) -> str:
        """Make ``data`` readable by this connection's SQL; returns the relation to read it from.

        For a batch's working copy that later statements join or insert from. By default it is
        loaded into ``table`` (replacing it); an engine that can read Arrow in place overrides
        this and copies nothing (DuckDB). The relation lives until the next stage of ``table``.
        """
        self.load_arrow(table, data, mode="replace")
        return table

    @abc.abstractmethod
    def table_exists(self, table: str) -> bool:
        """Whether ``schema.table`` exists."""

    @abc.abstractmethod
    def begin(self) -> None: ...

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    _depth: int = 0

    @contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """All statements inside commit together or not at all.

        Nested use joins the outermost transaction (so an adapter's ``load_arrow`` can run inside a
        caller's transaction). Snowflake commits implicitly on DDL: callers create tables before
        they open a transaction and keep only DML inside it.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.begin()
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self.rollback()
            raise
        self._depth = 0
        self.commit()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        result = self.query(sql, params)
        return result.column(0)[0].as_py() if result.num_rows else None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_warehouse(settings: Settings, *, read_only: bool = False) -> Warehouse:
    """Open the configured warehouse (``LEARNREC_WAREHOUSE``) with the layout's schemas present."""
    if settings.warehouse == "duckdb":
        from learnrec.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(settings.warehouse_path, read_only=read_only)
    from learnrec.warehouse.snowflake import SnowflakeWarehouse

    return SnowflakeWarehouse.from_settings(settings)
