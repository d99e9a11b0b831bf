"""The learner_events_ingest DAG through Airflow (`airflow dags test`) on a small generated world."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from learnrec.airflow_env import run_airflow
from learnrec.dag_defaults import RETRIES_ENV
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from learnrec.world.config import preset
from learnrec.world.generate import generate_world

END = date(2026, 10, 31)


@pytest.mark.integration
@pytest.mark.slow
def test_the_hourly_dag_lands_a_world_once_and_a_rerun_changes_nothing(settings: Settings) -> None:
    world = generate_world(preset("tiny", END, seed=3), settings)
    closing_hour = (END + timedelta(days=1)).isoformat()  # the run whose interval ends at midnight
    for _ in range(2):
        run_airflow(
            settings, ["dags", "test", "learner_events_ingest", closing_hour], extra_env={RETRIES_ENV: "0"}
        )
        with connect_warehouse(settings, read_only=True) as warehouse:
            totals = warehouse.query(
                "SELECT sum(consumed) AS consumed, sum(loaded) AS loaded, count(*) AS batches "
                "FROM raw.ingest_batches"
            ).to_pylist()[0]
            events = warehouse.scalar("SELECT count(*) FROM raw.learner_events")
        assert totals["consumed"] == world.lines
        assert events == totals["loaded"] > 0
        assert totals["batches"] == 1, "the rerun found nothing new to land"
