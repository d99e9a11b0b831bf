"""Nightly recommendations (owner: data-platform).

Loads the operational snapshots (learners, courses, ratings, taxonomy) into the warehouse's raw
schema, computes the run date's Spark features (from the lake and those raw tables), then builds
the dbt project (staging, intermediate, marts) as one task per model (astronomer-cosmos, group
``dbt``) and writes dbt's documentation site to the state folder. Features come first because
marts join them (``dim_learners``: skill vector, engagement, learned format): training and the
precompute then both read tonight's features. Then training, evaluation and promotion, dropout,
precompute (with static learning paths), the Learning Path Agent, gate, publish, export; after
the gate, whatever its verdict, the night's new alerts are delivered (Datadog, Slack webhook).

Every task takes the run date explicitly (Asset-triggered runs have no ``ds``) and is idempotent
for it: a rerun replaces what the first run wrote.
"""

import pendulum
from airflow.sdk import Asset, TriggerRule, dag, task

from learnrec.assets import LEARNER_EVENTS_DAY_CLOSED, RECOMMENDATIONS
from learnrec.dag_defaults import default_args


@dag(
    schedule=[Asset(LEARNER_EVENTS_DAY_CLOSED)],  # after the hour that closes a UTC day has landed
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args("data-platform"),
    tags=["recommendations", "nightly"],
    doc_md=__doc__,
)
def nightly_recommendations():
    @task
    def load_source_snapshots() -> dict[str, int]:
        from learnrec.settings import get_settings
        from learnrec.warehouse.sources import refresh_source_snapshots

        return refresh_source_snapshots(get_settings())

    @task
    def dbt_docs() -> str:
        from learnrec.settings import get_settings
        from learnrec.transform.dbt_runner import generate_docs

        return str(generate_docs(get_settings()))

    @task
    def spark_features(**context) -> dict[str, int]:
        """Spark features of the run date (incremental), great-expectations gate, then lake +
        features.learner_features / features.course_features; a failed gate fails the task."""
        from learnrec.dates import run_date_from_context
        from learnrec.settings import get_settings
        from spark_jobs.features import run_features

        report = run_features(get_settings(), run_date_from_context(context))
        return {"learners": report.learners, "courses": report.courses, "new_files": report.new_files}

    @task
    def train_model(model: str, **context) -> str:
        """One component model at every cut of the time split -> its MLflow run id."""
        from learnrec.dates import run_date_from_context
        from learnrec.settings import get_settings
        from ml.training import train_model

        return train_model(get_settings(), run_date_from_context(context), model)

    @task
    def evaluate_and_promote(run_ids: dict[str, str], **context) -> str:
        """Learn the blend, evaluate everything on the test window, register, move champions."""
        from learnrec.dates import run_date_from_context
        from learnrec.settings import get_settings
        from ml.training import evaluate_and_promote

        return evaluate_and_promote(get_settings(), run_date_from_context(context), run_ids)

    @task
    def train_dropout(**context) -> str:
        """Dropout model: train, evaluate, promote, write features.dropout_scores."""
        from learnrec.dates import run_date_from_context
        from learnrec.settings import get_settings
        from ml.training import train_dropout

        return train_dropout(get_settings(), run_date_from_context(context))

    @task
    def precompute_recommendations(**context) -> str:
        """Top-N per active learner (rules, fallbacks, reasons) + static paths -> new version id."""
        from exports.recommendations.steps import precompute_step
        from learnrec.dates import run_date_from_context
        from learnrec.settings import get_settings

        return precompute_step(get_settings(), run_date_from_context(context)).run_id

    @task
    def personalise_learning_paths(version: str) -> dict[str, object]:
        """Learning Path Agent: LLM paths beside the version's static ones where the LLM gives a
        valid one; otherwise (LLM off, unavailable, invalid answer) the static path stays served."""
        from ml.agents.tasks import run_learning_path_agent

        return run_learning_path_agent(version)

    @task(retries=0)  # a failed gate is a verdict, not a glitch: the current version keeps serving
    def gate_recommendations(version: str) -> str:
        """great-expectations checkpoint; on failure an alert in ops.alerts and the task fails.

        ``version`` is the precompute's run id (``run_id`` is a reserved Airflow context key)."""
        from exports.recommendations.steps import gate_step
        from learnrec.settings import get_settings

        return gate_step(get_settings(), version).run_id

    @task(outlets=[Asset(RECOMMENDATIONS)])
    def publish_recommendations(version: str) -> str:
        """Atomic switch of the current version + Recommendation Log rows; keeps the last K."""
        from exports.recommendations.steps import publish_step
        from learnrec.settings import get_settings

        return publish_step(get_settings(), version).run_id

    @task
    def export_recommendations() -> str:
        """The current version to the app-facing serving store, swapped atomically."""
        from exports.recommendations.steps import export_step
        from learnrec.settings import get_settings

        return str(export_step(get_settings()))

    @task(trigger_rule=TriggerRule.ALL_DONE)  # a failed gate is exactly what must be told
    def deliver_alerts() -> dict[str, int]:
        """New ops.alerts rows to Datadog / the Slack webhook where configured; never fails."""
        from learnrec.alert_delivery import deliver_alerts_step
        from learnrec.settings import get_settings

        report = deliver_alerts_step(get_settings())
        return {"sent": report.sent, "failed": report.failed}

    # rendered from dbt's manifest at parse time: cosmos, no dbt import (see learnrec.transform.airflow_dbt)
    from learnrec.settings import get_settings
    from learnrec.transform.airflow_dbt import dbt_task_group

    marts = dbt_task_group(get_settings())
    features = spark_features()
    load_source_snapshots() >> features >> marts >> dbt_docs()
    # models (ml.training.COMPONENTS) train in parallel, then one task evaluates and promotes
    trained = {
        m: train_model.override(task_id=f"train_{m}")(m) for m in ("popularity", "als", "lightfm", "content")
    }
    marts >> list(trained.values())
    promoted = evaluate_and_promote(trained)
    version = precompute_recommendations()
    promoted >> version
    # The gate checks the paths apps will be served, so it waits for the Learning Path Agent; but
    # the static paths are the agent's fallback (seed fallback table), so a crash of the agent task
    # shows red without holding back the night's publication: the gate runs once both are done and
    # one succeeded (a failed precompute leaves no success upstream: no gate, no publication).
    gated = gate_recommendations.override(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)(version)
    personalise_learning_paths(version) >> gated
    # beside publication, not after it: a leaf of its own keeps a failed gate failing the run
    gated >> deliver_alerts()
    publish_recommendations(gated) >> export_recommendations()
    marts >> train_dropout()


nightly_recommendations()
