"""Bench-only: mart-shaped tables built straight from a generated world, for measuring the models.

The pipeline's models read the dbt marts and Spark features (:mod:`ml.data`). To measure them
against the synthetic world's ground truth before (or without) running dbt and Spark, this
module builds tables with exactly the marts' columns from the world's landing files and source
snapshots, into a scratch warehouse. It mirrors the dbt formulas (implicit weight with the
``interaction_weights`` of dbt_project.yml) in pandas; the one thing it takes from the ground
truth is each course's skill tags and difficulty, which the AI Metadata Agent infers in the real
pipeline. Never used by the nightly pipeline.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from learnrec.warehouse import Warehouse
from ml.data import COURSE_COLUMNS, INTERACTION_COLUMNS, LEARNER_COLUMNS

EVENT_TYPES = {"click", "watch", "skip", "complete", "search", "quiz_score"}
#: dbt_project.yml vars.interaction_weights (the mart's implicit weight formula)
WEIGHTS = {
    "search": 0.5,
    "click": 1.0,
    "watch_share": 4.0,
    "completion": 3.0,
    "quiz": 2.0,
    "skip_after_watching": 1.0,
}


def read_events(landing: Path, end: date) -> pd.DataFrame:
    """Valid, deduplicated events with event date <= ``end`` (bad lines are simply skipped here:
    quarantine is the ingest stage's job, not this bench's)."""
    rows = []
    for path in sorted((landing / "learner_events").rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                event = json.loads(line)
                meta = event.get("metadata") or {}
                ids = (event["learner_id"], event["course_id"], event["timestamp"])
                if event["event_type"] not in EVENT_TYPES or not all(isinstance(v, str) and v for v in ids):
                    continue
                rows.append(
                    (
                        event["learner_id"],
                        event["event_type"],
                        event["course_id"],
                        event["timestamp"],
                        meta.get("watch_duration_seconds"),
                        meta.get("quiz_score"),
                    )
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    frame = pd.DataFrame(
        rows,
        columns=["learner_id", "event_type", "course_id", "event_at", "watch_duration_seconds", "quiz_score"],
    ).drop_duplicates()
    frame["event_at"] = pd.to_datetime(frame["event_at"], utc=True, errors="coerce")
    frame["watch_duration_seconds"] = pd.to_numeric(frame["watch_duration_seconds"], errors="coerce")
    frame["quiz_score"] = pd.to_numeric(frame["quiz_score"], errors="coerce")
    frame = frame.dropna(subset=["event_at"])
    frame["event_date"] = frame["event_at"].dt.date
    return frame.loc[frame["event_date"] <= end].reset_index(drop=True)


def interactions_from_events(events: pd.DataFrame, courses: pd.DataFrame) -> pd.DataFrame:
    """The columns of marts.fct_learner_course_interactions, with dbt's weight formula."""
    e = events.assign(
        is_search=events["event_type"] == "search",
        is_click=events["event_type"] == "click",
        is_watch=events["event_type"] == "watch",
        is_complete=events["event_type"] == "complete",
        is_skip=events["event_type"] == "skip",
        watch=events["watch_duration_seconds"].where(events["event_type"] == "watch", 0).fillna(0),
    )
    g = e.groupby(["learner_id", "course_id"]).agg(
        n_events=("event_type", "size"),
        n_searches=("is_search", "sum"),
        n_clicks=("is_click", "sum"),
        n_watch=("is_watch", "sum"),
        n_complete=("is_complete", "sum"),
        n_skips=("is_skip", "sum"),
        watch_seconds=("watch", "sum"),
        avg_quiz_score=("quiz_score", "mean"),
        first_event_at=("event_at", "min"),
        last_event_at=("event_at", "max"),
    )
    g = g.reset_index()
    duration = g["course_id"].map(courses.set_index("course_id")["duration_hours"])
    g["watch_share"] = np.minimum(1.0, g["watch_seconds"] / (duration * 3600.0))
    g["completed"] = g["n_complete"] > 0
    g["skipped"] = g["n_skips"] > 0
    unseen_skip = g["skipped"] & (g["n_watch"] == 0)
    w = WEIGHTS
    weight = (
        w["search"] * (g["n_searches"] > 0)
        + w["click"] * (g["n_clicks"] > 0)
        + w["watch_share"] * g["watch_share"].fillna(0)
        + w["completion"] * g["completed"]
        + w["quiz"] * g["avg_quiz_score"].fillna(0) / 100.0
        - w["skip_after_watching"] * (g["n_skips"] > 0)
    ).clip(lower=0.0)
    g["weight"] = np.where(unseen_skip, 0.0, weight)
    return g[list(INTERACTION_COLUMNS)]


