"""The nightly DAG's wiring: one night reads one night's features (parsed), and through Airflow
(`airflow dags test`) a crash of the Learning Path Agent does not hold back the night's
publication, since the static paths are its fallback; a crash of the precompute does."""

from __future__ import annotations

import sqlite3

import pytest

from learnrec.airflow_env import run_airflow
from learnrec.dag_defaults import RETRIES_ENV
from learnrec.settings import PROJECT_ROOT, Settings

PUBLICATION = ("gate_recommendations", "publish_recommendations", "export_recommendations")


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "nightly_recommendations.py"))
    assert bag.import_errors == {}
    return bag.dags["nightly_recommendations"]


def test_features_are_computed_before_the_marts_that_join_them(nightly) -> None:
    """dbt's dim_learners joins Spark's newest features: built before Spark, it would carry last
    night's skill vectors into the precompute while training reads tonight's. Holds for the
    per-model dbt tasks (a manifest exists) and for the single build task (none yet)."""
    dbt_tasks = {t.task_id for t in nightly.tasks if t.task_id.split(".")[0] in ("dbt", "dbt_build")}
    assert dbt_tasks
    after_features = nightly.get_task("spark_features").get_flat_relative_ids(upstream=False)
    assert dbt_tasks <= after_features, sorted(dbt_tasks - after_features)[:5]
    for reader in ("train_als", "train_dropout", "precompute_recommendations"):
        assert dbt_tasks <= nightly.get_task(reader).get_flat_relative_ids(upstream=True), reader


def test_alerts_are_delivered_after_any_gate_verdict_without_hiding_a_failed_night(nightly) -> None:
    deliver = nightly.get_task("deliver_alerts")
    assert deliver.trigger_rule == "all_done"  # a failed gate raised the alert that must go out
    assert "gate_recommendations" in deliver.upstream_task_ids
    # not downstream of publication: the export stays a leaf, so a failed gate fails the run
    assert (
        not deliver.downstream_task_ids and not nightly.get_task("export_recommendations").downstream_task_ids
    )


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
