"""engagement_score: how engaged a learner has been over the last 30 days, time-decayed, in [0, 1].

Formula (per learner, run date D, window days d = D-29 .. D, age a = D - d)::

    intensity(d) = 1 - exp(-(events(d) + watch_seconds(d) / WATCH_SECONDS_PER_EVENT) / INTENSITY_SCALE)
    weight(a)    = 0.5 ** (a / HALF_LIFE_DAYS)
    engagement   = sum_d weight(a) * intensity(d) / sum_{a=0..29} weight(a)

A day's intensity saturates (ten events, or a hundred minutes of watching, give 1 - 1/e ~ 0.63),
so a binge day cannot outweigh steady habit; the half-life of a week makes last week count twice
as much as the week before. Every day of the window is in the denominator, so a learner active
every day at high intensity approaches 1, and a learner silent for 30 days scores exactly 0.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from spark_jobs.window import WINDOW_DAYS

if TYPE_CHECKING:
    from pyspark.sql import Column

HALF_LIFE_DAYS = 7.0
INTENSITY_SCALE = 10.0
WATCH_SECONDS_PER_EVENT = 600.0
WEIGHT_TOTAL = sum(0.5 ** (age / HALF_LIFE_DAYS) for age in range(WINDOW_DAYS))


def aggregates(run_date: date) -> list[Column]:
    """Per-learner aggregates over the window's daily_learner rollups (see :func:`columns`)."""
    from pyspark.sql import functions as F

    age = F.datediff(F.lit(run_date), F.col("event_date"))
    intensity = 1.0 - F.exp(
        -(F.col("n_events") + F.col("watch_seconds") / WATCH_SECONDS_PER_EVENT) / INTENSITY_SCALE
    )
    weight = F.pow(F.lit(0.5), age / HALF_LIFE_DAYS)
    return [F.sum(weight * intensity).alias("engagement_weighted")]


def columns() -> list[Column]:
    """engagement_score from :func:`aggregates`."""
    from pyspark.sql import functions as F

    return [F.least(F.lit(1.0), F.col("engagement_weighted") / WEIGHT_TOTAL).alias("engagement_score")]
