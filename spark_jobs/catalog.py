"""The course catalogue the feature jobs need: format, difficulty and skill tags per course.

Choice (documented in README): the driver reads ``raw.courses``, ``raw.skills`` and, when present,
``raw.course_metadata_inferred`` through the warehouse adapter (DuckDB or Snowflake alike) and
hands Spark a small broadcast table. The catalogue has thousands of rows, so this costs nothing,
works the same for local Spark, a cluster and Spark Connect, and does not make features wait for
dbt's marts. The rules are the ones dbt's ``int_course_metadata_resolved`` applies:

* skill tags: the AI Metadata Agent's latest inference where it exists, otherwise the taxonomy
  skills the syllabus module titles name (titles read ``"<skill name>: <topic>"``), in order of
  first appearance;
* difficulty (1..5): the agent's ``difficulty_score``, otherwise the declared level
  (beginner 1.5, intermediate 3.0, advanced 4.5).

Tags that are not in the taxonomy are dropped (and counted): a skill-vector position must mean a
skill of ``raw.skills``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from learnrec.contracts.skills import skill_index
from learnrec.tables import COURSE_METADATA_INFERRED, COURSES, SKILLS
from learnrec.warehouse import Warehouse

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

LEVEL_DIFFICULTY = {"beginner": 1.5, "intermediate": 3.0, "advanced": 4.5}
DEFAULT_DIFFICULTY = 3.0

CATALOG_SCHEMA = pa.schema(
    [
        pa.field("course_id", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("difficulty_score", pa.float64(), nullable=False),
        pa.field("skill_idx", pa.list_(pa.int32()), nullable=False),  # skill-index positions
    ]
)


class CatalogMissingError(LookupError):
    """The catalogue tables are not in the warehouse yet."""


@dataclass(frozen=True)
class CourseCatalog:
    skill_ids: tuple[str, ...]  # in skill-index order
    courses: pa.Table  # CATALOG_SCHEMA
    dropped_tags: int = 0

    @property
    def n_skills(self) -> int:
        return len(self.skill_ids)

    def to_spark(self, spark: SparkSession) -> DataFrame:
        return spark.createDataFrame(self.courses.to_pandas(), schema=_spark_schema())


def _spark_schema():
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("course_id", T.StringType(), False),
            T.StructField("format", T.StringType(), False),
            T.StructField("difficulty_score", T.DoubleType(), False),
            T.StructField("skill_idx", T.ArrayType(T.IntegerType(), False), False),
        ]
    )


def syllabus_skill_names(syllabus: str) -> list[str]:
    """Skill names the module titles of a syllabus (JSON array) name, first appearance first."""
    try:
        modules = json.loads(syllabus)
    except (TypeError, ValueError):
        return []
    names = [str(m.get("title", "")).split(": ", 1)[0].strip() for m in modules if isinstance(m, dict)]
    return list(dict.fromkeys(n for n in names if n))


def resolve_catalog(courses: pa.Table, skills: pa.Table, inferred: pa.Table | None = None) -> CourseCatalog:
    """Pure resolution of the rules above on Arrow tables (tested without a warehouse)."""
    index = skill_index(skills.column("skill_id").to_pylist())
    by_name = dict(zip(skills.column("name").to_pylist(), skills.column("skill_id").to_pylist(), strict=True))
    latest: dict[str, tuple[datetime, list[str] | None, float | None]] = {}
    if inferred is not None:
        for row in inferred.select(
            ["course_id", "skill_tags", "difficulty_score", "inferred_at"]
        ).to_pylist():
            seen = latest.get(row["course_id"])
            if seen is None or row["inferred_at"] > seen[0]:
                latest[row["course_id"]] = (row["inferred_at"], row["skill_tags"], row["difficulty_score"])
    ids, formats, difficulty, tags = [], [], [], []
    dropped = 0
    for row in courses.select(["course_id", "format", "level", "syllabus"]).to_pylist():
        agent = latest.get(row["course_id"])
        if agent is not None and agent[1] is not None:
            skill_ids = list(dict.fromkeys(agent[1]))
        else:
            skill_ids = [by_name[n] for n in syllabus_skill_names(row["syllabus"]) if n in by_name]
        positions = [index[s] for s in skill_ids if s in index]
        dropped += len(skill_ids) - len(positions)
        level_difficulty = LEVEL_DIFFICULTY.get(row["level"], DEFAULT_DIFFICULTY)
        agent_difficulty = agent[2] if agent is not None else None
        ids.append(row["course_id"])
        formats.append(row["format"])
        difficulty.append(float(min(5.0, max(1.0, agent_difficulty or level_difficulty))))
        tags.append(positions)
    if dropped:
        log.warning("dropped %d skill tag(s) that are not in %s", dropped, SKILLS)
    table = pa.table(
        {"course_id": ids, "format": formats, "difficulty_score": difficulty, "skill_idx": tags},
        schema=CATALOG_SCHEMA,
    )
    return CourseCatalog(tuple(sorted(index, key=index.__getitem__)), table, dropped)


def load_catalog(warehouse: Warehouse) -> CourseCatalog:
    """Read the catalogue tables from the warehouse and resolve them."""
    for table in (COURSES, SKILLS):
        if not warehouse.table_exists(table):
            raise CatalogMissingError(
                f"{table} is missing: load the source snapshots first (load_source_snapshots)"
            )
    courses = warehouse.query(f"SELECT course_id, format, level, syllabus FROM {COURSES} ORDER BY course_id")
    skills = warehouse.query(f"SELECT skill_id, name FROM {SKILLS}")
    inferred = None
    if warehouse.table_exists(COURSE_METADATA_INFERRED):
        inferred = warehouse.query(
            f"SELECT course_id, skill_tags, difficulty_score, inferred_at FROM {COURSE_METADATA_INFERRED}"
        )
    return resolve_catalog(courses, skills, inferred)
