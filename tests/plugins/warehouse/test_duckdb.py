"""DuckDB-only behaviour (name checks, source snapshots); the interface contract is in test_contract.py."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.duckdb import quote_table
from learnrec.warehouse.sources import SourceSnapshotError, load_source_snapshots
from learnrec.world.config import preset
from learnrec.world.generate import generate_world


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
