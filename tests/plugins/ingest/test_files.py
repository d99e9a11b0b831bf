"""Landing files into raw.learner_events and the lake: exactly once, nothing lost."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta

import pyarrow.dataset as ds
import pytest

from learnrec.contracts.events import raw_event_schema
from learnrec.ingest import IngestError, run_ingest
from learnrec.ingest.sources.files import FileSource
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from tests.plugins.ingest.conftest import NOW, Expected, assert_landed_exactly, crash_at, landed_state

pytestmark = pytest.mark.usefixtures("loaded_sources")


def ingest(settings: Settings, **kwargs):
    return run_ingest(settings, now=lambda: NOW, **kwargs)


def lake_events(settings: Settings):
    # the files carry every column (event_date included): no partition discovery needed
    return ds.dataset(f"{settings.lake_root}/events", format="parquet").to_table()


def test_every_line_is_loaded_quarantined_or_a_duplicate(
    world, settings: Settings, expected: Expected
) -> None:
    report = ingest(settings)
    with connect_warehouse(settings) as warehouse:
        events = assert_landed_exactly(report, warehouse, world, expected)
    assert events.schema.names == raw_event_schema().names

    lake = lake_events(settings)
    assert sorted(lake.column("event_id").to_pylist()) == sorted(expected.event_ids)
    dates = {str(d) for d in lake.column("event_date").to_pylist()}
    assert dates == {str(d) for d in events.column("event_date").to_pylist()}, "late events in their own day"


def test_a_rerun_lands_nothing_new(settings: Settings, expected: Expected) -> None:
    ingest(settings)
    with connect_warehouse(settings) as warehouse:
        before = landed_state(warehouse)
    again = ingest(settings)
    assert again.batches == []
    with connect_warehouse(settings) as warehouse:
        assert landed_state(warehouse) == before


def test_files_still_being_written_wait_for_their_rename(settings: Settings, expected: Expected) -> None:
    files = sorted((settings.landing_path / "learner_events").rglob("*.jsonl"))
    held = files[len(files) // 2]
    partial = held.with_suffix(".tmp")
    held.rename(partial)
    ingest(settings)
    with connect_warehouse(settings) as warehouse:
        assert warehouse.scalar("SELECT count(*) FROM raw.ingest_files") == len(files) - 1
    partial.rename(held)
    ingest(settings)
    with connect_warehouse(settings) as warehouse:
        assert warehouse.scalar("SELECT count(*) FROM raw.ingest_files") == len(files)
        assert warehouse.scalar("SELECT count(DISTINCT event_id) FROM raw.learner_events") == len(
            expected.event_ids
        )
        assert warehouse.scalar("SELECT count(*) FROM raw.learner_events") == len(expected.event_ids)


def test_lines_appended_to_a_landed_file_land_once_with_their_line_numbers(
    settings: Settings, expected: Expected
) -> None:
    ingest(settings)
    grown = sorted((settings.landing_path / "learner_events").rglob("*.jsonl"))[0]
    lines = len(grown.read_bytes().splitlines())
    with connect_warehouse(settings) as warehouse:
        known = warehouse.query("SELECT learner_id, course_id FROM raw.learner_events LIMIT 1").to_pylist()[0]
    learner, course = known["learner_id"], known["course_id"]
    event = (
        f'{{"learner_id":"{learner}","event_type":"click","course_id":"{course}",'
        '"timestamp":"2026-10-31T12:34:56.789Z","metadata":{}}'
    )
    with grown.open("ab") as out:  # a producer that appends to a published file
        out.write(f"{event}\nnot json\n".encode())

    report = ingest(settings)
    assert (report.total("consumed"), report.total("loaded"), report.total("quarantined")) == (2, 1, 1)
    assert ingest(settings).batches == [], "the tail lands once"
    relative = grown.relative_to(settings.landing_path).as_posix()
    with connect_warehouse(settings) as warehouse:
        assert warehouse.scalar("SELECT count(*) FROM raw.learner_events") == len(expected.event_ids) + 1
        assert (
            warehouse.scalar(
                "SELECT source_offset FROM raw.learner_events WHERE source_uri = ? AND event_at = ?",
                [relative, "2026-10-31T12:34:56.789Z"],
            )
            == lines + 1
        )
        assert (
            warehouse.scalar("SELECT source_offset FROM raw.quarantined_events WHERE payload = 'not json'")
            == lines + 2
        )
    assert len(lake_events(settings)) == len(expected.event_ids) + 1, "the first batch's lake files kept"


def test_a_run_takes_only_what_arrived_in_its_interval(settings: Settings, expected: Expected) -> None:
    source = FileSource(settings.landing_path)
    with connect_warehouse(settings) as warehouse:
        from learnrec.ingest.tables import ensure_tables

        ensure_tables(warehouse)
        pending = source.pending(warehouse, None)
    cut = pending[len(pending) // 2].arrived_at
    ingest(settings, until=cut)
    with connect_warehouse(settings) as warehouse:
        landed = warehouse.query("SELECT path FROM raw.ingest_files").column(0).to_pylist()
    assert set(landed) == {f.relative for f in pending if f.arrived_at < cut}


def test_a_file_arriving_late_into_an_old_hours_folder_is_dated_by_its_arrival(
    settings: Settings, expected: Expected
) -> None:
    """Its folder says hour H of an old day; it was written days later: its events are late, and a
    rerun of hour H's interval does not take it (the run of its real arrival does, once)."""
    ingest(settings)
    folder = sorted((settings.landing_path / "learner_events").glob("date=*/hour=*"))[0]
    hour = datetime.fromisoformat(f"{folder.parent.name[5:]}T{folder.name[5:]}:00+00:00")
    with connect_warehouse(settings) as warehouse:
        known = warehouse.query("SELECT learner_id, course_id FROM raw.learner_events LIMIT 1").to_pylist()[0]
    late = folder / "events-straggler-0000.jsonl"
    late.write_text(
        f'{{"learner_id":"{known["learner_id"]}","event_type":"click","course_id":"{known["course_id"]}",'
        f'"timestamp":"{hour:%Y-%m-%dT%H}:30:00.123Z","metadata":{{}}}}\n'
    )
    arrived = NOW - timedelta(days=1)
    os.utime(late, (arrived.timestamp(), arrived.timestamp()))

    assert ingest(settings, until=hour + timedelta(hours=2)).batches == [], "not in the old interval"
    report = ingest(settings)
    assert (report.total("loaded"), report.total("late")) == (1, 1)
    assert ingest(settings).batches == [], "landed once"
    with connect_warehouse(settings) as warehouse:
        assert (
            warehouse.scalar(
                "SELECT sum(late_events) FROM raw.reprocess_dates WHERE batch_id = ?",
                [report.batches[0].batch_id],
            )
            == 1
        )
        assert (
            warehouse.scalar(
                "SELECT count(*) FROM raw.learner_events WHERE source_uri = ?",
                [late.relative_to(settings.landing_path).as_posix()],
            )
            == 1
        )


