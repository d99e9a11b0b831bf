"""Landing files into Snowflake: the same ingestion code and the same world as test_files.py, with
the warehouse set to Snowflake (the real connector against the shared fakesnow server, one database
per test). Where fakesnow differs from Snowflake is listed in README ("Snowflake")."""

from __future__ import annotations

from typing import Any

import pytest

from learnrec.contracts.events import raw_event_schema
from learnrec.ingest import run_ingest
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.snowflake import SnowflakeWarehouse
from tests.plugins.conftest import on_snowflake
from tests.plugins.ingest import test_kafka
from tests.plugins.ingest.conftest import NOW, Expected, assert_landed_exactly, crash_at, landed_state
from tests.plugins.ingest.test_files import lake_events
from tests.plugins.world.conftest import World

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("loaded_sources")]

# the Kafka mock broker and the world produced to it, as in test_kafka.py (on the settings below)
bootstrap = test_kafka.bootstrap
kafka_settings = test_kafka.kafka_settings


@pytest.fixture
def settings(world: World, fakesnow_server: dict[str, Any], snowflake_database: str) -> Settings:
    """The world's settings with the warehouse on Snowflake (lake and landing stay local)."""
    return on_snowflake(world.settings, fakesnow_server, snowflake_database)


def ingest(settings: Settings, **kwargs: Any):
    return run_ingest(settings, now=lambda: NOW, **kwargs)


def test_every_line_is_loaded_quarantined_or_a_duplicate_and_metadata_is_a_variant(
    world: World, settings: Settings, expected: Expected
) -> None:
    report = ingest(settings)
    with connect_warehouse(settings) as warehouse:
        assert isinstance(warehouse, SnowflakeWarehouse)
        events = assert_landed_exactly(report, warehouse, world, expected)
        # the same columns and Arrow types as on DuckDB (metadata: JSON text)
        assert {f.name: f.type for f in events.schema} == {f.name: f.type for f in raw_event_schema()}
    assert sorted(lake_events(settings).column("event_id").to_pylist()) == sorted(expected.event_ids)
    assert not settings.warehouse_path.exists(), "nothing went to the embedded DuckDB warehouse"

    # metadata is a VARIANT: its paths agree with the typed columns
    with connect_warehouse(settings) as warehouse:
        types = warehouse.query(
            "SELECT lower(table_name) AS t, data_type FROM information_schema.columns "
            "WHERE table_schema = 'RAW' AND column_name = 'METADATA'"
        )
        # events are bulk-loaded (COPY parses the JSON into the VARIANT); the staging table holds
        # only the dedup keys, so no INSERT ... SELECT of a VARCHAR into a VARIANT (which would store
        # a JSON string, not the object) is involved
        assert dict(zip(*types.to_pydict().values(), strict=True)) == {"learner_events": "VARIANT"}
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


@pytest.mark.parametrize("step", ["in_transaction", "acknowledged"])
def test_a_crash_then_a_rerun_gives_no_duplicate_and_no_gap(
    settings: Settings, expected: Expected, step: str
) -> None:
    """Inside the transaction (rolled back on Snowflake as a whole), and after the commit but before
    the lake write (the rerun rewrites the lake files from what Snowflake returns)."""
    small = settings.model_copy(update={"ingest_batch_events": 300})
    crash = crash_at(step)

    with pytest.raises(RuntimeError, match="injected crash"):
        ingest(small, fault=crash)
    with connect_warehouse(settings) as warehouse:
        committed = 1 if step == "in_transaction" else 2  # the second batch: rolled back, or in
        assert warehouse.scalar("SELECT count(*) FROM raw.ingest_batches") == committed
        assert warehouse.scalar("SELECT count(DISTINCT batch_id) FROM raw.learner_events") == committed
    report = ingest(small)
    assert len(report.recovered_lake_batches) == (step == "acknowledged")

    with connect_warehouse(settings) as warehouse:
        state = landed_state(warehouse)
        assert warehouse.scalar("SELECT count(*) FROM raw.ingest_batches WHERE NOT lake_written") == 0
    assert state["events"] == sorted(expected.event_ids)
    assert len(state["quarantine"]) == expected.rejected == len(set(state["quarantine"]))
    lake = lake_events(settings)
    assert sorted(lake.column("event_id").to_pylist()) == sorted(expected.event_ids)
    assert lake.schema.names == raw_event_schema().names


def test_kafka_offsets_roll_back_with_the_data_in_snowflake(
    kafka_settings: Settings, expected: Expected, bootstrap: str
) -> None:
    """Offsets are stored in Snowflake in the batch's transaction: a crash inside it loses both."""
    few_batches = kafka_settings.model_copy(update={"ingest_batch_events": 600})
    crash = crash_at("in_transaction")

    with pytest.raises(RuntimeError, match="injected crash"):
        ingest(few_batches, fault=crash)
    with connect_warehouse(few_batches) as warehouse:
        assert warehouse.scalar("SELECT count(DISTINCT batch_id) FROM raw.kafka_offsets") == 1
    ingest(few_batches)

    highs = test_kafka.high_watermarks(bootstrap)
    with connect_warehouse(few_batches) as warehouse:
        assert isinstance(warehouse, SnowflakeWarehouse)
        state = landed_state(warehouse)
        stored = warehouse.query(
            "SELECT kafka_partition, max(next_offset) AS n FROM raw.kafka_offsets GROUP BY 1"
        ).to_pylist()
    assert state["events"] == sorted(expected.event_ids)
    assert len(state["quarantine"]) == expected.rejected == len(set(state["quarantine"]))
    assert {r["kafka_partition"]: r["n"] for r in stored} == {p: h for p, h in highs.items() if h}
