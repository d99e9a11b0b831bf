"""A tiny learning world whose right answers are known, loaded as the marts the models read.

Two groups of learners (``data`` and ``design`` career goals) and two groups of courses: each
learner interacts with courses of their own group on days spread over a 12-day window and skips
a course of the other group. Half of the learners of each group go silent after day 5 (the
dropout signal). Every table has exactly the columns of INTERFACES.md that ml reads.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from learnrec.settings import Settings
from learnrec.warehouse import Warehouse, connect_warehouse

RUN_DATE = date(2026, 3, 12)
START = RUN_DATE - timedelta(days=11)
N_LEARNERS = 40
N_COURSES = 12
SKILLS = ("S001", "S002", "S003", "S004")


def group_of_learner(i: int) -> str:
    return "data" if i % 2 == 0 else "design"


def group_of_course(j: int) -> str:
    return "data" if j < N_COURSES // 2 else "design"


def hash_encoder(texts: list[str]) -> np.ndarray:
    """A deterministic bag-of-words embedding (words hashed into 384 dims, unit norm).

    Stands in for MiniLM in fast tests (loading MiniLM takes ~12 s; it is exercised in the slow
    test of tests/ml/test_embeddings.py): texts that share words get similar vectors, which is
    all the content model's logic relies on.
    """
    out = np.zeros((len(texts), 384), np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace(".", " ").replace(",", " ").split():
            out[i, zlib.crc32(word.encode()) % 384] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _at(day: int, hour: int = 12) -> datetime:
    return datetime.combine(START + timedelta(days=int(day)), datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=hour
    )


def tiny_tables(seed: int = 3) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    learners = pd.DataFrame(
        {
            "learner_id": [f"L{i:03d}" for i in range(N_LEARNERS)],
            "career_goal": [
                None if i % 10 == 9 else f"{group_of_learner(i)} analyst" for i in range(N_LEARNERS)
            ],
            "current_role": ["student"] * N_LEARNERS,
            "interest_area": [group_of_learner(i) for i in range(N_LEARNERS)],
            "data_tier": ["opted_in" if i % 3 == 0 else "default" for i in range(N_LEARNERS)],
            "onboarding_skipped": [i % 10 == 9 for i in range(N_LEARNERS)],
            "n_behavioural_events": [20] * N_LEARNERS,
            "is_cold_start": [False] * N_LEARNERS,
        }
    )
    courses = pd.DataFrame(
        {
            "course_id": [f"C{j:02d}" for j in range(N_COURSES)],
            "title": [f"{group_of_course(j)} course {j}" for j in range(N_COURSES)],
            "description": [
                f"A {group_of_course(j)} course about {group_of_course(j)} analysis" for j in range(N_COURSES)
            ],
            "format": ["video" if j % 2 else "text" for j in range(N_COURSES)],
            "duration_hours": [2.0] * N_COURSES,
            "domain": [group_of_course(j) for j in range(N_COURSES)],
            "level": ["beginner"] * N_COURSES,
            "skill_tags": [
                list(SKILLS[:2]) if group_of_course(j) == "data" else list(SKILLS[2:])
                for j in range(N_COURSES)
            ],
            "difficulty_score": [2.0] * N_COURSES,
            "avg_rating": [4.0] * N_COURSES,
            "n_ratings": [3] * N_COURSES,
            "completion_rate": [0.5] * N_COURSES,
            "quality_score": [0.6] * N_COURSES,
            "published_at": [_at(-30)] * N_COURSES,
        }
    )
    rows, events = [], []
    for i in range(N_LEARNERS):
        group = group_of_learner(i)
        mine = [j for j in range(N_COURSES) if group_of_course(j) == group]
        other = [j for j in range(N_COURSES) if group_of_course(j) != group]
        silent_after = 5 if (i // 2) % 2 == 0 else 99
        days = sorted(rng.choice(12, size=5, replace=False))
        for course, day in zip(rng.choice(mine, size=4, replace=False), days[:4], strict=True):
            if day > silent_after:
                continue
            rows.append((i, course, float(rng.uniform(1, 8)), day, False))
        skip_day = days[4]
        if skip_day <= silent_after:
            rows.append((i, int(rng.choice(other)), 0.0, skip_day, True))
    for i, course, _weight, day, skipped in rows:
        events.append((i, course, "skip" if skipped else "watch", day))
        if not skipped:
            events.append((i, course, "complete", day))
    interactions = pd.DataFrame(
        {
            "learner_id": [f"L{i:03d}" for i, *_ in rows],
            "course_id": [f"C{c:02d}" for _, c, *_ in rows],
            "weight": [w for _, _, w, _, _ in rows],
            "n_events": [1 if s else 2 for *_, s in rows],
            "watch_share": [0.0 if s else 0.8 for *_, s in rows],
            "completed": [not s for *_, s in rows],
            "skipped": [s for *_, s in rows],
            "avg_quiz_score": [None if s else 70.0 for *_, s in rows],
            "first_event_at": [_at(d) for *_, d, _ in rows],
            "last_event_at": [_at(d, 13) for *_, d, _ in rows],
        }
    )
    fct_events = pd.DataFrame(
        {
            "event_id": [f"E{n:05d}" for n in range(len(events))],
            "learner_id": [f"L{i:03d}" for i, *_ in events],
            "event_type": [t for _, _, t, _ in events],
            "course_id": [f"C{c:02d}" for _, c, _, _ in events],
            "event_at": [_at(d) for *_, d in events],
            "event_date": [START + timedelta(days=int(d)) for *_, d in events],
            "watch_duration_seconds": [600 if t == "watch" else None for _, _, t, _ in events],
            "quiz_score": [None] * len(events),
        }
    )
    features = pd.DataFrame(
        {
            "learner_id": learners["learner_id"],
            "feature_date": [RUN_DATE] * N_LEARNERS,
            "skill_vector": [
                [0.8, 0.6, 0.0, 0.0] if group_of_learner(i) == "data" else [0.0, 0.0, 0.7, 0.9]
                for i in range(N_LEARNERS)
            ],
            "engagement_score": [0.5] * N_LEARNERS,
            "preferred_format": ["video"] * N_LEARNERS,
        }
    )
    skills = pd.DataFrame(
        {
            "skill_id": list(SKILLS),
            "name": ["sql", "statistics", "typography", "colour"],
            "domain": ["data", "data", "design", "design"],
        }
    )
    goals = pd.DataFrame(
        {
            "career_goal": ["data analyst", "design analyst"],
            "domain": ["data", "design"],
            "target_skill_ids": [list(SKILLS[:2]), list(SKILLS[2:])],
        }
    )
    return {
        "marts.dim_learners": learners,
        "marts.dim_courses": courses,
        "marts.fct_learner_course_interactions": interactions,
        "marts.fct_learner_events": fct_events,
        "features.learner_features": features,
        "raw.skills": skills,
        "raw.career_goals": goals,
    }


def load_tables(warehouse: Warehouse, tables: dict[str, pd.DataFrame]) -> None:
    warehouse.execute("create schema if not exists marts")
    for name, frame in tables.items():
        warehouse.load_arrow(name, pa.Table.from_pandas(frame, preserve_index=False), mode="replace")


@pytest.fixture
def tiny_warehouse(settings: Settings) -> Settings:
    """Settings whose warehouse holds the tiny world's marts."""
    with connect_warehouse(settings) as warehouse:
        load_tables(warehouse, tiny_tables())
    return settings


@pytest.fixture
def warehouse(tiny_warehouse: Settings):
    with connect_warehouse(tiny_warehouse) as wh:
        yield wh
