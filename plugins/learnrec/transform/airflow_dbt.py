"""The dbt project as Airflow tasks, one per model (astronomer-cosmos), for the nightly DAG.

Rendering reads the manifest written by ``dbt parse`` (:data:`~learnrec.transform.dbt_runner.DAG_MANIFEST`,
``learnrec dbt parse`` or :func:`~learnrec.transform.dbt_runner.parse_project`), not the project
itself: cosmos's default (``dbt ls`` at parse time) takes many seconds and imports dbt into the
DAG processor, while reading the manifest costs milliseconds. Each model's task runs
``dbt build --select <model>`` (the model and its own tests) with dbt's Python API inside the
worker (the dbt installed beside Airflow); tests spanning several models run as their own tasks
once all their models are built. Connections come from the same settings as everything else:
``dbt/profiles.yml`` reads the ``LEARNREC_*`` variables of :func:`~learnrec.transform.dbt_runner.dbt_env`.

Without a manifest (a fresh checkout where nobody ran ``learnrec dbt parse``) the group degrades
to one task that builds the whole project through the same runner the CLI and tests use, so the
DAG still parses and runs; the task log says how to get one task per model.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from learnrec.settings import Settings
from learnrec.transform.dbt_runner import DAG_MANIFEST, DBT_PROJECT_DIR, dbt_env

log = logging.getLogger(__name__)

#: The nightly run date (the last complete event day) as a dbt var, rendered per DAG run.
RUN_DATE_TEMPLATE = (
    "{{ ((dag_run.logical_date or dag_run.run_after) - macros.timedelta(days=1)).strftime('%Y-%m-%d') }}"
)


def dbt_task_group(settings: Settings, *, group_id: str = "dbt", manifest: Path = DAG_MANIFEST) -> Any:
    """A cosmos DbtTaskGroup for the project, or a single build task when no manifest exists yet."""
    if not manifest.exists():
        log.warning(
            "no dbt manifest at %s: one dbt_build task; run `learnrec dbt parse` for one task per model",
            manifest,
        )
        return _single_build_task(group_id)

    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

    project = ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=manifest,
        # no secrets: the worker's own environment supplies the Snowflake password
        env_vars=dbt_env(settings, include_secrets=False),
        dbt_vars={"run_date": RUN_DATE_TEMPLATE},
        install_dbt_deps=False,
    )
    # cosmos wraps every manifest path in an ObjectStoragePath, whose reads report lineage, which
    # loads all Airflow plugins (FastAPI apps included) into the parsing process: ~1.5 s of CPU per
    # parse. A local manifest is a plain file; read it as one.
    project.manifest_path = manifest
    return DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=ProfileConfig(
            profile_name="learnrec",
            target_name=settings.warehouse,
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            invocation_mode=InvocationMode.DBT_RUNNER,
            dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
            # a model's task runs only the tests of that model; tests over several models are
            # detached into tasks of their own that run once all their models are built
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=True,
            emit_datasets=False,
        ),
        operator_args={
            "install_deps": False,
            # a task that runs in the worker's own process must not leave the DuckDB file open
            "callback": "learnrec.transform.dbt_runner.release_dbt_connections",
        },
    )


def _single_build_task(task_id: str) -> Any:
    from airflow.sdk import task

    @task(task_id=f"{task_id}_build")
    def dbt_build() -> dict[str, int]:
        from airflow.sdk import get_current_context

        from learnrec.dates import run_date_from_context
        from learnrec.settings import get_settings
        from learnrec.transform.dbt_runner import build

        result = build(get_settings(), run_date=run_date_from_context(get_current_context()))
        return {"nodes": len(result.statuses)}

    return dbt_build()
