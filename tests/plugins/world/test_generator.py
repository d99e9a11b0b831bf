"""The synthetic world: deterministic by seed, valid where it should be, broken where it should be,
and with the behavioural regularities the pipeline is meant to learn."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from learnrec.contracts.events import LearnerEvent, parse_payload
from learnrec.contracts.sources import SOURCE_TABLES
from learnrec.world.taxonomy import build_taxonomy
from tests.plugins.world.conftest import World, make_world


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json"):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    small = {"n_learners": 120, "n_courses": 60, "days": 7}
    a = make_world(tmp_path / "a", **small)
    b = make_world(tmp_path / "b", **small)
    c = make_world(tmp_path / "c", seed=12, **small)
    assert _digest(a.landing) == _digest(b.landing)
    assert _digest(a.truth) == _digest(b.truth)
    assert _digest(a.landing) != _digest(c.landing)


def test_sources_match_their_contracts(world: World) -> None:
    for table, schema in SOURCE_TABLES.items():
        data = pq.read_table(world.landing / "sources" / f"{table}.parquet")
        assert data.schema.equals(schema), table
        assert data.num_rows > 0, table


def test_taxonomy_is_large_and_prerequisites_point_down() -> None:
    tax = build_taxonomy()
    assert tax.n_skills >= 100
    assert len(set(tax.domains)) >= 6
    for skill, prereqs in enumerate(tax.prerequisites):
        assert skill not in prereqs
        for p in prereqs:
            assert tax.levels[p] <= tax.levels[skill], (tax.names[skill], tax.names[p])


def test_course_text_mentions_its_skills(world: World) -> None:
    courses = pq.read_table(world.landing / "sources" / "courses.parquet").to_pylist()
    truth = {r["course_id"]: r for r in pq.read_table(world.truth / "courses.parquet").to_pylist()}
    names = dict(zip(build_taxonomy().skill_ids.tolist(), build_taxonomy().names.tolist(), strict=True))
    for course in courses:
        for skill_id in truth[course["course_id"]]["skill_ids"]:
            assert names[skill_id] in course["description"]
        assert {m["module_id"] for m in json.loads(course["syllabus"])}
        for prereq in course["instructor_prerequisites"]:
            assert prereq in truth


def test_bad_lines_are_exactly_the_ones_the_contract_rejects(world: World) -> None:
    """Every line the generator corrupted (except unknown ids, which only the warehouse can tell)
    fails the contract; every other line passes it."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    rejected = 0
    for _, line in world.lines():
        try:
            LearnerEvent.model_validate(parse_payload(line)).check_not_future(now)
        except (ValueError, ValidationError):
            rejected += 1
    by_kind = world.manifest["bad_lines_by_kind"]
    unknown_ids = by_kind.get("unknown_learner", 0) + by_kind.get("unknown_course", 0)
    assert rejected == world.summary.bad_lines - unknown_ids
    assert len(by_kind) == 9, "every kind of bad input occurs in a world this size"
    share = world.summary.bad_lines / world.summary.lines
    assert 0.006 < share < 0.014  # configured 1%


def test_duplicates_and_late_arrivals(world: World) -> None:
    lines = world.lines()
    counts: dict[str, int] = {}
    late = 0
    for arrival, line in lines:
        counts[line] = counts.get(line, 0) + 1
        if line.startswith('{"learner_id":"L0') and f'"timestamp":"{arrival}' not in line:
            late += 1
    repeated = sum(n - 1 for n in counts.values())
    assert repeated == pytest.approx(world.summary.duplicates, rel=0.1)
    assert repeated / world.summary.events == pytest.approx(0.02, abs=0.006)
    assert late / world.summary.events == pytest.approx(0.02, abs=0.008)


def test_funnel_ratios(world: World) -> None:
    con = world.events()
    counts = dict(con.execute("SELECT event_type, count(*) FROM e GROUP BY 1").fetchall())
    assert counts["search"] < counts["click"] < counts["watch"]
    pairs = con.execute("""
        SELECT count(*) FILTER (WHERE clicked), count(*) FILTER (WHERE watched),
               count(*) FILTER (WHERE completed), count(*) FILTER (WHERE completed AND NOT watched)
        FROM (SELECT learner_id, course_id, bool_or(event_type = 'click') AS clicked,
                     bool_or(event_type = 'watch') AS watched, bool_or(event_type = 'complete') AS completed
              FROM e GROUP BY ALL)
    """).fetchone()
    clicked, watched, completed, completed_unwatched = pairs
    assert 0.3 < watched / clicked < 0.9
    assert 0.05 < completed / clicked < 0.5
    # only where delivery corrupted every watch event of a course (1% of lines are corrupted)
    assert completed_unwatched <= 0.01 * completed


