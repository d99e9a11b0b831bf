"""Default task arguments of the DAGs (imported at parse time: standard library only).

Deployed DAGs retry failed tasks after a delay. The demo and the end-to-end tests run DAGs with
``airflow dags test``, where a retry would only wait out its delay before failing again: they set
``LEARNREC_TASK_RETRIES=0`` so that a failure surfaces at once.
"""

from __future__ import annotations

import os
from datetime import timedelta

RETRIES_ENV = "LEARNREC_TASK_RETRIES"


def default_args(
    owner: str, retries: int = 2, retry_delay: timedelta = timedelta(minutes=5)
) -> dict[str, object]:
    override = os.environ.get(RETRIES_ENV)
    return {
        "owner": owner,
        "retries": int(override) if override is not None else retries,
        "retry_delay": retry_delay,
    }
