"""Benchmark suite ``training``: nightly training time per model at scale (``make bench``).

Target (issue #6): every model for 1M learners x 10k courses x 20M interactions in under 10
minutes on 2 cores. Synthetic mart-shaped tables (grouped tastes, Zipf popularity within a group,
8% skips, 30 days) are loaded into a scratch DuckDB warehouse and the nightly functions run on
them exactly as the DAG calls them: ``train_model`` per component (three fitted stages each: the
validation, test and serving cuts), ``evaluate_and_promote`` and ``train_dropout``. Content uses
the real MiniLM encoder. The sum is what a nightly run costs when the tasks run one after another.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from learnrec.benchmarks import Recorder, peak_rss_mb
from learnrec.settings import load_settings
from learnrec.warehouse import connect_warehouse

#: label -> (learners, courses, interactions)
SCALES = {"100k x 2k x 2M": (100_000, 2_000, 2_000_000), "1M x 10k x 20M": (1_000_000, 10_000, 20_000_000)}
QUICK_SCALES = {"5k x 500 x 100k": (5_000, 500, 100_000)}
RUN_DATE = date(2026, 10, 31)
DAYS = 30
GROUPS = 20
N_SKILLS = 40


def synthetic_marts(
    n_learners: int, n_courses: int, n_interactions: int, seed: int = 7
) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    learner_group = rng.integers(0, GROUPS, n_learners)
    course_group = rng.integers(0, GROUPS, n_courses)
    by_group = [np.flatnonzero(course_group == g) for g in range(GROUPS)]
    learner = rng.integers(0, n_learners, n_interactions)
    own = rng.random(n_interactions) < 0.8
    course = rng.integers(0, n_courses, n_interactions)
    for g in range(GROUPS):
        pick = own & (learner_group[learner] == g)
        members = by_group[g]
        ranks = np.minimum(rng.zipf(1.3, int(pick.sum())) - 1, len(members) - 1)
        course[pick] = members[ranks]
    key = np.unique(learner.astype(np.int64) * n_courses + course)
    learner, course = key // n_courses, key % n_courses
    n = len(key)
    skipped = rng.random(n) < 0.08
    weight = np.where(skipped, 0.0, rng.uniform(0.5, 8.0, n))
    start = datetime.combine(RUN_DATE - timedelta(days=DAYS - 1), datetime.min.time(), tzinfo=UTC)
    first = pd.to_datetime(start) + pd.to_timedelta(rng.integers(0, DAYS * 86400, n), unit="s")
    lid = np.char.add("L", np.char.zfill(np.arange(n_learners).astype(str), 7))
    cid = np.char.add("C", np.char.zfill(np.arange(n_courses).astype(str), 5))
    goals = np.array([f"goal {g}" for g in range(GROUPS)])
    skill_ids = [f"S{k:03d}" for k in range(N_SKILLS)]
    interactions = pa.table(
        {
            "learner_id": lid[learner],
            "course_id": cid[course],
            "weight": weight,
            "n_events": rng.integers(1, 12, n),
            "watch_share": np.where(skipped, 0.0, rng.random(n)),
            "completed": ~skipped & (rng.random(n) < 0.3),
            "skipped": skipped,
            "avg_quiz_score": rng.uniform(30, 100, n),
            "first_event_at": first,
            "last_event_at": first,
        }
    )
    events = pa.table(
        {
            "learner_id": lid[learner],
            "event_type": np.where(skipped, "skip", "watch"),
            "course_id": cid[course],
            "event_at": first,
            "event_date": pa.array(first.date, pa.date32()),
            "watch_duration_seconds": rng.integers(60, 3600, n),
            "quiz_score": pa.nulls(n, pa.float64()),
        }
    )
    learners = pa.table(
        {
            "learner_id": lid,
            "career_goal": goals[learner_group],
            "current_role": np.array(["analyst", "engineer", "student"])[rng.integers(0, 3, n_learners)],
            "interest_area": goals[learner_group],
            "data_tier": np.where(rng.random(n_learners) < 0.45, "opted_in", "default"),
            "onboarding_skipped": rng.random(n_learners) < 0.15,
            "n_behavioural_events": np.bincount(learner, minlength=n_learners),
            "is_cold_start": np.bincount(learner, minlength=n_learners) < 10,
        }
    )
    skill_of_group = rng.integers(0, N_SKILLS, (GROUPS, 3))
    vectors = np.zeros((n_learners, N_SKILLS), np.float64)
    for j in range(3):
        vectors[np.arange(n_learners), skill_of_group[learner_group, j]] = rng.random(n_learners)
    features = pa.table(
        {
            "learner_id": lid,
            "feature_date": pa.array([RUN_DATE] * n_learners, pa.date32()),
            "skill_vector": pa.FixedSizeListArray.from_arrays(vectors.ravel(), N_SKILLS).cast(
                pa.list_(pa.float64())
            ),
            "engagement_score": rng.random(n_learners),
            "preferred_format": np.array(["video", "text", "mixed"])[rng.integers(0, 3, n_learners)],
        }
    )
    courses = pa.table(
        {
            "course_id": cid,
            "title": [f"Course {j} in track {course_group[j]}" for j in range(n_courses)],
            "description": [
                f"Learn the skills of track {course_group[j]}, part {j % 7}." for j in range(n_courses)
            ],
            "format": np.array(["video", "text", "live", "mixed"])[rng.integers(0, 4, n_courses)],
            "duration_hours": rng.uniform(1, 20, n_courses),
            "domain": np.array([f"track {g}" for g in range(GROUPS)])[course_group],
            "level": np.array(["beginner", "intermediate", "advanced"])[rng.integers(0, 3, n_courses)],
            "skill_tags": [[skill_ids[k] for k in skill_of_group[course_group[j]]] for j in range(n_courses)],
            "difficulty_score": rng.uniform(1, 5, n_courses),
            "avg_rating": rng.uniform(3, 5, n_courses),
            "n_ratings": rng.integers(0, 100, n_courses),
            "completion_rate": rng.random(n_courses),
            "quality_score": rng.random(n_courses),
            "published_at": pa.array([start - timedelta(days=60)] * n_courses, pa.timestamp("us", tz="UTC")),
        }
    )
    skills = pa.table(
        {
            "skill_id": skill_ids,
            "name": [f"skill {k}" for k in range(N_SKILLS)],
            "domain": ["bench"] * N_SKILLS,
        }
    )
    return {
        "marts.fct_learner_course_interactions": interactions,
        "marts.fct_learner_events": events,
        "marts.dim_learners": learners,
        "marts.dim_courses": courses,
        "features.learner_features": features,
        "raw.skills": skills,
    }


def run(recorder: Recorder, quick: bool) -> None:
    from ml.training import COMPONENTS, TrainConfig, evaluate_and_promote, train_dropout, train_model

    config = TrainConfig()
    for label, (learners, courses, interactions) in (QUICK_SCALES if quick else SCALES).items():
        with tempfile.TemporaryDirectory(prefix="learnrec-bench-training-") as home:
            settings = load_settings(home=Path(home))
            tables = synthetic_marts(learners, courses, interactions)
            with connect_warehouse(settings) as warehouse:
                warehouse.execute("create schema if not exists marts")
                for name, table in tables.items():
                    warehouse.load_arrow(name, table, mode="replace")
            n_pairs = tables["marts.fct_learner_course_interactions"].num_rows
            del tables
            total = 0.0
            runs: dict[str, str] = {}
            for name in COMPONENTS:
                started = time.perf_counter()
                runs[name] = train_model(settings, RUN_DATE, name, config)
                seconds = time.perf_counter() - started
                total += seconds
                recorder.record(f"train_{name}_seconds", seconds, "s", label, stages=3)
            started = time.perf_counter()
            evaluate_and_promote(settings, RUN_DATE, runs, config)
            seconds = time.perf_counter() - started
            total += seconds
            recorder.record("evaluate_and_promote_seconds", seconds, "s", label)
            started = time.perf_counter()
            train_dropout(settings, RUN_DATE, config)
            seconds = time.perf_counter() - started
            total += seconds
            recorder.record("train_dropout_seconds", seconds, "s", label)
            recorder.record(
                "nightly_total_seconds",
                total,
                "s",
                label,
                learners=learners,
                courses=courses,
                interactions=n_pairs,
                target_seconds=600,
            )
    recorder.record("peak_rss", peak_rss_mb(), "MiB", "largest scale above")