def test_popularity_has_a_long_tail(world: World) -> None:
    top10, bottom50 = (
        world.events()
        .execute("""
        WITH c AS (SELECT course_id, count(*) AS n FROM e WHERE event_type = 'click' GROUP BY 1),
             r AS (SELECT n, percent_rank() OVER (ORDER BY n DESC) AS pr FROM c)
        SELECT sum(n) FILTER (WHERE pr < 0.1) / sum(n), sum(n) FILTER (WHERE pr >= 0.5) / sum(n) FROM r
    """)
        .fetchone()
    )
    assert top10 > 0.3
    assert bottom50 < 0.25


def test_quiz_scores_follow_the_skill_gap_and_prerequisites(world: World) -> None:
    con = duckdb.connect()
    corr, ready, short = con.execute(f"""
        SELECT corr(skill_gap, quiz_score),
               avg(quiz_score) FILTER (WHERE prerequisite_deficit = 0),
               avg(quiz_score) FILTER (WHERE prerequisite_deficit > 1)
        FROM '{world.truth}/quizzes.parquet'
    """).fetchone()
    assert corr > 0.6
    assert ready - short > 15


def test_dropout_share_and_engagement_falls_before_dropout(world: World) -> None:
    learners = pq.read_table(world.truth / "learners.parquet").to_pandas()
    share = learners["dropped_in_window"].mean()
    assert 0.05 < share < 0.5
    con = world.events()
    con.register("truth", learners)
    before, earlier = con.execute("""
        SELECT avg(n_recent), avg(n_earlier) FROM (
            SELECT t.learner_id,
                   count(*) FILTER (WHERE e.ts >= t.dropout_date - INTERVAL 6 DAY) AS n_recent,
                   count(*) FILTER (WHERE e.ts < t.dropout_date - INTERVAL 6 DAY
                                    AND e.ts >= t.dropout_date - INTERVAL 13 DAY) AS n_earlier
            FROM truth t JOIN e USING (learner_id)
            WHERE t.dropped_in_window AND t.dropout_date >= (SELECT min(ts)::DATE + 14 FROM e)
            GROUP BY 1)
    """).fetchone()
    assert before < 0.8 * earlier
    # and nobody acts after dropping out
    after = con.execute("""
        SELECT count(*) FROM truth t JOIN e USING (learner_id)
        WHERE t.dropout_date IS NOT NULL AND e.ts::DATE > t.dropout_date
    """).fetchone()[0]
    assert after == 0


def test_dropout_is_announced_by_a_fade(world: World) -> None:
    """Most learners who quit in the horizon were already fading at the window end (so behaviour
    can reveal it), yet not all (no certainty), and a fade is rare among those who stay."""
    truth = pq.read_table(world.truth / "learners.parquet").to_pandas()
    alive = truth.loc[~truth["dropped_in_window"] & (truth["events_in_window"] > 0)]
    fading = alive["fade_progress_at_window_end"] > 0
    quit_ = alive["dropped_in_horizon"]
    assert 0.05 < quit_.mean() < 0.35
    assert 0.4 < fading[quit_].mean() < 0.95
    assert fading[~quit_].mean() < 0.1
    assert (alive["idle_days_at_window_end"] >= 0).all()


def test_onboarding_skips_and_cold_start_learners(world: World) -> None:
    learners = pq.read_table(world.landing / "sources" / "learners.parquet").to_pandas()
    assert learners["career_goal"].isna().mean() == pytest.approx(0.15, abs=0.04)
    assert (learners["career_goal"].isna() == learners["interest_area"].isna()).all()
    truth = pq.read_table(world.truth / "learners.parquet").to_pandas()
    cold = ((truth["events_in_window"] > 0) & (truth["events_in_window"] < 10)).mean()
    assert cold > 0.05
    assert set(learners["data_tier"]) == {"default", "opted_in"}


def test_future_interests_are_kept_apart(world: World) -> None:
    future = pq.read_table(world.truth / "future_interactions.parquet")
    assert future.num_rows > 0
    landed_max = world.events().execute("SELECT max(ts) FROM e").fetchone()[0]
    assert landed_max.date() <= world.config.end_date
