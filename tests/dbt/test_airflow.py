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
