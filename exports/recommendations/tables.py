"""Tables of the recommendation stage (names binding per INTERFACES.md) and their schemas.

``recs.learner_recommendations`` and ``recs.learning_paths`` hold every kept version, keyed by
``run_id``; ``recs.current_version`` names the one apps see (views ``recs.current_*``), so
switching versions is a one-row update. ``recs.runs`` is the version registry; failed gates
raise rows in ``ops.alerts``.
"""

from __future__ import annotations

import pyarrow as pa

from learnrec.alerts import ensure_alerts_table
from learnrec.contracts.arrow import check_schema, validate_table
from learnrec.contracts.product import RecommendationLog
from learnrec.tables import (
    CURRENT_LEARNING_PATHS,
    CURRENT_RECOMMENDATIONS,
    CURRENT_VERSION,
    LEARNING_PATH_SCHEMA,
    LEARNING_PATHS,
    RECOMMENDATIONS,
    RUNS,
    SERVED_LOG,
)
from learnrec.warehouse import Warehouse

CAREER_PATHS = "recs.career_path_templates"
CURRENT = CURRENT_VERSION

#: The one path a learner is served from a version: the Learning Path Agent's (``source = 'llm'``)
#: where it wrote one, else the static path. A predicate over a ``recs.learning_paths`` row ``p``,
#: shared by the current-version view, the serving export and the gate.
SERVED_PATH = (
    f"(p.source = 'llm' OR NOT EXISTS (SELECT 1 FROM {LEARNING_PATHS} q"
    " WHERE q.run_id = p.run_id AND q.learner_id = p.learner_id AND q.source = 'llm'))"
)

RECOMMENDATION_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("learner_id", pa.string(), nullable=False),
        pa.field("course_id", pa.string(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("signals_used", pa.list_(pa.string()), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("fallback", pa.string()),  # null | cold_start | no_results
        pa.field("log_id", pa.string(), nullable=False),  # the Recommendation Log key apps report back
        pa.field(
            "is_control", pa.bool_(), nullable=False
        ),  # A/B control group (exports.recommendations.control)
    ]
)

#: The Recommendation Log (learnrec.contracts.product.RecommendationLog) + received_at, exactly
#: the columns of dbt's feedback source ``served_recommendations``.
SERVED_LOG_SCHEMA = pa.schema(
    [
        pa.field("log_id", pa.string()),
        pa.field("learner_id", pa.string()),
        pa.field("course_id", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("signals_used", pa.list_(pa.string())),
        pa.field("rank_at_serve", pa.int32()),
        pa.field("served_at", pa.timestamp("us", tz="UTC")),
        pa.field("outcome", pa.string()),
        pa.field("outcome_recorded_at", pa.timestamp("us", tz="UTC")),
        pa.field("received_at", pa.timestamp("us", tz="UTC")),
        pa.field("is_control", pa.bool_()),  # null on the apps' outcome rows
    ]
)

#: recs.learner_recommendations columns -> Recommendation Log fields: publishing logs each row
RECOMMENDATION_LOG_FIELDS = {"rank": "rank_at_serve"}
check_schema(RECOMMENDATION_SCHEMA, RecommendationLog, RECOMMENDATION_LOG_FIELDS)
check_schema(SERVED_LOG_SCHEMA, RecommendationLog, complete=True)

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {RUNS} (
        run_id VARCHAR, run_date DATE, status VARCHAR, created_at TIMESTAMPTZ,
        gated_at TIMESTAMPTZ, published_at TIMESTAMPTZ, n_learners BIGINT, n_recommendations BIGINT,
        model_versions VARCHAR, fallback_counts VARCHAR, message VARCHAR)""",
    f"CREATE TABLE IF NOT EXISTS {CURRENT} (run_id VARCHAR, switched_at TIMESTAMPTZ, previous_run_id VARCHAR)",
)


def ensure_tables(warehouse: Warehouse) -> None:
    """Create the stage's tables (empty) and the current-version views if missing."""
    for ddl in _DDL:
        warehouse.execute(ddl)
    ensure_alerts_table(warehouse)
    for name, schema in (
        (RECOMMENDATIONS, RECOMMENDATION_SCHEMA),
        (LEARNING_PATHS, LEARNING_PATH_SCHEMA),
        (SERVED_LOG, SERVED_LOG_SCHEMA),
    ):
        if not warehouse.table_exists(name):
            warehouse.load_arrow(name, schema.empty_table())
        elif name != LEARNING_PATHS:  # tables of before the control group get its column
            warehouse.execute(f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS is_control BOOLEAN")
    for view, table, where in (
        (CURRENT_RECOMMENDATIONS, RECOMMENDATIONS, "TRUE"),
        (CURRENT_LEARNING_PATHS, LEARNING_PATHS, SERVED_PATH),  # one path per learner
    ):
        warehouse.execute(
            f"CREATE OR REPLACE VIEW {view} AS SELECT p.* FROM {table} p "
            f"JOIN {CURRENT} c ON p.run_id = c.run_id WHERE {where}"
        )


def append_recommendations(warehouse: Warehouse, batch: pa.Table) -> None:
    """Append precomputed rows once they hold as Recommendation Log entries (publishing serves and
    logs them as they are): ids and model version present, ranks from 1. Column-wise, per batch."""
    validate_table(batch, RecommendationLog, RECOMMENDATION_LOG_FIELDS)
    warehouse.load_arrow(RECOMMENDATIONS, batch)


def current_run_id(warehouse: Warehouse) -> str | None:
    if not warehouse.table_exists(CURRENT):
        return None
    return warehouse.scalar(f"SELECT run_id FROM {CURRENT}")