def test_batches_are_bounded(settings: Settings, expected: Expected) -> None:
    small = settings.model_copy(update={"ingest_batch_events": 200})
    report = ingest(small)
    assert len(report.batches) > 3
    assert all(b.consumed < 200 + 100 for b in report.batches)  # whole files; a file is < 100 lines here
    assert report.total("loaded") == len(expected.event_ids)


STEPS = ["validated", "staged", "events_inserted", "in_transaction", "committed", "acknowledged"]


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_then_a_rerun_gives_no_duplicate_and_no_gap(
    settings: Settings, expected: Expected, step: str, tmp_path
) -> None:
    small = settings.model_copy(update={"ingest_batch_events": 300})
    crash = crash_at(step)

    with pytest.raises(RuntimeError, match="injected crash"):
        ingest(small, fault=crash)
    report = ingest(small)
    if step == "acknowledged":
        assert report.recovered_lake_batches, "the lake write that never happened is redone"

    with connect_warehouse(settings) as warehouse:
        state = landed_state(warehouse)
        assert warehouse.scalar("SELECT count(*) FROM raw.ingest_batches WHERE NOT lake_written") == 0
    assert state["events"] == sorted(expected.event_ids)
    assert len(state["quarantine"]) == expected.rejected == len(set(state["quarantine"]))
    assert sorted(lake_events(settings).column("event_id").to_pylist()) == sorted(expected.event_ids)


def test_landing_needs_the_operational_snapshots(settings: Settings, tmp_path) -> None:
    fresh = settings.model_copy(update={"duckdb_path": tmp_path / "empty.duckdb"})
    with pytest.raises(IngestError, match=r"raw\.learners does not exist"):
        ingest(fresh)


def test_no_landing_folder_is_no_work(settings: Settings) -> None:
    shutil.rmtree(settings.landing_path / "learner_events")
    assert ingest(settings).batches == []
