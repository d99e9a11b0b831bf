"""The great-expectations gate stops bad outputs and says which expectation failed on what."""

from __future__ import annotations

import pandas as pd
import pytest

from spark_jobs.quality import Expected, FeatureQualityError, run_checkpoint

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

EXPECTED = Expected(n_learners=2, n_active_learners=1, n_courses=1, n_skills=3)


def learners(**overrides: list) -> pd.DataFrame:
    rows = {
        "learner_id": ["LA", "LB"],
        "feature_date": [pd.Timestamp("2026-10-30").date()] * 2,
        "skill_vector_length": [3, 3],
        "skill_vector_min": [0.0, 0.0],
        "skill_vector_max": [0.5, 0.0],
        "engagement_score": [0.4, 0.0],
        "preferred_format": ["video", "mixed"],
        "affinity_score": [0.7, 0.0],
        "style_updated_at": [pd.Timestamp("2026-10-30T10:00Z"), None],
        "days_since_last_activity": [0, 40],
        "activity_7d": [5, 0],
        "activity_prev_21d": [2, 0],
        "activity_trend": [0.76, 0.0],
        "completion_rate": [0.25, None],
        "skip_rate": [0.25, None],
        "quiz_trend": [None, None],
        "avg_quiz_score": [80.0, None],
        "sessions_30d": [3, 0],
        "events_30d": [7, 0],
    }
    return pd.DataFrame(rows | overrides)


def courses(**overrides: list) -> pd.DataFrame:
    rows = {
        "course_id": ["C1"],
        "feature_date": [pd.Timestamp("2026-10-30").date()],
        "format": ["video"],
        "completion_rate": [1.0],
        "avg_quiz_score": [80.0],
        "n_learners_30d": [1],
        "learner_days_30d": [1],
        "events_30d": [4],
        "watch_minutes_per_learner_day": [10.0],
        "engagement_by_format": [1.0],
    }
    return pd.DataFrame(rows | overrides)


def test_good_outputs_pass() -> None:
    run_checkpoint({"learner_features": learners(), "course_features": courses()}, EXPECTED, "test")


def test_bad_outputs_fail_with_reasons() -> None:
    bad = learners(engagement_score=[1.5, 0.0], preferred_format=["video", None], skill_vector_length=[3, 2])
    with pytest.raises(FeatureQualityError) as failure:
        run_checkpoint(
            {"learner_features": bad, "course_features": courses(completion_rate=[-0.1])},
            EXPECTED,
            "run date X",
        )
    message = str(failure.value)
    assert "run date X" in message and "nothing was published" in message
    for reason in (
        "engagement_score",
        "preferred_format",
        "skill_vector_length",
        "course_features",
        "completion_rate",
    ):
        assert reason in message


def test_row_count_must_match_the_learners_seen() -> None:
    with pytest.raises(FeatureQualityError, match="expect_table_row_count_to_equal"):
        run_checkpoint(
            {"learner_features": learners(), "course_features": courses()},
            Expected(n_learners=3, n_active_learners=1, n_courses=1, n_skills=3),
            "test",
        )
