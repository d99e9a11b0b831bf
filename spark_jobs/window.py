"""The rolling window every learner and course feature is computed over."""

from __future__ import annotations

from datetime import date, timedelta

#: Days in the rolling window, the run date included.
WINDOW_DAYS = 30


def window_days(run_date: date) -> list[date]:
    """The event days of the window ending on ``run_date``, oldest first."""
    return [run_date - timedelta(days=age) for age in range(WINDOW_DAYS - 1, -1, -1)]
