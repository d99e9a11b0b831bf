"""Run dates of the nightly pipeline.

The nightly DAG fires at midnight UTC, once the previous day's events are complete. Every nightly
task works on that complete day, the *run date*: one day before the DAG run's logical date. Tasks
take it explicitly (and the CLI takes it as ``--run-date``) so that a rerun or a backfill of a date
reproduces exactly what that date produced.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any


def run_date_for(logical_date: datetime | date) -> date:
    """The last complete event day for a DAG run with this logical date."""
    day = logical_date.date() if isinstance(logical_date, datetime) else logical_date
    return day - timedelta(days=1)


def run_date_from_context(context: Mapping[str, Any]) -> date:
    """Run date of an Airflow task from its context.

    Asset-triggered runs have no data interval of their own; their logical date is when the
    triggering event happened, which is still "after the day closed" for the nightly DAG.
    """
    logical = context.get("logical_date") or context.get("dag_run").run_after  # type: ignore[union-attr]
    return run_date_for(logical)
