"""Job 2 of a feature run: ``features.learner_features``, one row per learner per run date.

Learners are everyone with at least one event up to the run date (the lifetime state), so a
learner who went quiet keeps a row whose days_since_last_activity grows: exactly the learners the
dropout model and the nudges care about. Columns (INTERFACES.md) come from the cores:
``skill_vectors``, ``engagement``, ``learning_style`` and ``dropout_features`` (the window
features as aggregates of one pass over the rollups); a learner without
activity in the window gets zero counts, engagement 0, no rates, and the ``mixed`` style.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_jobs import engagement, learning_style
from spark_jobs.dropout_features import days_since_last_activity, window_aggregates, window_columns
from spark_jobs.learning_style import NO_EVIDENCE_FORMAT
from spark_jobs.skill_vectors import skill_vectors, zero_vector

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from spark_jobs.incremental import PreparedInputs

COLUMNS = (
    "learner_id",
    "feature_date",
    "skill_vector",
    "engagement_score",
    "preferred_format",
    "affinity_score",
    "style_updated_at",
    "days_since_last_activity",
    "activity_7d",
    "activity_prev_21d",
    "activity_trend",
    "completion_rate",
    "skip_rate",
    "quiz_trend",
    "avg_quiz_score",
    "sessions_30d",
    "events_30d",
)


def learner_features(inputs: PreparedInputs) -> DataFrame:
    from pyspark.sql import functions as F

    day = inputs.run_date
    learners = days_since_last_activity(inputs.state_learner, day)
    # every window feature in one aggregation: the 30 days of rollups are read and shuffled once
    window = (
        inputs.daily_learner.groupBy("learner_id")
        .agg(*window_aggregates(day), *engagement.aggregates(day), *learning_style.aggregates())
        .select("learner_id", *window_columns(), *engagement.columns(), *learning_style.columns())
    )
    joined = learners.join(window, "learner_id", "left").join(
        skill_vectors(inputs.state_learner_course, inputs.catalog, inputs.n_skills), "learner_id", "left"
    )
    zero = F.lit(0)
    return joined.select(
        "learner_id",
        F.lit(day).alias("feature_date"),
        F.coalesce("skill_vector", zero_vector(inputs.n_skills)).alias("skill_vector"),
        F.coalesce("engagement_score", F.lit(0.0)).alias("engagement_score"),
        F.coalesce("preferred_format", F.lit(NO_EVIDENCE_FORMAT)).alias("preferred_format"),
        F.coalesce("affinity_score", F.lit(0.0)).alias("affinity_score"),
        "style_updated_at",
        "days_since_last_activity",
        F.coalesce("activity_7d", zero).cast("long").alias("activity_7d"),
        F.coalesce("activity_prev_21d", zero).cast("long").alias("activity_prev_21d"),
        F.coalesce("activity_trend", F.lit(0.0)).alias("activity_trend"),
        "completion_rate",
        "skip_rate",
        "quiz_trend",
        "avg_quiz_score",
        F.coalesce("sessions_30d", zero).cast("long").alias("sessions_30d"),
        F.coalesce("events_30d", zero).cast("long").alias("events_30d"),
    )
