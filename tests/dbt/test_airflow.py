"""The nightly DAG runs the dbt project as one Airflow task per model (astronomer-cosmos)."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import pytest

from learnrec.settings import load_settings
from learnrec.transform.airflow_dbt import dbt_task_group
from learnrec.transform.dbt_runner import parse_project

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("dbt-parse")
    return parse_project(load_settings(home=home), target_path=home / "target")


def render(manifest: Path, tmp_path: Path):
    from airflow.sdk import DAG

    with DAG(
        "dbt_probe",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        default_args={"owner": "data-platform", "retries": 2},
    ) as dag:
        dbt_task_group(load_settings(home=tmp_path), manifest=manifest)
    return dag


def test_one_task_per_model_in_dependency_order(manifest: Path, tmp_path: Path) -> None:
    nodes = json.loads(manifest.read_text())["nodes"]
    models = {n["name"] for n in nodes.values() if n["resource_type"] == "model"}
    dag = render(manifest, tmp_path)
    builds = {
        t.task_id.removeprefix("dbt.").removesuffix("_model_build")
        for t in dag.tasks
        if t.task_id.endswith("_model_build")
    }
    assert builds == models
    assert "fct_learner_events" in {
        t.task_id.removeprefix("dbt.").removesuffix("_model_build")
        for t in dag.get_task("dbt.stg_ingest__learner_events_model_build").downstream_list
    }
    # tests over several models run once all of them are built
    rel = next(
        t for t in dag.tasks if t.task_id.startswith("dbt.relationships_fct_learner_events_learner_id")
    )
    assert {"dbt.fct_learner_events_model_build", "dbt.dim_learners_model_build"} <= rel.upstream_task_ids
    for task in dag.tasks:
        assert task.owner == "data-platform" and task.retries == 2


def test_the_dag_receives_no_secret(manifest: Path, tmp_path: Path) -> None:
    settings = dict(
        home=tmp_path,
        warehouse="snowflake",
        snowflake_account="acme",
        snowflake_user="dbt",
        snowflake_password="s3cret-value",
    )
    from airflow.sdk import DAG

    with DAG("dbt_probe_sf", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None) as dag:
        dbt_task_group(load_settings(**settings), manifest=manifest)
    task = dag.get_task("dbt.dim_learners_model_build")
    assert task.env["LEARNREC_SNOWFLAKE_ACCOUNT"] == "acme"
    assert "s3cret-value" not in json.dumps(task.env)


def test_without_a_manifest_one_build_task(tmp_path: Path) -> None:
    dag = render(tmp_path / "missing" / "manifest.json", tmp_path)
    assert [t.task_id for t in dag.tasks] == ["dbt_build"]


DBT_ONLY_DAG = """
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from learnrec.settings import get_settings
from learnrec.transform.airflow_dbt import dbt_task_group

with DAG(
    "dbt_only",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args={"owner": "data-platform", "retries": 0},
):
    dbt_task_group(get_settings(), manifest=Path(os.environ["LEARNREC_TEST_DBT_MANIFEST"]))
"""


@pytest.mark.slow
def test_every_model_task_runs_in_airflow_on_a_generated_world(
    manifest: Path, learnrec_home: Path, tmp_path: Path
) -> None:
    """`airflow dags test` of the dbt task group alone (the nightly DAG's other stages have their own tests)."""
    import subprocess

    from learnrec.airflow_env import AIRFLOW, airflow_environment
    from learnrec.warehouse import connect_warehouse
    from tests.dbt.conftest import make_tiny_world

    world = make_tiny_world(learnrec_home)
    with connect_warehouse(world.settings) as warehouse:
        warehouse.load_arrow("raw.learner_events", world.events, mode="replace")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "dbt_only.py").write_text(DBT_ONLY_DAG)
    env = airflow_environment(world.settings)
    env.update({"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "LEARNREC_TEST_DBT_MANIFEST": str(manifest)})
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    run = subprocess.run(
        [AIRFLOW, "dags", "test", "dbt_only", "2026-11-01"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    with connect_warehouse(world.settings, read_only=True) as warehouse:
        assert warehouse.scalar("select count(*) from marts.fct_learner_events") == world.events.num_rows
        assert warehouse.scalar("select count(*) from marts.mart_popular_courses_by_career") > 0
        # the DAG run's run date reached dbt as a var: the popularity window ends the day before
        assert (
            str(warehouse.scalar("select max(window_end_date) from marts.mart_popular_courses_by_career"))
            == "2026-10-31"
        )
