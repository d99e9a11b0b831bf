"""Precompute on the hand-made marts: routes, the product's fallbacks, privacy tiers, paths."""

from __future__ import annotations

import numpy as np
import pytest

from exports.recommendations.precompute import precompute
from ml.ranking.rules import RuleConfig
from tests.exports.recommendations.synthetic import FactorScorer

from .conftest import RUN_DATE, course_ids, learner_ids, rows_of

CONFIG = RuleConfig(top_n=10)


def run(warehouse, champion, content, **kw):
    return precompute(
        warehouse, RUN_DATE, champion=champion, content=content, config=CONFIG, chunk_size=7, **kw
    )


def recs_of(warehouse, run_id, learner):
    return rows_of(
        warehouse,
        "SELECT * FROM recs.learner_recommendations WHERE run_id = ? AND learner_id = ? ORDER BY rank",
        [run_id, learner],
    )


def test_every_active_learner_gets_n_recommendations(warehouse, champion, content):
    report = run(warehouse, champion, content)
    counts = {
        r["learner_id"]: r["n"]
        for r in rows_of(
            warehouse,
            "SELECT learner_id, count(*) AS n FROM recs.learner_recommendations WHERE run_id = ? GROUP BY 1",
            [report.run_id],
        )
    }
    active = [lid for lid in learner_ids() if lid != "l30"]  # l30's retention expired
    assert sorted(counts) == active
    assert set(counts.values()) == {10}
    assert report.n_learners == 29 and report.n_short == 0


def test_no_completed_or_in_progress_course_is_recommended(warehouse, champion, content):
    report = run(warehouse, champion, content)
    clash = warehouse.scalar(
        "SELECT count(*) FROM recs.learner_recommendations r JOIN marts.fct_learner_course_interactions i "
        "ON i.learner_id = r.learner_id AND i.course_id = r.course_id WHERE r.run_id = ?",
        [report.run_id],
    )
    assert clash == 0


def test_prerequisites_hold_and_the_missing_one_is_recommended(warehouse, champion, content):
    report = run(warehouse, champion, content)
    rows = rows_of(warehouse, "SELECT * FROM recs.learner_recommendations WHERE run_id = ?", [report.run_id])
    done = {
        (r["learner_id"], r["course_id"])
        for r in rows_of(warehouse, "SELECT * FROM marts.fct_learner_course_interactions WHERE completed")
    }
    for r in rows:
        if r["course_id"] == "c02":
            assert (r["learner_id"], "c01") in done
        if r["course_id"] == "c03":
            assert (r["learner_id"], "c02") in done
    unlocks = [r for r in rows if r["reason"].startswith("Start here: it unlocks")]
    assert unlocks, "some learner should have been pointed to a missing prerequisite"


def test_cold_start_gets_popular_courses_of_their_career(warehouse, champion, content):
    report = run(warehouse, champion, content)
    recs = recs_of(warehouse, report.run_id, "l04")  # 3 events, goal "ux designer"
    popular = {
        r["course_id"]
        for r in rows_of(
            warehouse,
            "SELECT course_id FROM marts.mart_popular_courses_by_career WHERE career_goal = 'ux designer'",
        )
    }
    assert {r["fallback"] for r in recs} == {"cold_start"}
    assert {r["course_id"] for r in recs} <= popular
    assert recs[0]["reason"] == "Popular with aspiring ux designers"
    assert recs[0]["model_version"] == "fallback:popular_by_career"
    assert "collaborative" not in recs[0]["signals_used"]


def test_skipped_onboarding_gets_popular_until_ten_events(warehouse, champion, content):
    report = run(warehouse, champion, content)
    skipper = recs_of(warehouse, report.run_id, "l05")  # skipped, 3 events: no career stated
    assert {r["fallback"] for r in skipper} == {"cold_start"}
    assert skipper[0]["reason"] == "Popular with learners across the platform"
    after_ten = recs_of(warehouse, report.run_id, "l06")  # skipped, 40 events: personalised
    assert {r["fallback"] for r in after_ten} == {None}


def test_engine_without_results_falls_back_to_top_rated_in_interest_area(warehouse, content):
    report = run(warehouse, None, content)  # no champion trained yet
    recs = recs_of(warehouse, report.run_id, "l01")  # opted in, interest "data"
    rated = [
        r["course_id"]
        for r in rows_of(
            warehouse,
            "SELECT course_id FROM marts.mart_top_rated_by_interest WHERE interest_area = 'data' ORDER BY rating_rank",
        )
    ]
    assert {r["fallback"] for r in recs} == {"no_results"}
    assert [r["course_id"] for r in recs if r["reason"] == "Top-rated in data"]
    assert {r["course_id"] for r in recs if r["reason"] == "Top-rated in data"} <= set(rated)
    assert recs[0]["model_version"] == "fallback:top_rated_by_interest+content:v1"
    assert "collaborative" not in recs[0]["signals_used"]


def test_scorer_that_knows_nothing_about_a_learner_is_no_results(warehouse, content):
    knows_some = FactorScorer([lid for lid in learner_ids() if lid != "l07"], course_ids(), factors=8, seed=1)
    report = run(warehouse, knows_some, content)
    assert {r["fallback"] for r in recs_of(warehouse, report.run_id, "l07")} == {"no_results"}
    assert {r["fallback"] for r in recs_of(warehouse, report.run_id, "l08")} == {None}


def test_without_any_scorer_everyone_still_gets_recommendations(warehouse):
    report = run(warehouse, None, None)
    assert report.n_short == 0 and report.fallbacks["no_results"] == 27
    assert recs_of(warehouse, report.run_id, "l01")[0]["model_version"] == "fallback:top_rated_by_interest"


