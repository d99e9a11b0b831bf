"""The product contracts hold where records are written: Arrow schemas are checked against them,
batches column-wise (nulls, enums, bounds), and a precomputed batch that would make bad
Recommendation Log entries is refused before it reaches the warehouse."""

from __future__ import annotations

import pyarrow as pa
import pytest

from exports.recommendations import tables
from learnrec.contracts.arrow import ContractViolation, check_schema, validate_table
from learnrec.contracts.product import CourseMetadata, RecommendationLog
from learnrec.course_metadata import RESOLVED_SCHEMA
from learnrec.warehouse import connect_warehouse


def _recommendations(**columns: list) -> pa.Table:
    rows = {
        "run_id": ["r1", "r1"],
        "learner_id": ["L1", "L1"],
        "course_id": ["C1", "C2"],
        "rank": [1, 2],
        "score": [0.9, 0.5],
        "model_version": ["als@3", "als@3"],
        "signals_used": [["collaborative"], ["collaborative"]],
        "reason": ["because", "because"],
        "fallback": [None, None],
        "log_id": ["r1:L1:1", "r1:L1:2"],
        "is_control": [False, False],
    }
    return pa.Table.from_pydict(rows | columns, schema=tables.RECOMMENDATION_SCHEMA)


def test_rows_are_checked_column_wise_against_the_contract() -> None:
    log = pa.table(
        {
            "log_id": ["a", None, "c"],
            "rank": pa.array([1, 0, 3], pa.int32()),
            "outcome": ["clicked", None, "bogus"],  # optional: null is fine, an unknown value is not
        }
    )
    with pytest.raises(ContractViolation) as broken:
        validate_table(log, RecommendationLog, {"rank": "rank_at_serve"})
    message = str(broken.value)
    assert "log_id: 1 null(s)" in message and "rank: 1 value(s) not ge 1" in message
    assert "outcome: 1 value(s) outside" in message and "outcome: 1 null" not in message
    courses = pa.table({"course_id": ["C1"], "difficulty_score": [5.5], "title": ["T"]})
    with pytest.raises(ContractViolation, match="difficulty_score: 1 value"):
        validate_table(courses, CourseMetadata)
    validate_table(log.slice(0, 1), RecommendationLog, {"rank": "rank_at_serve"})


def test_table_schemas_follow_the_contracts() -> None:
    check_schema(tables.SERVED_LOG_SCHEMA, RecommendationLog, complete=True)
    check_schema(tables.RECOMMENDATION_SCHEMA, RecommendationLog, tables.RECOMMENDATION_LOG_FIELDS)
    check_schema(RESOLVED_SCHEMA, CourseMetadata)
    drifted = tables.SERVED_LOG_SCHEMA.set(5, pa.field("rank_at_serve", pa.string()))
    with pytest.raises(ContractViolation, match="rank_at_serve: string"):
        check_schema(drifted, RecommendationLog)
    with pytest.raises(ContractViolation, match="served_at: missing"):
        check_schema(tables.SERVED_LOG_SCHEMA.remove(6), RecommendationLog, complete=True)


def test_precomputed_rows_that_break_the_log_contract_are_not_written(settings) -> None:
    with connect_warehouse(settings) as warehouse:
        tables.ensure_tables(warehouse)
        with pytest.raises(ContractViolation, match="rank: 1 value"):
            tables.append_recommendations(warehouse, _recommendations(rank=[0, 1]))
        assert warehouse.scalar(f"SELECT count(*) FROM {tables.RECOMMENDATIONS}") == 0
        tables.append_recommendations(warehouse, _recommendations())
        assert warehouse.scalar(f"SELECT count(*) FROM {tables.RECOMMENDATIONS}") == 2