def load_world_marts(warehouse: Warehouse, home: Path, end: date | None = None) -> date:
    """Build the mart-shaped tables of the world under ``home`` into ``warehouse``.

    Returns the run date (the world's last event day unless ``end`` is given).
    """
    manifest = json.loads((home / "world" / "manifest.json").read_text())
    end = end or date.fromisoformat(manifest["summary"]["window_end"])
    sources = home / "landing" / "sources"
    truth = home / "world" / "ground_truth"
    courses = pd.read_parquet(sources / "courses.parquet")
    learners = pd.read_parquet(sources / "learners.parquet")
    skills = pd.read_parquet(sources / "skills.parquet")
    true_courses = pd.read_parquet(truth / "courses.parquet").set_index("course_id")
    events = read_events(home / "landing", end)
    inter = interactions_from_events(events, courses)

    courses = courses.assign(
        skill_tags=courses["course_id"].map(true_courses["skill_ids"]).map(list),
        difficulty_score=courses["course_id"].map(true_courses["difficulty"]).astype(float),
        avg_rating=np.nan,
        n_ratings=0,
        completion_rate=courses["course_id"].map(inter.groupby("course_id")["completed"].mean()).fillna(0.0),
        quality_score=np.nan,
    )
    dim_courses = courses[list(COURSE_COLUMNS)]
    n_events = events.groupby("learner_id").size()
    dim_learners = learners.assign(
        onboarding_skipped=learners["career_goal"].isna(),
        n_behavioural_events=learners["learner_id"].map(n_events).fillna(0).astype(int),
    )
    dim_learners["is_cold_start"] = dim_learners["n_behavioural_events"] < 10
    dim_learners = dim_learners[list(LEARNER_COLUMNS)]
    features = _learner_features(inter, dim_courses, learners, skills, end)
    warehouse.execute("create schema if not exists marts")
    for table, frame in (
        ("marts.fct_learner_course_interactions", inter),
        ("marts.dim_courses", dim_courses),
        ("marts.dim_learners", dim_learners),
        ("marts.fct_learner_events", events),
        ("features.learner_features", features),
        ("raw.skills", skills),
        ("raw.career_goals", pd.read_parquet(sources / "career_goals.parquet")),
    ):
        warehouse.load_arrow(table, pa.Table.from_pandas(frame, preserve_index=False), mode="replace")
    return end


def _learner_features(
    inter: pd.DataFrame, courses: pd.DataFrame, learners: pd.DataFrame, skills: pd.DataFrame, end: date
) -> pd.DataFrame:
    """A stand-in for Spark's learner_features: skill level = best evidence over courses tagged
    with the skill (completion 1.0, else watch share, scaled by the quiz score when present)."""
    skill_ids = sorted(skills["skill_id"])
    position = {s: i for i, s in enumerate(skill_ids)}
    tags = courses.set_index("course_id")["skill_tags"]
    evidence = np.where(inter["completed"], 1.0, inter["watch_share"].fillna(0.0))
    evidence = evidence * np.where(
        inter["avg_quiz_score"].notna(), inter["avg_quiz_score"].fillna(0) / 100.0, 1.0
    )
    vectors: dict[str, np.ndarray] = {}
    for learner, course, value in zip(inter["learner_id"], inter["course_id"], evidence, strict=True):
        if value <= 0 or course not in tags.index:
            continue
        vec = vectors.setdefault(learner, np.zeros(len(skill_ids)))
        for tag in tags[course]:
            vec[position[tag]] = max(vec[position[tag]], float(value))
    ids = learners["learner_id"].tolist()
    return pd.DataFrame(
        {
            "learner_id": ids,
            "feature_date": [end] * len(ids),
            "skill_vector": [vectors.get(i, np.zeros(len(skill_ids))).tolist() for i in ids],
            "engagement_score": 0.0,
            "preferred_format": learners["preferred_format"].fillna("mixed").tolist(),
        }
    )
