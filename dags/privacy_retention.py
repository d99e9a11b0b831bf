"""Privacy retention (owner: data-platform): expired and erased learners leave every store, daily.

One task, ``erase_learners`` (:func:`exports.privacy.eraser.run_erasure`): records the erasure
requests apps and support dropped in ``<landing>/erasure_requests/`` and a retention request for
every learner whose ``retention_expiry`` passed by the interval's end, then erases every pending
request from the landing files, the warehouse (every table the catalog lists with a learner
column), the lake, the saved models, the serving stores, the outbox, the LLM audit log and the
world's ground truth. Idempotent and resumable: a retried task finishes what a crashed one began.
The report (requests, rows removed per store) goes to XCom; it holds no personal data.
"""

import pendulum
from airflow.sdk import dag, get_current_context, task

from learnrec.dag_defaults import default_args


@dag(
    schedule="0 3 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args("data-platform"),
    tags=["privacy"],
    doc_md=__doc__,
)
def privacy_retention():
    @task
    def erase_learners() -> dict:
        from dataclasses import asdict

        from exports.privacy.eraser import run_erasure
        from learnrec.settings import get_settings

        # retention is judged at the interval's end (None on a manual run: now)
        end = get_current_context().get("data_interval_end")
        return asdict(run_erasure(get_settings(), now=end))

    erase_learners()


privacy_retention()
