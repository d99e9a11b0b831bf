"""Nightly recommendations (owner: data-platform).

Loads the operational snapshots (learners, courses, ratings, taxonomy) into the warehouse's raw
schema, then builds the dbt project (staging, intermediate, marts) as one task per model
(astronomer-cosmos, group ``dbt``) and writes dbt's documentation site to the state folder.
Later stages join as they land: gate, Spark features, gate, training, evaluation and promotion,
precompute, gate, publish, export.

Every task takes the run date explicitly (Asset-triggered runs have no ``ds``) and is idempotent
for it: a rerun replaces what the first run wrote.
"""

import pendulum
from airflow.sdk import dag, task


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    tags=["recommendations", "nightly"],
    doc_md=__doc__,
)
def nightly_recommendations():
    @task
    def load_source_snapshots() -> dict[str, int]:
        from learnrec.settings import get_settings
        from learnrec.warehouse import connect_warehouse
        from learnrec.warehouse.sources import load_source_snapshots as load

        settings = get_settings()
        with connect_warehouse(settings) as warehouse:
            return load(warehouse, settings.landing_path)

    @task
    def dbt_docs() -> str:
        from learnrec.settings import get_settings
        from learnrec.transform.dbt_runner import generate_docs

        return str(generate_docs(get_settings()))

    # rendered from dbt's manifest at parse time: cosmos, no dbt import (see learnrec.transform.airflow_dbt)
    from learnrec.settings import get_settings
    from learnrec.transform.airflow_dbt import dbt_task_group

    load_source_snapshots() >> dbt_task_group(get_settings()) >> dbt_docs()


nightly_recommendations()
