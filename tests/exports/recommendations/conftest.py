"""A tiny hand-made warehouse for the recommendation stage: marts as dbt will shape them.

Catalogue: two domains (data, design), 8 skills, 40 courses; course ``c01`` is a prerequisite
of ``c02``, which is one of ``c03``. Learners cover every route: active opted-in and default
tier, cold start (few events), skipped onboarding, expired retention.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from learnrec.settings import Settings
from learnrec.warehouse import Warehouse, connect_warehouse
from tests.exports.recommendations.synthetic import FactorScorer

RUN_DATE = date(2026, 3, 1)
T0 = datetime(2026, 2, 1, tzinfo=UTC)
SKILLS = [
    ("s1", "SQL", "data"),
    ("s2", "Statistics", "data"),
    ("s3", "Python", "data"),
    ("s4", "Machine Learning", "data"),
    ("s5", "Typography", "design"),
    ("s6", "Colour", "design"),
    ("s7", "UX Research", "design"),
    ("s8", "Prototyping", "design"),
]
FORMATS = ["video", "text", "live", "mixed"]


def course_rows() -> list[dict]:
    rows = []
    for i in range(1, 41):
        skill = SKILLS[(i - 1) % 8]
        rows.append(
            {
                "course_id": f"c{i:02d}",
                "title": f"Course {i:02d} {skill[1]}",
                "domain": skill[2],
                "format": FORMATS[i % 4],
                "difficulty_score": float(1 + (i % 5)),
                "duration_hours": float(2 + i % 7),
                "skill_tags": [skill[0]],
                "prerequisites": [],
                "quality_score": round(0.3 + 0.6 * ((i * 37) % 40) / 40, 3),
            }
        )
    rows[1]["prerequisites"] = ["c01"]  # c02 needs c01
    rows[2]["prerequisites"] = ["c02"]  # c03 needs c02
    rows[0]["difficulty_score"] = 1.0
    return rows


def learner_rows() -> list[dict]:
    rows = []
    for i in range(1, 31):
        skipped = i in (5, 6)
        rows.append(
            {
                "learner_id": f"l{i:02d}",
                "career_goal": None if skipped else ("data analyst" if i % 2 else "ux designer"),
                "interest_area": None if skipped else ("data" if i % 2 else "design"),
                "data_tier": "opted_in" if i % 3 else "default",
                # far ahead: exports and store reads filter by the real clock
                "retention_expiry": T0 + timedelta(days=-10 if i == 30 else 40_000),
                "onboarding_skipped": skipped,
                "n_behavioural_events": 3 if i in (4, 5) else 40,
                "preferred_format": ["video", "text", "mixed"][i % 3],
                "affinity_score": 0.8,
                "skill_vector": [round(((i + k) % 7) / 7, 3) for k in range(8)],
            }
        )
    return rows


def interaction_rows() -> list[dict]:
    rows = []
    for i in range(1, 31):
        if i in (4, 5):
            continue
        for j, course in enumerate(((i * 3) % 40 + 1, (i * 7) % 40 + 1, (i * 11) % 40 + 1)):
            rows.append(
                {
                    "learner_id": f"l{i:02d}",
                    "course_id": f"c{course:02d}",
                    "weight": 1.0,
                    "n_events": 10,
                    "completed": j < 2,
                    "skipped": False,
                    "watch_share": 1.0 if j < 2 else 0.4,
                    "last_event_at": T0 + timedelta(days=j),
                }
            )
    # l01 completed c01 and is mid-way through nothing else on the chain: c02 is takeable, c03 is not
    rows.append(
        {
            "learner_id": "l01",
            "course_id": "c01",
            "weight": 1.0,
            "n_events": 5,
            "completed": True,
            "skipped": False,
            "watch_share": 1.0,
            "last_event_at": T0 + timedelta(days=5),
        }
    )
    return rows


def build_marts(warehouse: Warehouse) -> None:
    warehouse.execute("CREATE SCHEMA IF NOT EXISTS marts")
    courses = course_rows()
    warehouse.load_arrow("marts.dim_courses", pa.Table.from_pylist(courses), mode="replace")
    learners = learner_rows()
    warehouse.load_arrow("marts.dim_learners", pa.Table.from_pylist(learners), mode="replace")
    warehouse.load_arrow(
        "raw.learners",
        pa.Table.from_pylist(
            [{"learner_id": r["learner_id"], "preferred_format": r["preferred_format"]} for r in learners]
        ),
        mode="replace",
    )
    warehouse.load_arrow(
        "raw.skills",
        pa.Table.from_pylist([{"skill_id": s, "name": n, "domain": d} for s, n, d in SKILLS]),
        mode="replace",
    )
    warehouse.load_arrow(
        "raw.career_goals",
        pa.Table.from_pylist(
            [
                {"career_goal": "data analyst", "domain": "data", "target_skill_ids": ["s1", "s2", "s3"]},
                {"career_goal": "ux designer", "domain": "design", "target_skill_ids": ["s5", "s7"]},
            ]
        ),
        mode="replace",
    )
    warehouse.load_arrow(
        "marts.fct_learner_course_interactions", pa.Table.from_pylist(interaction_rows()), mode="replace"
    )
    popular = []
    for goal, domain in (("data analyst", "data"), ("ux designer", "design")):
        mine = [c for c in courses if c["domain"] == domain]
        for rank, c in enumerate(sorted(mine, key=lambda c: c["course_id"], reverse=True)[:12], start=1):
            popular.append(
                {
                    "career_goal": goal,
                    "course_id": c["course_id"],
                    "popularity_rank": rank,
                    "n_learners": 100 - rank,
                }
            )
    warehouse.load_arrow(
        "marts.mart_popular_courses_by_career", pa.Table.from_pylist(popular), mode="replace"
    )
    rated = []
    for domain in ("data", "design"):
        mine = sorted((c for c in courses if c["domain"] == domain), key=lambda c: -c["quality_score"])
        for rank, c in enumerate(mine[:12], start=1):
            rated.append(
                {
                    "interest_area": domain,
                    "course_id": c["course_id"],
                    "rating_rank": rank,
                    "quality_score": c["quality_score"],
                }
            )
    warehouse.load_arrow("marts.mart_top_rated_by_interest", pa.Table.from_pylist(rated), mode="replace")


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    with connect_warehouse(settings) as wh:
        build_marts(wh)
        yield wh


def learner_ids() -> list[str]:
    return [r["learner_id"] for r in learner_rows()]


def course_ids() -> list[str]:
    return [r["course_id"] for r in course_rows()]


@pytest.fixture
def champion() -> FactorScorer:
    return FactorScorer(learner_ids(), course_ids(), factors=8, seed=1, model_version="blend:v1")


@pytest.fixture
def content() -> FactorScorer:
    return FactorScorer(
        learner_ids(), course_ids(), factors=8, seed=2, model_version="content:v1", signals=("content",)
    )


def rows_of(warehouse: Warehouse, sql: str, params=None) -> list[dict]:
    return warehouse.query(sql, params).to_pylist()


__all__ = ["RUN_DATE", "np", "rows_of"]
