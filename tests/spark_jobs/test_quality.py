"""The great-expectations gate stops bad outputs and says which expectation failed on what.

Outputs go through the same path as in a run: a Spark frame of the table, its one-row profile
(``quality.profile``), the checkpoint.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from spark_jobs.quality import Expected, FeatureQualityError, profile, run_checkpoint

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

EXPECTED = Expected(n_learners=2, n_active_learners=1, n_courses=1, n_skills=3)
DAY = date(2026, 10, 30)


def learners(**overrides: list) -> dict[str, list]:
    rows = {
        "learner_id": ["LA", "LB"],
        "feature_date": [DAY] * 2,
        "skill_vector": [[0.0, 0.5, 0.2], [0.0, 0.0, 0.0]],
        "engagement_score": [0.4, 0.0],
        "preferred_format": ["video", "mixed"],
        "affinity_score": [0.7, 0.0],
        "style_updated_at": [datetime(2026, 10, 30, 10, tzinfo=UTC), None],
    }
    return rows | overrides


def courses(**overrides: list) -> dict[str, list]:
    rows = {
        "course_id": ["C1"],
        "feature_date": [DAY],
        "format": ["video"],
        "completion_rate": [1.0],
        "avg_quiz_score": [80.0],
        "n_learners_30d": [1],
        "learner_days_30d": [1],
        "events_30d": [4],
        "watch_minutes_per_learner_day": [10.0],
        "engagement_by_format": [1.0],
    }
    return rows | overrides


LEARNER_SCHEMA = (
    "learner_id string, feature_date date, skill_vector array<double>, engagement_score double, "
    "preferred_format string, affinity_score double, style_updated_at timestamp"
)
COURSE_SCHEMA = (
    "course_id string, feature_date date, format string, completion_rate double, avg_quiz_score double, "
    "n_learners_30d long, learner_days_30d long, events_30d long, watch_minutes_per_learner_day double, "
    "engagement_by_format double"
)


def check(spark, learner_rows: dict, course_rows: dict, expected: Expected, label: str) -> None:
    def frame(columns: dict[str, list], schema: str):
        return spark.createDataFrame(list(zip(*columns.values(), strict=True)), schema)

    frames = {
        "learner_features": frame(learner_rows, LEARNER_SCHEMA),
        "course_features": frame(course_rows, COURSE_SCHEMA),
    }
    run_checkpoint({t: profile(t, f, expected) for t, f in frames.items()}, expected, label)


def test_good_outputs_pass(spark) -> None:
    check(spark, learners(), courses(), EXPECTED, "test")


def test_bad_outputs_fail_with_reasons(spark) -> None:
    bad = learners(
        engagement_score=[1.5, 0.0],
        preferred_format=["video", None],
        skill_vector=[[0.0, 0.5, 0.2], [0.0, 0.0]],
        learner_id=["LA", "LA"],
    )
    with pytest.raises(FeatureQualityError) as failure:
        check(spark, bad, courses(completion_rate=[-0.1]), EXPECTED, "run date X")
    message = str(failure.value)
    assert "run date X" in message and "nothing was published" in message
    for reason in (
        "engagement_score.max",
        "preferred_format.nulls",
        "skill_vector.length.min",
        "learner_id.duplicates",
        "course_features",
        "completion_rate.min",
    ):
        assert reason in message
    assert "[1.5]" in message  # the observed value, not just the column


def test_row_count_must_match_the_learners_seen(spark) -> None:
    with pytest.raises(FeatureQualityError, match="'column': 'rows', 'min_value': 3"):
        check(
            spark,
            learners(),
            courses(),
            Expected(n_learners=3, n_active_learners=1, n_courses=1, n_skills=3),
            "test",
        )
