"""One learner's or course's odd data never stops the night: that learner is excluded or takes a
fallback, and the version passes the gate and publishes."""

from __future__ import annotations

import math
from datetime import timedelta

import pyarrow as pa
import pytest

from exports.recommendations.gate import run_gate
from exports.recommendations.precompute import precompute
from exports.recommendations.publish import publish
from ml.ranking.rules import RuleConfig

from .conftest import RUN_DATE, T0, course_rows, learner_rows, rows_of

TOP_N = 10
#: l10 is opted in with a full profile, in the middle of the id order (the skill vectors are read by
#: id range, so a learner left out there sits between included ones).
ODD = "l10"

LEARNER_CASES = {
    "expired_retention": {"retention_expiry": T0 - timedelta(days=30)},
    "skill_vector_too_short": {"skill_vector": [0.5]},
    "skill_vector_not_finite": {"skill_vector": [math.nan, math.inf, -math.inf, 2.0, -1.0, 0.1, 0.2, 0.3]},
    "no_skill_vector": {"skill_vector": None},
    "affinity_not_finite": {"affinity_score": math.inf},
    "unknown_tier": {"data_tier": "platinum"},
    "no_tier": {"data_tier": None},
    "unknown_career_goal": {"career_goal": "astronaut", "interest_area": "space"},
    "unknown_format": {"preferred_format": "hologram"},
    "no_event_count": {"n_behavioural_events": None},
}


def _replace(warehouse, table: str, rows: list[dict]) -> None:
    warehouse.load_arrow(table, pa.Table.from_pylist(rows), mode="replace")


def _night(warehouse, champion, content):
    report = precompute(
        warehouse, RUN_DATE, champion=champion, content=content, config=RuleConfig(top_n=TOP_N), chunk_size=7
    )
    gate = run_gate(warehouse, report.run_id, top_n=TOP_N)
    assert gate.success, gate.describe()
    publish(warehouse, report.run_id, keep_versions=3)
    return report


@pytest.mark.parametrize("case", sorted(LEARNER_CASES))
def test_one_odd_learner_is_excluded_or_falls_back_and_the_night_publishes(
    warehouse, champion, content, case
):
    learners = [r | LEARNER_CASES[case] if r["learner_id"] == ODD else r for r in learner_rows()]
    _replace(warehouse, "marts.dim_learners", learners)
    report = _night(warehouse, champion, content)
    served = rows_of(
        warehouse,
        "SELECT count(*) AS n FROM recs.learner_recommendations WHERE run_id = ? AND learner_id = ?",
        [report.run_id, ODD],
    )[0]["n"]
    assert served == (0 if case == "expired_retention" else TOP_N)
    assert report.n_learners == 29 - (case == "expired_retention")  # l30 expired in every case


COURSE_CASES = {
    "difficulty_not_finite": {"difficulty_score": math.nan},
    "difficulty_infinite": {"difficulty_score": -math.inf},
    "no_difficulty": {"difficulty_score": None},
    "quality_not_finite": {"quality_score": math.inf},
    "unknown_prerequisite": {"prerequisites": ["no-such-course"]},
    "own_prerequisite": {"prerequisites": ["c20"]},
    "unknown_skill": {"skill_tags": ["s999"]},
    "no_format": {"format": None},
}


@pytest.mark.parametrize("case", sorted(COURSE_CASES))
def test_one_odd_course_never_stops_the_night(warehouse, champion, content, case):
    courses = [r | COURSE_CASES[case] if r["course_id"] == "c20" else r for r in course_rows()]
    _replace(warehouse, "marts.dim_courses", courses)
    report = _night(warehouse, champion, content)
    assert report.n_learners == 29
