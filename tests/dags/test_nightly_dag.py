"""The nightly DAG's wiring through Airflow (`airflow dags test`): a crash of the Learning Path
Agent does not hold back the night's publication, since the static paths are its fallback; a
crash of the precompute does."""

from __future__ import annotations

import sqlite3

import pytest

from learnrec.airflow_env import run_airflow
from learnrec.dag_defaults import RETRIES_ENV
from learnrec.settings import Settings

PUBLICATION = ("gate_recommendations", "publish_recommendations", "export_recommendations")


def run_with_crashing(settings: Settings, tasks: tuple[str, ...]) -> dict[str, str]:
    """Task states of a nightly run where ``tasks`` run and crash and every other task is marked
    successful without running (`--mark-success-pattern`).

    A real fault, not a mock: the warehouse file is a directory, so connecting to it fails.
    """
    settings.warehouse_path.mkdir(parents=True)
    run_airflow(
        settings,
        ["dags", "test", "nightly_recommendations", "2026-11-02",
         "--mark-success-pattern", f"^(?!({'|'.join(tasks)})$).*"],
        extra_env={RETRIES_ENV: "0"},
        check=False,
    )  # fmt: skip
    with sqlite3.connect(settings.airflow_home / "airflow.db") as db:
        return dict(
            db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = 'nightly_recommendations'")
        )


@pytest.mark.integration
@pytest.mark.slow
def test_a_crashed_learning_path_agent_does_not_block_publication(settings: Settings) -> None:
    states = run_with_crashing(settings, ("personalise_learning_paths",))
    assert states["personalise_learning_paths"] == "failed"
    assert {task: states[task] for task in PUBLICATION} == dict.fromkeys(PUBLICATION, "success")


@pytest.mark.integration
@pytest.mark.slow
def test_a_crashed_precompute_publishes_nothing(settings: Settings) -> None:
    states = run_with_crashing(settings, ("precompute_recommendations", "personalise_learning_paths"))
    assert states["precompute_recommendations"] == "failed"
    assert not {states[task] for task in PUBLICATION} & {"success", "running"}