def test_privacy_tier_decides_the_scorer_and_signals(warehouse, champion, content):
    report = run(warehouse, champion, content)
    opted_in = recs_of(warehouse, report.run_id, "l01")  # i % 3 != 0
    default = recs_of(warehouse, report.run_id, "l03")  # i % 3 == 0
    assert opted_in[0]["model_version"] == "blend:v1" and "collaborative" in opted_in[0]["signals_used"]
    assert default[0]["model_version"] == "content:v1"
    assert not {"collaborative", "skill_vector", "learning_style"} & set(default[0]["signals_used"])


def test_fallbacks_use_no_inferred_profile_as_their_signals_say(warehouse, content):
    """Cold start and no results record declared signals only, for every tier: an opted-in
    learner's inferred learning style and skill vector must not reorder them."""

    def fallback_recs(run_id):
        report = run(warehouse, None, content, run_id=run_id)
        assert report.fallbacks["cold_start"] == 2 and report.fallbacks["no_results"] == 18
        return rows_of(
            warehouse,
            "SELECT learner_id, rank, course_id, signals_used FROM recs.learner_recommendations "
            "WHERE run_id = ? AND learner_id IN ('l01', 'l02', 'l04') ORDER BY learner_id, rank",
            [run_id],
        )

    before = fallback_recs("a")
    warehouse.execute(  # l01, l02 no results, l04 cold start: all opted in
        "UPDATE marts.dim_learners SET preferred_format = 'text', affinity_score = 1.0, "
        "skill_vector = [1, 1, 1, 1, 1, 1, 1, 1]::DOUBLE[] WHERE learner_id IN ('l01', 'l02', 'l04')"
    )
    after = fallback_recs("b")
    assert not {"learning_style", "skill_vector"} & {s for r in after for s in r["signals_used"]}
    assert after == before


def test_reasons_are_readable_and_scores_finite(warehouse, champion, content):
    report = run(warehouse, champion, content)
    rows = rows_of(
        warehouse, "SELECT reason, score FROM recs.learner_recommendations WHERE run_id = ?", [report.run_id]
    )
    assert all(r["reason"] and not r["reason"].endswith(": ") for r in rows)
    assert np.isfinite([r["score"] for r in rows]).all()
    assert any(r["reason"].startswith("Because you completed Course") for r in rows)


def test_learning_paths_respect_prerequisites_and_skip_completed(warehouse, champion, content):
    report = run(warehouse, champion, content)
    paths = rows_of(
        warehouse,
        "SELECT * FROM recs.learning_paths WHERE run_id = ? ORDER BY learner_id, step",
        [report.run_id],
    )
    by_learner: dict[str, list[str]] = {}
    for p in paths:
        by_learner.setdefault(p["learner_id"], []).append(p["course_id"])
        assert p["source"] == "static"
    assert "l05" not in by_learner  # no career goal: no path
    assert "c01" not in by_learner["l01"]  # completed
    for steps in by_learner.values():
        assert [*steps] == sorted(set(steps), key=steps.index)  # no repeats, steps 1..n
        if "c03" in steps and "c02" in steps:
            assert steps.index("c02") < steps.index("c03")


def test_static_path_orders_prerequisite_chain():
    import pyarrow as pa

    from ml.ranking.catalog import build_catalog
    from ml.ranking.paths import career_path

    courses = pa.Table.from_pylist(
        [
            {
                "course_id": "a",
                "title": "A",
                "domain": "d",
                "format": "video",
                "difficulty_score": 3.0,
                "skill_tags": ["s1"],
                "prerequisites": ["b"],
                "quality_score": 0.5,
            },
            {
                "course_id": "b",
                "title": "B",
                "domain": "d",
                "format": "video",
                "difficulty_score": 4.0,
                "skill_tags": ["s0"],
                "prerequisites": ["c"],
                "quality_score": 0.5,
            },
            {
                "course_id": "c",
                "title": "C",
                "domain": "d",
                "format": "video",
                "difficulty_score": 5.0,
                "skill_tags": ["s9"],
                "prerequisites": [],
                "quality_score": 0.5,
            },
        ]
    )
    cat = build_catalog(courses)
    path = career_path("analyst", ["s1"], cat, {"s1": "SQL"})
    assert [cat.course_ids[c] for c, _ in path] == ["c", "b", "a"]
    assert path[-1][1] == "Builds SQL for your goal: analyst" and path[0][1] == "Needed before B"


@pytest.mark.parametrize("chunk_size", [1, 1000])
def test_result_does_not_depend_on_chunk_size(warehouse, champion, content, chunk_size):
    a = precompute(
        warehouse,
        RUN_DATE,
        champion=champion,
        content=content,
        config=CONFIG,
        chunk_size=chunk_size,
        run_id="a",
    )
    b = precompute(
        warehouse, RUN_DATE, champion=champion, content=content, config=CONFIG, chunk_size=7, run_id="b"
    )
    q = "SELECT learner_id, course_id, rank, reason FROM recs.learner_recommendations WHERE run_id = ? ORDER BY 1, 3"
    assert rows_of(warehouse, q, [a.run_id]) == rows_of(warehouse, q, [b.run_id])


def test_skill_vectors_are_read_for_opted_in_learners_only(warehouse):
    from exports.recommendations.inputs import load_inputs

    inputs = load_inputs(warehouse, RUN_DATE)
    known = ~np.isnan(inputs.skill_level[:, 0])
    tiers = dict(zip(inputs.learner_ids, inputs.data_tier, strict=True))
    assert known.any()
    assert all(tiers[lid] == "opted_in" for lid in inputs.learner_ids[known])
    assert all(tiers[lid] == "default" for lid in inputs.learner_ids[~known])
    assert ((inputs.skill_level[known] >= 0) & (inputs.skill_level[known] <= 1)).all()
