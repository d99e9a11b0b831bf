"""Job 2 of a feature run: ``features.learner_features``, one row per learner per run date.

Learners are everyone with at least one event up to the run date (the lifetime state), so a
learner who went quiet keeps a row. Columns come from the cores ``skill_vectors``, ``engagement``
and ``learning_style`` (the window features as aggregates of one pass over the rollups); a
learner without activity in the window gets engagement 0 and the ``mixed`` style. Dropout
features are not here: ``ml.dropout`` computes them for every past as-of date its labels need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_jobs import engagement, learning_style
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
)


def learner_features(inputs: PreparedInputs) -> DataFrame:
    from pyspark.sql import functions as F

    day = inputs.run_date
    learners = inputs.state_learner.select("learner_id")
    # every window feature in one aggregation: the 30 days of rollups are read and shuffled once
    window = (
        inputs.daily_learner.groupBy("learner_id")
        .agg(*engagement.aggregates(day), *learning_style.aggregates())
        .select("learner_id", *engagement.columns(), *learning_style.columns())
    )
    joined = learners.join(window, "learner_id", "left").join(
        skill_vectors(inputs.state_learner_course, inputs.catalog, inputs.n_skills), "learner_id", "left"
    )
    return joined.select(
        "learner_id",
        F.lit(day).alias("feature_date"),
        F.coalesce("skill_vector", zero_vector(inputs.n_skills)).alias("skill_vector"),
        F.coalesce("engagement_score", F.lit(0.0)).alias("engagement_score"),
        F.coalesce("preferred_format", F.lit(NO_EVIDENCE_FORMAT)).alias("preferred_format"),
        F.coalesce("affinity_score", F.lit(0.0)).alias("affinity_score"),
        "style_updated_at",
    )
