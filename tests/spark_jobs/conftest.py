"""One local SparkSession for every Spark test, and helpers that build tiny lakes and catalogues.

Raw events are built directly in the lake's Arrow schema (``raw_event_schema``) and written where
ingest writes them (``events/event_date=D/hour=HH/<batch>.parquet``), so these tests do not
depend on the ingest stage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from learnrec.contracts.events import raw_event_schema
from learnrec.contracts.sources import COURSES, SKILLS
from learnrec.settings import Settings, load_settings
from learnrec.warehouse import connect_warehouse
from spark_jobs.session import BASE_CONF

RUN_DATE = date(2026, 10, 30)

#: (skill_id, name); deliberately not in id order, to test the skill index.
SKILL_ROWS = [("S03", "Docker"), ("S01", "SQL Basics"), ("S02", "Python")]
#: course_id -> (format, level, module skill names)
COURSE_ROWS = {
    "C1": ("video", "beginner", ["SQL Basics", "Python"]),
    "C2": ("text", "advanced", ["Docker"]),
    "C3": ("video", "intermediate", ["Python"]),  # the agent re-tags it: S03, difficulty 5
    "C4": ("video", "beginner", ["Python"]),  # never touched
}


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("learnrec-tests")
    conf = BASE_CONF | {
        "spark.sql.shuffle.partitions": "2",
        "spark.driver.memory": "1g",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Ev:
    learner_id: str
    event_type: str
    course_id: str
    event_at: datetime
    watch: int | None = None
    quiz: float | None = None


def events_table(events: Sequence[Ev], batch_id: str) -> pa.Table:
    n = len(events)
    ids = [
        hashlib.md5(
            f"{e.learner_id}|{e.event_type}|{e.course_id}|{e.event_at.isoformat()}|{batch_id}|{i}".encode()
        ).hexdigest()
        for i, e in enumerate(events)
    ]
    return pa.table(
        {
            "event_id": ids,
            "learner_id": [e.learner_id for e in events],
            "event_type": [e.event_type for e in events],
            "course_id": [e.course_id for e in events],
            "event_at": [e.event_at for e in events],
            "event_date": [e.event_at.date() for e in events],
            "watch_duration_seconds": [e.watch for e in events],
            "quiz_score": [e.quiz for e in events],
            "module_id": [None] * n,
            "metadata": ["{}"] * n,
            "source": ["files"] * n,
            "source_uri": ["test"] * n,
            "source_partition": [None] * n,
            "source_offset": list(range(1, n + 1)),
            "batch_id": [batch_id] * n,
            "ingested_at": [datetime(2026, 11, 1, tzinfo=UTC)] * n,
        },
        schema=raw_event_schema(),
    )


def write_events(lake_root: str | Path, events: Sequence[Ev], batch_id: str) -> int:
    """Write events as ingest does: one file per (event_date, hour) of the batch."""
    groups: dict[tuple[date, int], list[Ev]] = {}
    for e in events:
        groups.setdefault((e.event_at.date(), e.event_at.hour), []).append(e)
    for (day, hour), group in groups.items():
        folder = Path(lake_root) / "events" / f"event_date={day.isoformat()}" / f"hour={hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(events_table(group, batch_id), folder / f"{batch_id}.parquet")
    return len(groups)


def _content_hash(courses: pa.Table, course_id: str) -> str:
    from learnrec.course_metadata import content_hash

    [row] = [r for r in courses.to_pylist() if r["course_id"] == course_id]
    return content_hash(
        row["title"],
        row["description"],
        row["syllabus"],
        row["format"],
        row["level"],
        row["instructor_prerequisites"],
    )


def catalog_tables() -> tuple[pa.Table, pa.Table, pa.Table]:
    """raw.courses, raw.skills and raw.course_metadata_inferred rows for C3: one of its current
    content, one of an older version (which must not apply)."""
    import json

    published = datetime(2025, 1, 1, tzinfo=UTC)
    courses = pa.table(
        {
            "course_id": list(COURSE_ROWS),
            "title": [f"Course {c}" for c in COURSE_ROWS],
            "description": ["-"] * len(COURSE_ROWS),
            "syllabus": [
                json.dumps(
                    [
                        {"module_id": f"{c}-M{i + 1:02d}", "title": f"{s}: Overview", "minutes": 10}
                        for i, s in enumerate(skills)
                    ]
                )
                for c, (_, _, skills) in COURSE_ROWS.items()
            ],
            "format": [f for f, _, _ in COURSE_ROWS.values()],
            "duration_hours": [1.0] * len(COURSE_ROWS),
            "level": [lvl for _, lvl, _ in COURSE_ROWS.values()],
            "instructor_prerequisites": [[] for _ in COURSE_ROWS],
            "domain": ["data"] * len(COURSE_ROWS),
            "published_at": [published] * len(COURSE_ROWS),
            "updated_at": [published] * len(COURSE_ROWS),
        },
        schema=COURSES,
    )
    skills = pa.table(
        {
            "skill_id": [s for s, _ in SKILL_ROWS],
            "name": [n for _, n in SKILL_ROWS],
            "domain": ["data"] * len(SKILL_ROWS),
            "level": [1] * len(SKILL_ROWS),
            "prerequisite_skill_ids": [[] for _ in SKILL_ROWS],
        },
        schema=SKILLS,
    )
    inferred = pa.table(
        {
            "course_id": ["C3", "C3"],
            "skill_tags": [["S01"], ["S03"]],
            "difficulty_score": [2.0, 5.0],
            "prerequisites": [[], []],
            "provenance": ["rules", "rules"],
            "model": ["rules-v1", "rules-v1"],
            "prompt_version": ["v1", "v1"],
            "content_hash": ["x", _content_hash(courses, "C3")],
            "inferred_at": [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)],
        }
    )
    return courses, skills, inferred


def load_catalog_tables(settings: Settings) -> Settings:
    """Put the tiny catalogue into the settings' warehouse."""
    courses, skills, inferred = catalog_tables()
    with connect_warehouse(settings) as warehouse:
        warehouse.load_arrow("raw.courses", courses, mode="replace")
        warehouse.load_arrow("raw.skills", skills, mode="replace")
        warehouse.load_arrow("raw.course_metadata_inferred", inferred, mode="replace")
    return settings


def fresh_settings(tmp_path_factory: pytest.TempPathFactory, name: str) -> Settings:
    """Settings of a new state folder holding the tiny catalogue (module-scoped scenarios)."""
    return load_catalog_tables(load_settings(home=tmp_path_factory.mktemp(name)))


def days_before(n: int, day: date = RUN_DATE) -> date:
    return day - timedelta(days=n)
