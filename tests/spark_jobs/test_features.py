"""Every feature on a tiny hand-made history, computed by hand (run date D = 2026-10-30).

Learner LA: on D watches C1 (video, 600 s) and C2 (text, 300 s), completes C1, scores 80 on its
quiz, and clicks C2 again four hours later (second session); ten days before D watches C3 (video,
1200 s) and skips C2. Learner LB completed C2 (quiz 60) and C3 (no quiz) 40 days before D, outside
the window. Learner LC only searched on D. C4 is never touched.
"""

from __future__ import annotations

import math

import pytest

from learnrec.contracts.skills import skill_index
from learnrec.warehouse import connect_warehouse
from spark_jobs.engagement import WEIGHT_TOTAL
from spark_jobs.features import run_features
from spark_jobs.learner_features import COLUMNS
from tests.spark_jobs.conftest import RUN_DATE, Ev, at, days_before, fresh_settings, write_events

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.xdist_group("spark")]

D = RUN_DATE
D10 = days_before(10)
D40 = days_before(40)

HISTORY = [
    Ev("LA", "watch", "C1", at(D, 10, 0), watch=600),
    Ev("LA", "watch", "C2", at(D, 10, 10), watch=300),
    Ev("LA", "complete", "C1", at(D, 10, 20)),
    Ev("LA", "quiz_score", "C1", at(D, 10, 25), quiz=80.0),
    Ev("LA", "click", "C2", at(D, 14, 0)),
    Ev("LA", "watch", "C3", at(D10, 9, 0), watch=1200),
    Ev("LA", "skip", "C2", at(D10, 9, 5)),
    Ev("LB", "complete", "C2", at(D40, 12, 0)),
    Ev("LB", "quiz_score", "C2", at(D40, 12, 5), quiz=60.0),
    Ev("LB", "complete", "C3", at(D40, 13, 0)),
    Ev("LC", "search", "C1", at(D, 8, 0)),
]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return fresh_settings(tmp_path_factory, "features")


@pytest.fixture(scope="module")
def published(spark, scenario):
    write_events(scenario.lake_root, HISTORY, "batch-1")
    report = run_features(scenario, D, spark=spark)
    with connect_warehouse(scenario) as warehouse:
        learners = {
            r["learner_id"]: r for r in warehouse.query("SELECT * FROM features.learner_features").to_pylist()
        }
        courses = {
            r["course_id"]: r for r in warehouse.query("SELECT * FROM features.course_features").to_pylist()
        }
    return report, learners, courses


def test_skill_index_orders_by_id_and_rejects_duplicates() -> None:
    assert skill_index(["S03", "S01", "S02"]) == {"S01": 0, "S02": 1, "S03": 2}
    with pytest.raises(ValueError, match="duplicate"):
        skill_index(["S01", "S01"])


def test_report_counts(published) -> None:
    report, learners, courses = published
    assert (report.learners, report.active_learners, report.courses) == (3, 2, 4)
    assert set(learners) == {"LA", "LB", "LC"} and set(courses) == {"C1", "C2", "C3", "C4"}
    assert all(r["feature_date"] == D for r in [*learners.values(), *courses.values()])


def test_skill_vectors(published) -> None:
    _, learners, _ = published
    # LA completed C1 (tags S01, S02; beginner 1.5 -> 0.4 + 0.6 * 0.5 / 4 = 0.475) with quiz 80.
    e_c1 = 0.8 * 0.475
    assert learners["LA"]["skill_vector"] == pytest.approx([e_c1, e_c1, 0.0])
    # LB: C2 (S03, advanced 4.5 -> 0.925, quiz 60 -> 0.6) and C3 (the agent's latest row:
    # S03, difficulty 5 -> 1.0; no quiz -> 0.6), combined as a noisy-OR.
    e_c2, e_c3 = 0.6 * 0.925, 0.6 * 1.0
    assert learners["LB"]["skill_vector"] == pytest.approx([0.0, 0.0, 1 - (1 - e_c2) * (1 - e_c3)])
    assert learners["LC"]["skill_vector"] == [0.0, 0.0, 0.0]


def test_engagement_score(published) -> None:
    _, learners, _ = published
    day0 = 1 - math.exp(-(5 + 900 / 600) / 10)
    day10 = 1 - math.exp(-(2 + 1200 / 600) / 10)
    expected = (day0 + 0.5 ** (10 / 7) * day10) / WEIGHT_TOTAL
    assert learners["LA"]["engagement_score"] == pytest.approx(expected)
    assert learners["LB"]["engagement_score"] == 0.0
    assert learners["LC"]["engagement_score"] == pytest.approx((1 - math.exp(-0.1)) / WEIGHT_TOTAL)


def test_learning_style(published) -> None:
    _, learners, _ = published
    la = learners["LA"]
    video, text = 600 + 1200, 300
    share = video / (video + text)
    assert la["preferred_format"] == "video"
    assert la["affinity_score"] == pytest.approx(share * (1 - math.exp(-(video + text) / 3600)))
    assert la["style_updated_at"].replace(tzinfo=None) == at(D, 10, 10).replace(tzinfo=None)
    for learner in ("LB", "LC"):
        assert (learners[learner]["preferred_format"], learners[learner]["affinity_score"]) == ("mixed", 0.0)
        assert learners[learner]["style_updated_at"] is None


def test_dropout_features_are_left_to_the_dropout_model(published) -> None:
    """``ml.dropout`` computes its features for every as-of date its labels need; Spark's copy
    of them (recency, 7-vs-21-day activity, skips, quiz trend) was gated nightly and read by nothing."""
    _, learners, _ = published
    assert tuple(learners["LA"]) == COLUMNS


def test_course_features(published) -> None:
    _, _, courses = published
    c1, c2, c3, c4 = (courses[c] for c in ("C1", "C2", "C3", "C4"))
    # C1: one learner-day (LA@D; LC's search does not engage), completed, quiz 80, 600 s
    assert (c1["completion_rate"], c1["avg_quiz_score"], c1["n_learners_30d"], c1["learner_days_30d"]) == (
        1.0,
        80.0,
        1,
        1,
    )
    assert c1["events_30d"] == 4
    # C2: LA@D and LA@D-10 (LB's completion is outside the window)
    assert (c2["completion_rate"], c2["avg_quiz_score"], c2["n_learners_30d"], c2["learner_days_30d"]) == (
        0.0,
        None,
        1,
        2,
    )
    # video courses with learners: C1 10 min per learner-day, C3 20 -> mean 15
    assert c1["watch_minutes_per_learner_day"] == pytest.approx(10.0)
    assert c1["engagement_by_format"] == pytest.approx(10 / 15)
    assert c3["engagement_by_format"] == pytest.approx(20 / 15)
    assert c2["engagement_by_format"] == pytest.approx(1.0)  # the only text course
    assert (c4["n_learners_30d"], c4["completion_rate"], c4["engagement_by_format"]) == (0, None, None)


def test_rerun_replaces_the_date(spark, scenario, published) -> None:
    run_features(scenario, D, spark=spark)
    with connect_warehouse(scenario) as warehouse:
        counts = warehouse.query(
            "SELECT count(*) AS n, count(DISTINCT learner_id) AS d FROM features.learner_features"
        ).to_pylist()[0]
    assert counts == {"n": 3, "d": 3}
