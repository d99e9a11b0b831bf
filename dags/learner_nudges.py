"""Learner nudges (owner: growth-engineering): re-engagement e-mails and pushes, at most once each.

Runs when the nightly DAG publishes recommendations (Asset ``warehouse://recs/learner_recommendations``)
and every hour at :15 to send what quiet hours deferred. A run triggered by the Asset, or by hand
for a logical date, plans the run date's nudges (run date = logical date - 1 day, the last
complete event day); hourly runs only ingest delivery events and send what is due.

- ``ingest_delivery_events``: SendGrid Event Webhook and FCM delivery files from
  ``<landing>/notification_events`` into ``raw.notification_events`` (opens, clicks, bounces;
  unsubscribes and hard bounces block the address), idempotently.
- ``draft_nudges``: the Re-engagement Agent picks learners (dropout risk, or 5 days inactive) and
  writes NudgeDrafts into ``recs.nudge_drafts``.
- ``plan_nudges``: consent, channel (e-mail, then push), frequency caps into ``recs.nudge_outbox``,
  one row per learner, nudge type and day; suppressed nudges keep their reason.
- ``deliver_nudges``: quiet hours in the learner's time zone defer; the rest is claimed, sent
  through the file sink / SendGrid / FCM and recorded. A retried or rerun task never sends twice.
"""

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from learnrec.dag_defaults import default_args

RECOMMENDATIONS = Asset("warehouse://recs/learner_recommendations")


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("15 * * * *", timezone="UTC"), assets=[RECOMMENDATIONS]
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args("growth-engineering"),
    tags=["nudges", "agents"],
    doc_md=__doc__,
)
def learner_nudges():
    @task
    def ingest_delivery_events() -> dict:
        from exports.nudges.pipeline import ingest_events
        from learnrec.settings import get_settings

        return ingest_events(get_settings())

    @task
    def nudge_date() -> str:
        """The run date to plan, or skip planning on the hourly delivery-only runs."""
        from learnrec.dates import run_date_from_context

        context = get_current_context()
        if context["dag_run"].run_type == "scheduled":
            raise AirflowSkipException("hourly run: deliver deferred nudges only")
        return run_date_from_context(context).isoformat()

    @task
    def draft_nudges(run_date: str) -> int:
        from ml.agents.tasks import run_reengagement_agent

        return run_reengagement_agent(run_date)

    @task
    def plan_nudges(run_date: str) -> dict:
        from datetime import date

        from exports.nudges.pipeline import plan_for_date
        from learnrec.settings import get_settings

        return plan_for_date(get_settings(), date.fromisoformat(run_date))

    @task(trigger_rule="none_failed")
    def deliver_nudges() -> dict:
        from exports.nudges.pipeline import deliver
        from learnrec.settings import get_settings

        return deliver(get_settings())

    run_date = nudge_date()
    drafted = draft_nudges(run_date)
    planned = plan_nudges(run_date)
    drafted >> planned
    [ingest_delivery_events(), planned] >> deliver_nudges()


learner_nudges()
