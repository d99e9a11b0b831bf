"""Landing files into Snowflake: the same ingestion code and the same world as test_files.py, with
the warehouse set to Snowflake (the real connector against the shared fakesnow server, one database
per test). Where fakesnow differs from Snowflake is listed in README ("Snowflake")."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from learnrec.contracts.events import raw_event_schema
from learnrec.ingest import run_ingest
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.snowflake import SnowflakeWarehouse
from tests.plugins.ingest.conftest import NOW, Expected, landed_state
from tests.plugins.world.conftest import World

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("loaded_sources")]


@pytest.fixture
def settings(world: World, fakesnow_server: dict[str, Any], snowflake_database: str) -> Settings:
    """The world's settings with the warehouse on Snowflake (lake and landing stay local)."""
    return world.settings.model_copy(
        update={
            "warehouse": "snowflake",
            "snowflake_account": fakesnow_server["account"],
            "snowflake_user": fakesnow_server["user"],
            "snowflake_password": SecretStr(fakesnow_server["password"]),
            "snowflake_database": snowflake_database,
            "snowflake_host": fakesnow_server["host"],
            "snowflake_port": fakesnow_server["port"],
            "snowflake_protocol": fakesnow_server["protocol"],
        }
    )


def ingest(settings: Settings, **kwargs: Any):
    return run_ingest(settings, now=lambda: NOW, **kwargs)


def test_every_line_is_loaded_quarantined_or_a_duplicate(settings: Settings, expected: Expected) -> None:
    report = ingest(settings)

    assert report.total("consumed") == expected.lines
    assert report.total("loaded") == len(expected.event_ids)
    assert report.total("quarantined") == expected.rejected
    assert report.total("loaded") + report.total("quarantined") + report.total("duplicates") == expected.lines
    with connect_warehouse(settings) as warehouse:
        assert isinstance(warehouse, SnowflakeWarehouse)
        events = warehouse.query("SELECT * FROM raw.learner_events")
        assert set(events.column("event_id").to_pylist()) == expected.event_ids
        assert events.num_rows == len(expected.event_ids), "no event twice"
        # the same columns and Arrow types as on DuckDB (metadata: JSON text)
        assert {f.name: f.type for f in events.schema} == {f.name: f.type for f in raw_event_schema()}
        batches = warehouse.query("SELECT * FROM raw.ingest_batches").to_pylist()
        assert sum(b["consumed"] for b in batches) == expected.lines
        assert all(b["loaded"] + b["quarantined"] + b["duplicates"] == b["consumed"] for b in batches)
        assert all(b["lake_written"] for b in batches)
        late = warehouse.query("SELECT event_date, sum(late_events) AS n FROM raw.reprocess_dates GROUP BY 1")
        assert {r["event_date"]: r["n"] for r in late.to_pylist()} == dict(expected.late_by_date)
        assert warehouse.scalar("SELECT count(*) FROM raw.quarantined_events") == expected.rejected


def test_metadata_is_a_variant_with_paths(settings: Settings, expected: Expected) -> None:
    ingest(settings)
    with connect_warehouse(settings) as warehouse:
        types = warehouse.query(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = 'RAW' AND table_name = 'LEARNER_EVENTS' AND column_name = 'METADATA'"
        )
        assert types.column(0).to_pylist() == ["VARIANT"]
        watches = warehouse.query(
            "SELECT module_id, metadata:module_id::VARCHAR AS path_module, "
            "watch_duration_seconds, metadata:watch_duration_seconds::INT AS path_watch "
            "FROM raw.learner_events WHERE event_type = 'watch'"
        ).to_pylist()
        quizzes = warehouse.query(
            "SELECT quiz_score, metadata:quiz_score::FLOAT AS path_score "
            "FROM raw.learner_events WHERE event_type = 'quiz_score'"
        ).to_pylist()
    assert watches and quizzes
    assert all(r["path_module"] == r["module_id"] and r["path_module"] for r in watches)
    assert all(r["path_watch"] == r["watch_duration_seconds"] for r in watches)
    assert all(r["path_score"] == pytest.approx(r["quiz_score"]) for r in quizzes)


def test_a_rerun_lands_nothing_new(settings: Settings, expected: Expected) -> None:
    ingest(settings)
    with connect_warehouse(settings) as warehouse:
        before = landed_state(warehouse)
    assert ingest(settings).batches == []
    with connect_warehouse(settings) as warehouse:
        assert landed_state(warehouse) == before


def test_a_crash_inside_the_transaction_then_a_rerun_gives_no_duplicate_and_no_gap(
    settings: Settings, expected: Expected
) -> None:
    small = settings.model_copy(update={"ingest_batch_events": 300})
    calls = {"n": 0}

    def crash(name: str) -> None:
        if name == "in_transaction":
            calls["n"] += 1
            if calls["n"] == 2:  # the second batch dies before its commit
                raise RuntimeError("injected crash in the transaction")

    with pytest.raises(RuntimeError, match="injected crash"):
        ingest(small, fault=crash)
    with connect_warehouse(settings) as warehouse:
        # only the first batch is in: the second rolled back as a whole
        assert warehouse.scalar("SELECT count(*) FROM raw.ingest_batches") == 1
        assert warehouse.scalar("SELECT count(DISTINCT batch_id) FROM raw.learner_events") == 1
    ingest(small)

    with connect_warehouse(settings) as warehouse:
        state = landed_state(warehouse)
        assert warehouse.scalar("SELECT count(*) FROM raw.ingest_batches WHERE NOT lake_written") == 0
    assert state["events"] == sorted(expected.event_ids)
    assert len(state["quarantine"]) == expected.rejected == len(set(state["quarantine"]))
