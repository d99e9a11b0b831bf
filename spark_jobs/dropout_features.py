"""Dropout features: the behavioural signals the dropout model reads (run date D).

* days_since_last_activity: D - the UTC date of the learner's last event ever (0: active on D);
* activity_7d: events on D-6..D; activity_prev_21d: events on D-27..D-7;
* activity_trend = (r - p) / (r + p) with r = activity_7d / 7 and p = activity_prev_21d / 21, in
  [-1, 1]: -1 = stopped, 0 = steady (or no activity at all), +1 = new or returning;
* completion_rate, skip_rate: shares of the learner's course-days in the 30-day window that
  completed / skipped the course (null without course-days); see ``aggregates`` for course-day;
* avg_quiz_score: mean quiz score (0..100) in the window; quiz_trend: mean of the last 7 days
  minus mean of the 21 before (null unless both periods have quizzes);
* sessions_30d, events_30d: sessions and events in the window.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from spark_jobs.window import PREVIOUS_DAYS, RECENT_DAYS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def _ratio(numerator, denominator):
    from pyspark.sql import functions as F

    return F.when(denominator > 0, numerator / denominator)


def window_aggregates(run_date: date) -> list[Column]:
    """Per-learner aggregates over the window's daily_learner rollups (see :func:`window_columns`).

    ``learner_features`` computes them in one pass with the other window features' aggregates.
    """
    from pyspark.sql import functions as F

    age = F.datediff(F.lit(run_date), F.col("event_date"))
    recent = age < RECENT_DAYS
    previous = (age >= RECENT_DAYS) & (age < RECENT_DAYS + PREVIOUS_DAYS)

    def total(column: str, when=None):
        value = F.col(column) if when is None else F.when(when, F.col(column)).otherwise(0)
        return F.sum(value)

    return [
        total("n_events", recent).alias("activity_7d"),
        total("n_events", previous).alias("activity_prev_21d"),
        total("course_days").alias("course_days"),
        total("completed_course_days").alias("completed_course_days"),
        total("skipped_course_days").alias("skipped_course_days"),
        total("n_quiz").alias("n_quiz"),
        total("quiz_sum").alias("quiz_sum"),
        total("n_quiz", recent).alias("n_quiz_recent"),
        total("quiz_sum", recent).alias("quiz_sum_recent"),
        total("n_quiz", previous).alias("n_quiz_previous"),
        total("quiz_sum", previous).alias("quiz_sum_previous"),
        total("sessions").alias("sessions_30d"),
        total("n_events").alias("events_30d"),
    ]


def window_columns() -> list[Column]:
    """The window features of learners with activity in the window, from :func:`window_aggregates`."""
    from pyspark.sql import functions as F

    r = F.col("activity_7d") / RECENT_DAYS
    p = F.col("activity_prev_21d") / PREVIOUS_DAYS
    return [
        F.col("activity_7d").cast("long").alias("activity_7d"),
        F.col("activity_prev_21d").cast("long").alias("activity_prev_21d"),
        F.coalesce(_ratio(r - p, r + p), F.lit(0.0)).alias("activity_trend"),
        _ratio(F.col("completed_course_days"), F.col("course_days")).alias("completion_rate"),
        _ratio(F.col("skipped_course_days"), F.col("course_days")).alias("skip_rate"),
        _ratio(F.col("quiz_sum"), F.col("n_quiz")).alias("avg_quiz_score"),
        (
            _ratio(F.col("quiz_sum_recent"), F.col("n_quiz_recent"))
            - _ratio(F.col("quiz_sum_previous"), F.col("n_quiz_previous"))
        ).alias("quiz_trend"),
        F.col("sessions_30d").cast("long").alias("sessions_30d"),
        F.col("events_30d").cast("long").alias("events_30d"),
    ]


def days_since_last_activity(state_learner: DataFrame, run_date: date) -> DataFrame:
    from pyspark.sql import functions as F

    return state_learner.select(
        "learner_id",
        F.datediff(F.lit(run_date), F.to_date("last_event_at")).alias("days_since_last_activity"),
    )
