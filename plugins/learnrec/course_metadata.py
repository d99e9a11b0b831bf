"""Course metadata resolved once: skill tags, difficulty and prerequisites per course.

An AI Metadata Agent inference applies to the content it was made from (matched by content hash;
the latest such inference wins). After an instructor edits a course its old inference no longer
applies, and until the agent has read the new content the course's metadata is what the instructor
uploaded: the taxonomy skills the syllabus module titles name (``"<skill name>: <topic>"``, first
appearance first), the declared level's difficulty, the instructor's prerequisites (followed by
the agent's additions when an inference applies). Spark's features and the agents call
:func:`load`; dbt's ``dim_courses`` reads the same rows from ``raw.course_metadata_resolved``,
which :func:`publish` rewrites whenever the courses or the inferences change. Before, each of the
three resolved on its own (newest inference vs content-hash match) and disagreed after an edit.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from learnrec.contracts.arrow import check_schema, validate_table
from learnrec.contracts.product import CourseMetadata
from learnrec.tables import COURSE_METADATA_INFERRED, COURSE_METADATA_RESOLVED, COURSES, SKILLS
from learnrec.warehouse import Warehouse

LEVEL_DIFFICULTY = {"beginner": 1.5, "intermediate": 3.0, "advanced": 4.5}
DEFAULT_DIFFICULTY = 3.0
#: the raw.courses columns a course's content hash (and so its resolution) depends on
COURSE_COLUMNS = (
    "course_id",
    "title",
    "description",
    "syllabus",
    "format",
    "level",
    "instructor_prerequisites",
)
INSTRUCTOR = "instructor"

RESOLVED_SCHEMA = pa.schema(
    [
        pa.field("course_id", pa.string(), nullable=False),
        pa.field("skill_tags", pa.list_(pa.string()), nullable=False),  # skill ids, the main skill first
        pa.field("difficulty_score", pa.float64(), nullable=False),  # 1..5
        pa.field("prerequisites", pa.list_(pa.string()), nullable=False),  # course ids
        pa.field("metadata_source", pa.string(), nullable=False),  # llm | rules | instructor
        pa.field("metadata_inferred_at", pa.timestamp("us", tz="UTC")),
        pa.field("content_hash", pa.string(), nullable=False),
    ]
)
check_schema(RESOLVED_SCHEMA, CourseMetadata)  # the columns the Course Metadata contract names


def content_hash(
    title: str, description: str, syllabus: str, fmt: str, level: str, prereqs: list[str]
) -> str:
    """Hash of everything an instructor uploads that metadata depends on: a change means re-inference."""
    payload = json.dumps([title, description, syllabus, fmt, level, list(prereqs)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def syllabus_skill_names(syllabus: str) -> list[str]:
    """Skill names the module titles of a syllabus (JSON array) name, first appearance first."""
    try:
        modules = json.loads(syllabus)
    except (TypeError, ValueError):
        return []
    if not isinstance(modules, list):
        return []
    names = [str(m.get("title", "")).split(": ", 1)[0].strip() for m in modules if isinstance(m, dict)]
    return list(dict.fromkeys(n for n in names if n))


def _current_inferences(inferred: pa.Table | None, hashes: dict[str, str]) -> dict[str, dict]:
    """Per course, the latest inference made from its current content."""
    current: dict[str, dict] = {}
    for row in [] if inferred is None else inferred.to_pylist():
        if hashes.get(row["course_id"]) != row["content_hash"]:
            continue
        seen = current.get(row["course_id"])
        if seen is None or row["inferred_at"] > seen["inferred_at"]:
            current[row["course_id"]] = row
    return current


def resolve(courses: pa.Table, skills: pa.Table, inferred: pa.Table | None = None) -> pa.Table:
    """The rules above on Arrow tables (``COURSE_COLUMNS`` of raw.courses, skill_id + name of
    raw.skills, raw.course_metadata_inferred) -> ``RESOLVED_SCHEMA`` rows, by course id."""
    by_name = dict(zip(skills.column("name").to_pylist(), skills.column("skill_id").to_pylist(), strict=True))
    rows = sorted(courses.select(list(COURSE_COLUMNS)).to_pylist(), key=lambda r: r["course_id"])
    hashes = {
        r["course_id"]: content_hash(
            r["title"],
            r["description"],
            r["syllabus"],
            r["format"],
            r["level"],
            r["instructor_prerequisites"] or [],
        )
        for r in rows
    }
    current = _current_inferences(inferred, hashes)
    out = []
    for row in rows:
        agent = current.get(row["course_id"])
        if agent is not None:
            tags = list(dict.fromkeys(agent["skill_tags"] or ()))
            difficulty = float(agent["difficulty_score"])
        else:
            tags = [by_name[n] for n in syllabus_skill_names(row["syllabus"]) if n in by_name]
            difficulty = LEVEL_DIFFICULTY.get(row["level"], DEFAULT_DIFFICULTY)
        prerequisites = [
            *(row["instructor_prerequisites"] or ()),
            *((agent or {}).get("prerequisites") or ()),
        ]
        out.append(
            {
                "course_id": row["course_id"],
                "skill_tags": tags,
                "difficulty_score": min(5.0, max(1.0, difficulty)),
                "prerequisites": list(dict.fromkeys(prerequisites)),
                "metadata_source": agent["provenance"] if agent else INSTRUCTOR,
                "metadata_inferred_at": agent["inferred_at"] if agent else None,
                "content_hash": hashes[row["course_id"]],
            }
        )
    return pa.Table.from_pylist(out, schema=RESOLVED_SCHEMA)


def read_inferred(warehouse: Warehouse) -> pa.Table | None:
    """The AI Metadata Agent's inferences, None before its first run."""
    if not warehouse.table_exists(COURSE_METADATA_INFERRED):
        return None
    return warehouse.query(
        "SELECT course_id, skill_tags, difficulty_score, prerequisites, provenance, content_hash, "
        f"inferred_at FROM {COURSE_METADATA_INFERRED}"
    )


def load(warehouse: Warehouse) -> pa.Table:
    """Resolve the warehouse's raw.courses, raw.skills and inferences (when present)."""
    return resolve(
        warehouse.query(f"SELECT {', '.join(COURSE_COLUMNS)} FROM {COURSES}"),
        warehouse.query(f"SELECT skill_id, name FROM {SKILLS}"),
        read_inferred(warehouse),
    )


def publish(warehouse: Warehouse) -> int:
    """Rewrite raw.course_metadata_resolved (what dbt reads) from the current courses and
    inferences, once they hold to the Course Metadata contract (difficulty 1..5, no null lists)."""
    resolved = load(warehouse)
    validate_table(resolved, CourseMetadata)
    return warehouse.load_arrow(COURSE_METADATA_RESOLVED, resolved, mode="replace")
