"""fct_recommendation_outcomes, mart_model_performance and the online marts, built night by night,
equal a full refresh, and a night rebuilds only the log rows whose outcome can have changed.

Night 1 sees the events ingested by the end of the second-to-last day and the log rows served by
then; night 2 adds the last day's events (with late arrivals), the impressions served since and
an outcome an app reported late for a night-1 impression.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from learnrec.transform.dbt_runner import run_dbt
from learnrec.warehouse import connect_warehouse
from tests.dbt.conftest import END, make_tiny_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AS_OF = {"observed_until", "ingested_until", "received_until", "as_of"}
SELECT = ("--select", "+mart_model_performance", "+mart_online_lift")
UTC_US = pa.timestamp("us", tz="UTC")


def impressions(events: pa.Table) -> pa.Table:
    """A log row an hour before each of ~400 click, watch and complete events spread over the
    window (so every outcome occurs), and one a minute after each (mostly ignored or pending)."""
    outcome_events = events.filter(pc.is_in(events["event_type"], pa.array(["click", "watch", "complete"])))
    picked = outcome_events.take(
        list(range(0, outcome_events.num_rows, max(1, outcome_events.num_rows // 400)))
    )
    rows = []
    for i, e in enumerate(picked.to_pylist()):
        for shift, tag in ((timedelta(hours=-1), "before"), (timedelta(minutes=1), "after")):
            served = e["event_at"] + shift
            rows.append(
                {
                    "log_id": f"{tag}-{i}",
                    "learner_id": e["learner_id"],
                    "course_id": e["course_id"],
                    "model_version": f"blend:{i % 3}",
                    "signals_used": ["content"],
                    "rank_at_serve": 1 + i % 20,
                    "served_at": served,
                    "outcome": None,
                    "outcome_recorded_at": None,
                    "received_at": served + timedelta(minutes=5),
                }
            )
    schema = pa.schema(
        [
            ("log_id", pa.string()),
            ("learner_id", pa.string()),
            ("course_id", pa.string()),
            ("model_version", pa.string()),
            ("signals_used", pa.list_(pa.string())),
            ("rank_at_serve", pa.int32()),
            ("served_at", UTC_US),
            ("outcome", pa.string()),
            ("outcome_recorded_at", UTC_US),
            ("received_at", UTC_US),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def snapshot(warehouse, relation: str) -> list[tuple]:
    table = warehouse.query(f"select * from {relation}")
    keep = [c for c in table.column_names if c not in AS_OF]
    return sorted(tuple(repr(v) for v in row.values()) for row in table.select(keep).to_pylist())


def test_two_nights_of_outcomes_equal_a_full_refresh_and_leave_settled_rows_alone(learnrec_home) -> None:
    world = make_tiny_world(learnrec_home)
    settings = world.settings
    night_1 = datetime(END.year, END.month, END.day, tzinfo=UTC)
    night_2 = night_1 + timedelta(days=4)
    first_events, all_events = world.arrived_by(night_1), world.arrived_by(night_2)
    log = impressions(all_events.sort_by("event_at"))
    received = lambda until: log.filter(pc.less(log["received_at"], pa.scalar(until, UTC_US)))  # noqa: E731
    first_log = received(night_1)
    assert 0 < first_log.num_rows < log.num_rows

    with connect_warehouse(settings) as warehouse:
        warehouse.load_arrow("raw.learner_events", first_events, mode="replace")
        warehouse.load_arrow("raw.served_recommendations", first_log, mode="replace")
    run_dbt(settings, "run", *SELECT)

    with connect_warehouse(settings) as warehouse:
        settled = warehouse.scalar(
            "select log_id from marts.fct_recommendation_outcomes where is_final order by log_id limit 1"
        )
        assert settled, "some night-1 rows should be final"
        late_report = first_log.slice(first_log.num_rows - 1).to_pylist()[0]
        late_report |= {
            "outcome": "CLICKED",
            "outcome_recorded_at": night_1,
            "received_at": night_2 - timedelta(hours=1),
        }
        warehouse.load_arrow("raw.learner_events", all_events.slice(first_events.num_rows), mode="append")
        warehouse.load_arrow("raw.served_recommendations", log.slice(first_log.num_rows), mode="append")
        warehouse.load_arrow(
            "raw.served_recommendations", pa.Table.from_pylist([late_report], schema=log.schema)
        )
    run_dbt(settings, "run", *SELECT)

    with connect_warehouse(settings) as warehouse:
        # rows are rebuilt with tonight's watermark; a settled row kept last night's
        rebuilt = "select log_id from marts.fct_recommendation_outcomes where ingested_until = ?"
        tonight = warehouse.scalar("select max(ingested_at) from raw.learner_events")
        assert settled not in set(warehouse.query(rebuilt, [tonight]).column(0).to_pylist())
        assert 0 < len(warehouse.query(rebuilt, [tonight])) < log.num_rows
        outcomes = snapshot(warehouse, "marts.fct_recommendation_outcomes")
        performance = snapshot(warehouse, "marts.mart_model_performance")
        online = snapshot(warehouse, "marts.mart_online_metrics")
        lift = snapshot(warehouse, "marts.mart_online_lift")
        kinds = warehouse.query("select distinct outcome from marts.fct_recommendation_outcomes").column(0)
        reported = warehouse.scalar(
            "select reported_outcome from marts.fct_recommendation_outcomes where log_id = ?",
            [late_report["log_id"]],
        )
    assert reported == "clicked"
    assert {"clicked", "enrolled", "completed", "ignored"} <= set(kinds.to_pylist())
    assert len(outcomes) == log.num_rows

    run_dbt(settings, "run", "--full-refresh", *SELECT)
    with connect_warehouse(settings) as warehouse:
        assert snapshot(warehouse, "marts.fct_recommendation_outcomes") == outcomes
        assert snapshot(warehouse, "marts.mart_model_performance") == performance
        assert snapshot(warehouse, "marts.mart_online_metrics") == online
        assert snapshot(warehouse, "marts.mart_online_lift") == lift
