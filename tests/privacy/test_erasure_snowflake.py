"""Erasure with the warehouse on Snowflake (the real connector against the fakesnow server): a
generated world landed through ingestion, one learner erased by request and one by retention
expiry in the same run; the catalog scan and the state-folder scan find neither, the others'
rows are untouched, and their later events are quarantined as ``erased_learner``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from exports.privacy.eraser import run_erasure
from exports.privacy.requests import ensure_tables, record_requests
from learnrec.ingest import run_ingest
from learnrec.settings import Settings
from learnrec.tables import ERASURE_REQUESTS
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots
from tests.plugins.conftest import fakesnow_server, on_snowflake, snowflake_database  # noqa: F401  (fixtures)
from tests.plugins.world.conftest import make_world
from tests.privacy.scan import identifiers, rows_without, scan_files, scan_warehouse
from tests.privacy.test_erasure_demo import BOOKKEEPING

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = datetime(2026, 11, 2, 6, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path, fakesnow_server, snowflake_database) -> Settings:  # noqa: F811
    world = make_world(tmp_path / "home", n_learners=40, n_courses=30, days=3, bad_share=0.03)
    return on_snowflake(world.settings, fakesnow_server, snowflake_database)


def _land(settings: Settings, name: str, lines: list[dict[str, Any]]) -> None:
    path = settings.landing_path / "learner_events" / "date=2026-11-01" / "hour=23" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _event(learner: str, **changes: Any) -> dict[str, Any]:
    return {"learner_id": learner, "event_type": "click", "course_id": "C00001",
            "timestamp": "2026-11-01T23:30:00Z", "metadata": {}, **changes}  # fmt: skip


def test_erasure_and_retention_on_snowflake(settings: Settings) -> None:
    with connect_warehouse(settings) as wh:
        load_source_snapshots(wh, settings.landing_path)
        learners = (
            wh.query(
                "SELECT learner_id FROM raw.learners WHERE retention_expiry > ? ORDER BY learner_id", [NOW]
            )
            .column(0)
            .to_pylist()
        )
    requested, expiring = learners[0], learners[1]
    # a quarantined payload that names the learner (quiz score out of range)
    _land(settings, "bad.jsonl", [_event(requested, event_type="quiz_score", metadata={"quiz_score": 500})])
    run_ingest(settings, now=lambda: NOW)

    with connect_warehouse(settings) as wh:
        assert (
            wh.scalar("SELECT count(*) FROM raw.quarantined_events WHERE payload LIKE ?", [f"%{requested}%"])
            == 1
        )
        needles = identifiers(wh, requested) | identifiers(wh, expiring)
        assert scan_warehouse(wh, needles), "the world names both learners before"
        kept = rows_without(wh, needles, skip=BOOKKEEPING)
        wh.execute(
            "UPDATE raw.learners SET retention_expiry = ? WHERE learner_id = ?",
            [NOW - timedelta(days=1), expiring],
        )
        ensure_tables(wh)
        record_requests(wh, settings, [requested], kind="request", source="test", reason=None, now=NOW)

    report = run_erasure(settings, now=NOW)
    assert (report.expired, report.erased) == (1, 2)
    assert scan_files(settings.home, needles) == {}
    with connect_warehouse(settings) as wh:
        assert scan_warehouse(wh, needles) == {}
        assert rows_without(wh, needles, skip=BOOKKEEPING) == kept
        done = wh.query(f"SELECT kind, removed FROM {ERASURE_REQUESTS} ORDER BY kind").to_pylist()
    assert [d["kind"] for d in done] == ["request", "retention"]
    assert all(json.loads(d["removed"])["warehouse"] > 0 for d in done)

    # their later events are quarantined, not landed again
    _land(settings, "later.jsonl", [_event(requested), _event(expiring, event_type="search")])
    later = run_ingest(settings, now=lambda: NOW + timedelta(hours=1))
    assert later.batches[-1].reasons == {"erased_learner": 2}
    with connect_warehouse(settings) as wh:
        assert scan_warehouse(wh, needles) == {}
