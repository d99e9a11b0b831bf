"""`dbt build` on DuckDB over a tiny generated world: every model, contract and dbt test passes,
and the marts say what the product needs (cold start, fallbacks, outcomes, features when present)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyarrow as pa
import pytest

from learnrec.transform.dbt_runner import DbtRunError, DbtRunResult, build, generate_docs
from learnrec.warehouse import connect_warehouse
from tests.dbt.conftest import TinyWorld, make_tiny_world, served_recommendations

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TinyWorld, DbtRunResult]]:
    world = make_tiny_world(tmp_path_factory.mktemp("dbt-build") / "home")
    with connect_warehouse(world.settings) as warehouse:
        warehouse.load_arrow("raw.learner_events", world.events, mode="replace")
        warehouse.load_arrow(
            "raw.served_recommendations", served_recommendations(world.events), mode="replace"
        )
    yield world, build(world.settings)


def rows(world: TinyWorld, sql: str) -> list[dict]:
    with connect_warehouse(world.settings, read_only=True) as warehouse:
        return warehouse.query(sql).to_pylist()


def test_every_model_and_test_passes(built) -> None:
    _, result = built
    assert result.statuses, "dbt built nothing"
    failed = {node: status for node, status in result.statuses.items() if status not in {"success", "pass"}}
    assert not failed
    assert result.count("pass") >= 200  # generic + singular tests ran


def test_dimensions_cover_the_snapshots_and_hide_contact_details(built) -> None:
    world, _ = built
    [counts] = rows(
        world,
        "select (select count(*) from raw.learners) as raw_learners,"
        " (select count(*) from marts.dim_learners) as dim_learners,"
        " (select count(*) from raw.courses) as raw_courses,"
        " (select count(*) from marts.dim_courses) as dim_courses",
    )
    assert counts["raw_learners"] == counts["dim_learners"] > 0
    assert counts["raw_courses"] == counts["dim_courses"] > 0
    columns = {
        r["column_name"]
        for r in rows(
            world, "select column_name from information_schema.columns where table_schema = 'marts'"
        )
    }
    assert not {"email", "push_token"} & columns


def test_cold_start_counts_behavioural_events(built) -> None:
    world, _ = built
    expected: dict[str, int] = {}
    for learner in world.events.column("learner_id").to_pylist():
        expected[learner] = expected.get(learner, 0) + 1
    for row in rows(world, "select learner_id, n_behavioural_events, is_cold_start from marts.dim_learners"):
        n = expected.get(row["learner_id"], 0)
        assert row["n_behavioural_events"] == n
        assert row["is_cold_start"] == (n < 10)
    assert {r["is_cold_start"] for r in rows(world, "select is_cold_start from marts.dim_learners")} == {
        True,
        False,
    }


def test_events_fact_holds_each_valid_event_once_with_late_arrivals(built) -> None:
    world, _ = built
    [fact] = rows(
        world,
        "select count(*) as n, count(distinct event_id) as n_ids, count(*) filter (where is_late_arrival) as n_late"
        " from marts.fct_learner_events",
    )
    assert fact["n"] == fact["n_ids"] == world.events.num_rows
    assert fact["n_late"] > 0


def test_interaction_weights(built) -> None:
    world, _ = built
    interactions = rows(world, "select * from marts.fct_learner_course_interactions")
    assert interactions
    for row in interactions:
        assert row["weight"] >= 0
        assert (row["weight"] == 0) == row["is_explicit_negative"]
        if row["is_explicit_negative"]:
            assert row["skipped"] and row["n_watch_events"] == 0
    completed = [r["weight"] for r in interactions if r["completed"] and not r["is_explicit_negative"]]
    clicked_only = [
        r["weight"] for r in interactions if r["n_clicks"] and not r["n_watch_events"] and not r["completed"]
    ]
    assert completed and clicked_only and min(completed) > max(clicked_only)


def test_fallback_marts_rank_every_group(built) -> None:
    world, _ = built
    goals = rows(world, "select career_goal from raw.career_goals")
    popular = rows(
        world,
        "select career_goal, count(*) as n, max(popularity_rank) as top from marts.mart_popular_courses_by_career group by 1",
    )
    assert len(popular) == len(goals)
    assert all(r["n"] == r["top"] == 50 for r in popular)
    # the goal's own learners' favourites come first
    [best] = rows(
        world,
        "select p.n_learners from marts.mart_popular_courses_by_career p"
        " where p.popularity_rank = 1 order by p.n_learners desc limit 1",
    )
    assert best["n_learners"] > 0
    top = rows(
        world,
        "select interest_area, rating_rank, quality_score from marts.mart_top_rated_by_interest order by interest_area, rating_rank",
    )
    by_area: dict[str, list[float]] = {}
    for r in top:
        by_area.setdefault(r["interest_area"], []).append(r["quality_score"])
    assert by_area and all(scores == sorted(scores, reverse=True) for scores in by_area.values())


def test_recommendation_outcomes_attributed_within_windows(built) -> None:
    world, _ = built
    outcomes = {r["log_id"]: r for r in rows(world, "select * from marts.fct_recommendation_outcomes")}
    assert outcomes["served-before-click"]["outcome"] in {"clicked", "enrolled", "completed"}
    assert outcomes["served-before-click"]["is_clicked"]
    assert outcomes["served-before-complete"]["outcome"] == "completed"
    assert outcomes["served-after-everything"]["outcome"] == "ignored"
    assert outcomes["served-at-the-end"]["outcome"] is None  # click window still open: pending
    assert outcomes["served-before-click"]["reported_outcome"] == "clicked"
    performance = rows(world, "select * from marts.mart_model_performance")
    assert sum(r["n_served"] for r in performance) == len(outcomes)
    assert {r["model_version"] for r in performance} == {"blend:v1"}


def test_dim_learners_picks_up_features_once_they_exist(built) -> None:
    world, _ = built
    learner = rows(world, "select learner_id from marts.dim_learners order by learner_id limit 1")[0][
        "learner_id"
    ]
    run_date = world.events.column("event_date").to_pylist()[-1]
    features = pa.table(
        {
            "learner_id": [learner, learner],
            "feature_date": [run_date - timedelta(days=1), run_date],
            "skill_vector": [[0.1, 0.2], [0.3, 0.4]],
            "engagement_score": [0.2, 0.7],
            "preferred_format": ["text", "video"],
            "affinity_score": [0.5, 0.9],
            "style_updated_at": pa.array([None, None], pa.timestamp("us", tz="UTC")),
        }
    )
    scores = pa.table(
        {
            "learner_id": [learner],
            "score_date": [run_date],
            "dropout_probability": [0.25],
            "model_version": ["dropout:v3"],
        }
    )
    with connect_warehouse(world.settings) as warehouse:
        warehouse.load_arrow("features.learner_features", features, mode="replace")
        warehouse.load_arrow("features.dropout_scores", scores, mode="replace")
    try:
        build(world.settings, select=["+dim_learners"])
        row = rows(world, f"select * from marts.dim_learners where learner_id = '{learner}'")[0]
        assert row["skill_vector"] == [0.3, 0.4]  # the newest feature date wins
        assert row["engagement_score"] == 0.7
        assert (row["preferred_format"], row["learning_style_source"]) == ("video", "learned")
        assert row["dropout_probability"] == 0.25
        others = rows(
            world, f"select learning_style_source from marts.dim_learners where learner_id <> '{learner}'"
        )
        assert {r["learning_style_source"] for r in others} <= {"declared", None}
    finally:
        with connect_warehouse(world.settings) as warehouse:
            warehouse.execute("drop table features.learner_features")
            warehouse.execute("drop table features.dropout_scores")


def test_a_broken_invariant_fails_the_build(built) -> None:
    world, _ = built
    with connect_warehouse(world.settings) as warehouse:
        warehouse.execute(
            "insert into raw.course_ratings select learner_id, course_id, 9, rated_at from raw.course_ratings limit 1"
        )
    try:
        with pytest.raises(DbtRunError, match="value_between_stg_operational__course_ratings_rating"):
            build(world.settings, select=["stg_operational__course_ratings"])
    finally:
        with connect_warehouse(world.settings) as warehouse:
            warehouse.execute("delete from raw.course_ratings where rating = 9")


def test_docs_generate_into_the_state_folder(built) -> None:
    world, _ = built
    index = generate_docs(world.settings)
    assert index.exists() and index.is_relative_to(world.settings.home)
    assert (index.parent / "catalog.json").exists()
