"""The learner_nudges DAG end to end through Airflow (`airflow dags test`, SQLite metadata), on the
embedded defaults: the Re-engagement Agent's rules, the outbox, the file sink. Run twice: the
second run sends nothing new."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from learnrec.airflow_env import run_airflow
from learnrec.warehouse import connect_warehouse
from tests.nudges.conftest import add_learners, learner

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_dag_plans_delivers_and_reruns_without_duplicates(settings) -> None:
    # delivery happens at the real wall-clock time, so the run is for today (run date = yesterday)
    logical = datetime.now(UTC).date()
    run_date = logical - timedelta(days=1)
    with connect_warehouse(settings) as warehouse:
        add_learners(
            warehouse,
            learner("L1"),
            learner("L2", email=None, timezone="Asia/Tokyo"),
            learner("L3", email_opt_in=False, push_opt_in=False),
        )

    def state() -> tuple[dict[str, str], int]:
        with connect_warehouse(settings, read_only=True) as warehouse:
            statuses = {
                r["learner_id"]: r["status"]
                for r in warehouse.query("SELECT learner_id, status FROM recs.nudge_outbox").to_pylist()
            }
        lines = sum(len(p.read_text().splitlines()) for p in settings.outbox_path.rglob("*.jsonl"))
        return statuses, lines

    run_airflow(settings, ["dags", "test", "learner_nudges", logical.isoformat()])
    statuses, lines = state()
    # all three were inactive for 5+ days (signed up long ago, no events)
    assert set(statuses) == {"L1", "L2", "L3"}
    assert statuses["L3"] == "suppressed"
    # sent now or deferred by the learner's quiet hours (depends on the wall clock), never lost
    assert {statuses["L1"], statuses["L2"]} <= {"sent", "deferred"}
    assert lines == sum(s == "sent" for s in statuses.values())
    sent_lines = [
        json.loads(line) for p in settings.outbox_path.rglob("*.jsonl") for line in p.read_text().splitlines()
    ]
    assert all(line["notification_id"].endswith(f":inactivity:{run_date}") for line in sent_lines)

    run_airflow(settings, ["dags", "test", "learner_nudges", logical.isoformat()])
    again, lines_again = state()
    assert lines_again == lines
    assert again == statuses or all(
        again[k] == statuses[k] or (statuses[k], again[k]) == ("deferred", "sent") for k in statuses
    )
