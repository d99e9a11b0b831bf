"""Later events of an erased learner are quarantined as ``erased_learner``, never landed again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from learnrec.contracts.sources import SOURCE_TABLES
from learnrec.ingest.payloads import lines_table
from learnrec.ingest.validate import validate_payloads
from learnrec.privacy import ErasedLearners, learner_hash, learner_hash_sql
from learnrec.warehouse.duckdb import DuckDBWarehouse
from learnrec.warehouse.sources import load_source_snapshots
from tests.plugins.world.conftest import make_world

NOW = datetime(2026, 11, 2, tzinfo=UTC)
KEY = "test-key"


def _event(learner: str) -> str:
    return json.dumps(
        {"learner_id": learner, "event_type": "click", "course_id": "C1", "timestamp": "2026-11-01T18:04:11Z",
         "metadata": {}},
        separators=(",", ":"),
    )  # fmt: skip


def test_the_sql_hash_is_the_python_hash() -> None:
    sql = f"SELECT {learner_hash_sql('hash_key', 'id')} FROM (SELECT 'L0000042' AS id)"
    with duckdb.connect() as con:
        assert con.execute(sql, {"hash_key": KEY}).fetchone()[0] == learner_hash(KEY, "L0000042")


def test_erased_learners_events_are_quarantined_with_their_id_hashed() -> None:
    lines = [_event("L1"), _event("L2"), _event("L3")]
    table = lines_table("\n".join(lines).encode() + b"\n", source="files", source_uri="t", arrived_at=NOW)
    erased = ErasedLearners(pa.array([learner_hash(KEY, "L2")]), KEY)
    # L2 erased: its own reason, ahead of the unknown-learner check (erased learners leave the snapshot)
    verdict = validate_payloads(table, pa.array(["L1"]), pa.array(["C1"]), NOW, erased)
    assert verdict.events.column("learner_id").to_pylist() == ["L1"]
    rows = verdict.quarantined.to_pylist()
    assert [r["reason"] for r in rows] == ["erased_learner", "unknown_learner"]
    assert "L2" not in rows[0]["payload"] + rows[0]["reason_detail"]
    assert learner_hash(KEY, "L2") in rows[0]["payload"]
    assert rows[1]["payload"] == lines[2], "other quarantined payloads stay verbatim"


def test_a_source_snapshot_does_not_bring_an_erased_learner_back(tmp_path: Path) -> None:
    world = make_world(tmp_path / "home", n_learners=30, n_courses=20, days=2)
    erased = ErasedLearners(pa.array([learner_hash(KEY, "L0000001")]), KEY)
    with DuckDBWarehouse(tmp_path / "wh.duckdb") as wh:
        loaded = load_source_snapshots(wh, world.settings.landing_path, erased)
        assert wh.scalar("SELECT count(*) FROM raw.learners WHERE learner_id = 'L0000001'") == 0
        assert loaded["learners"] == world.summary.learners - 1
        assert set(loaded) == set(SOURCE_TABLES)
