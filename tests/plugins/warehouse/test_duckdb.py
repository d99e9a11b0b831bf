"""The DuckDB warehouse adapter and the source snapshot loader, on a real DuckDB file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.duckdb import DuckDBWarehouse, quote_table
from learnrec.warehouse.sources import SourceSnapshotError, load_source_snapshots
from learnrec.world.config import preset
from learnrec.world.generate import generate_world


def test_load_modes_and_transactions(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        assert wh.load_arrow("raw.t", pa.table({"a": [1, 2]})) == 2
        wh.load_arrow("raw.t", pa.table({"a": [3]}))
        assert wh.scalar("SELECT sum(a) FROM raw.t") == 6
        wh.load_arrow("raw.t", pa.table({"a": [10]}), mode="replace")
        assert wh.scalar("SELECT sum(a) FROM raw.t") == 10
        with pytest.raises(RuntimeError), wh.transaction():
            wh.execute("INSERT INTO raw.t VALUES (5)")
            raise RuntimeError("boom")
        assert wh.scalar("SELECT count(*) FROM raw.t") == 1
        assert wh.table_exists("raw.t") and not wh.table_exists("raw.nope")
        # a pending result never blocks the next statement
        wh.query("SELECT * FROM raw.t")
        wh.execute("CREATE TABLE ops.x AS SELECT 1 AS one")
        assert wh.scalar("SELECT one FROM ops.x") == 1


@pytest.mark.parametrize("bad", ["t", "raw.t; DROP TABLE x", "a.b.c", 'raw."t"'])
def test_table_names_are_checked(bad: str) -> None:
    with pytest.raises(ValueError):
        quote_table(bad)


def test_source_snapshots_load_and_bad_snapshots_are_refused(settings) -> None:
    generate_world(preset("tiny", date(2026, 10, 31)), settings)
    with connect_warehouse(settings) as wh:
        counts = load_source_snapshots(wh, settings.landing_path)
        assert counts["learners"] == 60 and counts["skills"] >= 100
        assert wh.scalar("SELECT count(*) FROM raw.courses") == counts["courses"]
        # a snapshot missing a required column is refused before anything is replaced
        learners = settings.landing_path / "sources" / "learners.parquet"
        pq.write_table(pq.read_table(learners).drop_columns(["data_tier"]), learners)
        with pytest.raises(SourceSnapshotError, match="data_tier"):
            load_source_snapshots(wh, settings.landing_path)
        assert wh.scalar("SELECT count(*) FROM raw.learners") == 60
