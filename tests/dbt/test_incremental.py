"""The incremental event models, built night by night, equal a full refresh: identical tables.

Two nights are applied one after the other: the first sees what ingest had loaded by the end of
the world's second-to-last day, the second adds what arrived on the last day (that day's events
and late arrivals for earlier days). Then a full refresh rebuilds everything from raw, and every
table and view of the staging, intermediate and marts schemas must be identical, row for row.
The second night must also not have rewritten the days no new event touched (cost grows with
the new day, not with history).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from learnrec.transform.dbt_runner import run_dbt
from learnrec.warehouse import connect_warehouse
from tests.dbt.conftest import END, make_tiny_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMAS = ("staging", "intermediate", "marts")


def snapshot(warehouse) -> dict[str, list[tuple]]:
    """Every relation of the dbt schemas, as sorted rows (a canonical form to compare)."""
    relations = (
        warehouse.query(
            "select table_schema || '.' || table_name as name from information_schema.tables"
            f" where table_schema in {SCHEMAS} order by 1"
        )
        .column("name")
        .to_pylist()
    )
    out = {}
    for name in relations:
        table = warehouse.query(f"select * from {name}")
        out[name] = sorted(
            (tuple(repr(v) for v in row.values()) for row in table.to_pylist()),
        )
    return out


def test_two_nights_equal_a_full_refresh(learnrec_home) -> None:
    world = make_tiny_world(learnrec_home)
    settings = world.settings
    end_of = lambda day: datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)  # noqa: E731
    first_night = world.arrived_by(end_of(END - timedelta(days=1)))
    second_night = world.arrived_by(end_of(END + timedelta(days=3)))  # the last day + late arrivals
    new_rows = second_night.num_rows - first_night.num_rows
    assert first_night.num_rows > 0 and new_rows > 0

    with connect_warehouse(settings) as warehouse:
        warehouse.load_arrow("raw.learner_events", first_night, mode="replace")
    run_dbt(settings, "run")

    with connect_warehouse(settings) as warehouse:
        arrived = second_night.slice(first_night.num_rows)
        touched = set(arrived.column("event_date").to_pylist())
        untouched = sorted(set(first_night.column("event_date").to_pylist()) - touched)
        assert untouched, "the second night should leave some days alone"
        # a marker on an untouched day: survives the night only if that day is not rebuilt
        warehouse.execute(
            "update marts.fct_learner_events set batch_id = 'untouched-marker' where event_date = ?",
            [untouched[0]],
        )
        warehouse.load_arrow("raw.learner_events", arrived, mode="append")
    run_dbt(settings, "run")

    with connect_warehouse(settings) as warehouse:
        marked = warehouse.scalar(
            "select count(*) from marts.fct_learner_events where batch_id = 'untouched-marker'"
        )
        assert marked > 0, "an untouched day was rebuilt"
        warehouse.execute(
            "update marts.fct_learner_events as f set batch_id = s.batch_id"
            " from staging.stg_ingest__learner_events as s"
            " where f.event_id = s.event_id and f.batch_id = 'untouched-marker'"
        )
        incremental = snapshot(warehouse)
        n_fact = warehouse.scalar("select count(*) from marts.fct_learner_events")
    assert n_fact == second_night.num_rows

    run_dbt(settings, "run", "--full-refresh")
    with connect_warehouse(settings) as warehouse:
        full = snapshot(warehouse)

    assert set(incremental) == set(full)
    different = {
        name: (
            sorted(set(incremental[name]) - set(full[name]))[:3],
            sorted(set(full[name]) - set(incremental[name]))[:3],
        )
        for name in full
        if incremental[name] != full[name]
    }
    assert not different, (
        f"incremental differs from full refresh (incremental-only, full-only rows): {different}"
    )
