"""The tables more than one module reads or writes: their qualified names and Arrow schemas.

One home, so a renamed table or a changed column has one place to change and every reader
follows; ``ml``, ``exports``, ``spark_jobs`` and the rest of ``learnrec`` import from here.
A table only its owner module touches keeps its name there. ``tests/test_table_names.py`` scans
the source so that no other module spells a name twice over.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# operational snapshots (learnrec.warehouse.sources) and ingestion (learnrec.ingest)
LEARNERS = "raw.learners"
COURSES = "raw.courses"
SKILLS = "raw.skills"
CAREER_GOALS = "raw.career_goals"
LEARNER_EVENTS = "raw.learner_events"
QUARANTINED_EVENTS = "raw.quarantined_events"
INGEST_BATCHES = "raw.ingest_batches"
#: closed days that received late events: ingest marks them, the Spark feature run re-reads them
REPROCESS_DATES = "raw.reprocess_dates"
#: the AI Metadata Agent's inferences per course content hash (ml.agents.metadata)
COURSE_METADATA_INFERRED = "raw.course_metadata_inferred"
#: every course's metadata resolved by learnrec.course_metadata, the one resolution dbt reads
COURSE_METADATA_RESOLVED = "raw.course_metadata_resolved"

# dbt marts (dbt/models/marts)
DIM_LEARNERS = "marts.dim_learners"
DIM_COURSES = "marts.dim_courses"
LEARNER_COURSE_INTERACTIONS = "marts.fct_learner_course_interactions"
LEARNER_EVENTS_MART = "marts.fct_learner_events"
POPULAR_BY_CAREER = "marts.mart_popular_courses_by_career"
TOP_RATED_BY_INTEREST = "marts.mart_top_rated_by_interest"

# Spark features (spark_jobs)
LEARNER_FEATURES = "features.learner_features"

# model outputs (ml)
COURSE_EMBEDDINGS = "features.course_embeddings"
DROPOUT_SCORES = "features.dropout_scores"

# the recommendation stage (exports.recommendations.tables creates them)
RUNS = "recs.runs"
RECOMMENDATIONS = "recs.learner_recommendations"
LEARNING_PATHS = "recs.learning_paths"
CURRENT_RECOMMENDATIONS = "recs.current_learner_recommendations"
CURRENT_LEARNING_PATHS = "recs.current_learning_paths"
CURRENT_VERSION = "recs.current_version"
#: the Recommendation Log: every recommendation served (exports.recommendations.publish)
SERVED_LOG = "raw.served_recommendations"

# nudges (exports.nudges.outbox creates them)
NUDGE_OUTBOX = "recs.nudge_outbox"
NOTIFICATION_EVENTS = "raw.notification_events"

# privacy (learnrec.privacy, exports.privacy): erasure requests under the learner's keyed hash
ERASURE_REQUESTS = "ops.erasure_requests"


@cache
def _learning_path_schema() -> pa.Schema:
    """``recs.learning_paths``: the static paths of the precompute and the Learning Path Agent's."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("learner_id", pa.string(), nullable=False),
            pa.field("career_goal", pa.string(), nullable=False),
            pa.field("step", pa.int32(), nullable=False),
            pa.field("course_id", pa.string(), nullable=False),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),  # static | llm
        ]
    )


def __getattr__(name: str) -> Any:
    """Arrow schemas are built on first use: DAG files import the names above at parse time,
    and pyarrow (with numpy) would make every scheduler parse heavy."""
    if name == "LEARNING_PATH_SCHEMA":
        return _learning_path_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
