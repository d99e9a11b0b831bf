"""Learner events ingest (owner: data-platform), hourly.

Refreshes the operational snapshots (so events of today's sign-ups are not taken for unknown
learners), then lands what the source received up to the end of the run's interval: validated
against the event contract, bad payloads quarantined with their reason, deduplicated, exactly once
into the lake and ``raw.learner_events`` (see ``learnrec.ingest``). Each batch's counts are in the
task log and in ``raw.ingest_batches``.

Idempotent per interval: a rerun or backfill lands only what had arrived by its interval's end and
was not landed yet. Recommendation feedback posted to the API (impressions, outcomes) lands into
``raw.served_recommendations`` beside it, each landing file once. The run that closes a UTC day updates the ``day_closed`` Asset that schedules
the nightly recommendations.
"""

import pendulum
from airflow.sdk import Asset, dag, task

from learnrec.assets import LEARNER_EVENTS, LEARNER_EVENTS_DAY_CLOSED
from learnrec.dag_defaults import default_args


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args("data-platform", retries=3, retry_delay=pendulum.duration(minutes=2)),
    tags=["ingest"],
    doc_md=__doc__,
)
def learner_events_ingest():
    @task
    def load_source_snapshots() -> dict[str, int]:
        from learnrec.settings import get_settings
        from learnrec.warehouse.sources import refresh_source_snapshots

        return refresh_source_snapshots(get_settings())

    @task(outlets=[Asset(LEARNER_EVENTS)])
    def ingest_events(data_interval_end=None, logical_date=None) -> dict[str, int]:
        from learnrec.ingest import run_ingest
        from learnrec.settings import get_settings

        report = run_ingest(get_settings(), until=data_interval_end or logical_date)
        names = ("consumed", "loaded", "quarantined", "duplicates", "late")
        return {"batches": len(report.batches), **{name: report.total(name) for name in names}}

    @task
    def ingest_recommendation_feedback() -> int:
        """Impressions and outcomes the apps posted to the API (exports/api/feedback.py)."""
        from exports.api.feedback import land_feedback
        from learnrec.settings import get_settings
        from learnrec.warehouse import connect_warehouse

        settings = get_settings()
        with connect_warehouse(settings) as warehouse:
            return land_feedback(warehouse, settings.landing_path)

    @task.short_circuit
    def day_closed(data_interval_end=None, logical_date=None) -> bool:
        return (data_interval_end or logical_date).hour == 0

    @task(outlets=[Asset(LEARNER_EVENTS_DAY_CLOSED)])
    def publish_day_closed() -> None:
        """Marks the day complete for the nightly DAG (the outlet is the whole job)."""

    snapshots = load_source_snapshots()
    snapshots >> ingest_events() >> day_closed() >> publish_day_closed()
    snapshots >> ingest_recommendation_feedback()


learner_events_ingest()
