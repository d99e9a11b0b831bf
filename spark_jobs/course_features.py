"""Course features per run date, one row per catalogue course (30-day window).

* completion_rate: completed learner-days / learner-days (course-days seen from the course; null
  without any), avg_quiz_score: mean quiz score (0..100, null without quizzes);
* n_learners_30d: distinct engaged learners in the window (union of the daily HyperLogLog
  sketches: exact for small courses, ~1.6% error for large ones); learner_days_30d, events_30d;
* watch_minutes_per_learner_day: watch time per learner-day;
* engagement_by_format: that engagement relative to the mean of courses of the same format that
  had learners in the window (1.0 = typical for its format; null without learners), so a text
  course is compared with text courses, not with videos that are watched by the minute.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def course_features(daily_course: DataFrame, catalog: DataFrame, run_date: date) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    sums = daily_course.groupBy("course_id").agg(
        F.sum("learner_days").alias("learner_days_30d"),
        F.sum("completed_learner_days").alias("completed"),
        F.sum("n_quiz").alias("n_quiz"),
        F.sum("quiz_sum").alias("quiz_sum"),
        F.sum("n_events").alias("events_30d"),
        F.sum("watch_seconds").alias("watch_seconds"),
        F.hll_sketch_estimate(F.hll_union_agg("learners_sketch", True)).alias("n_learners_30d"),
    )
    days = F.col("learner_days_30d")
    per_day = F.when(days > 0, F.col("watch_seconds") / 60.0 / days)
    joined = catalog.select("course_id", "format").join(sums, "course_id", "left")
    format_mean = F.avg(per_day).over(Window.partitionBy("format"))
    return joined.select(
        "course_id",
        F.lit(run_date).alias("feature_date"),
        "format",
        F.when(days > 0, F.col("completed") / days).alias("completion_rate"),
        F.when(F.col("n_quiz") > 0, F.col("quiz_sum") / F.col("n_quiz")).alias("avg_quiz_score"),
        F.coalesce(F.col("n_learners_30d"), F.lit(0)).cast("long").alias("n_learners_30d"),
        F.coalesce(days, F.lit(0)).cast("long").alias("learner_days_30d"),
        F.coalesce(F.col("events_30d"), F.lit(0)).cast("long").alias("events_30d"),
        per_day.alias("watch_minutes_per_learner_day"),
        F.when(format_mean > 0, per_day / format_mean)
        .when(days > 0, F.lit(1.0))
        .alias("engagement_by_format"),
    )
