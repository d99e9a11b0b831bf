"""The course catalogue the feature jobs need: format, difficulty and skill tags per course.

Choice (documented in README): the driver reads the raw catalogue tables through the warehouse
adapter (DuckDB or Snowflake alike), resolves their metadata with :mod:`learnrec.course_metadata`
(the one resolution dbt's ``dim_courses`` and the agents use too) and hands Spark a small
broadcast table. The catalogue has thousands of rows, so this costs nothing, works the same for
local Spark, a cluster and Spark Connect, and does not make features wait for dbt's marts.

Tags that are not in the taxonomy are dropped (and counted): a skill-vector position must mean a
skill of the taxonomy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from learnrec import course_metadata
from learnrec.contracts.skills import skill_index
from learnrec.tables import COURSES, SKILLS
from learnrec.warehouse import Warehouse

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

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


def resolve_catalog(courses: pa.Table, skills: pa.Table, inferred: pa.Table | None = None) -> CourseCatalog:
    """The resolved metadata as skill-index positions (pure: tested without a warehouse)."""
    index = skill_index(skills.column("skill_id").to_pylist())
    resolved = course_metadata.resolve(courses, skills, inferred)
    formats = dict(
        zip(courses.column("course_id").to_pylist(), courses.column("format").to_pylist(), strict=True)
    )
    ids, tags = resolved.column("course_id").to_pylist(), []
    dropped = 0
    for skill_ids in resolved.column("skill_tags").to_pylist():
        tags.append([index[s] for s in skill_ids if s in index])
        dropped += len(skill_ids) - len(tags[-1])
    if dropped:
        log.warning("dropped %d skill tag(s) that are not in %s", dropped, SKILLS)
    table = pa.table(
        {
            "course_id": ids,
            "format": [formats[c] for c in ids],
            "difficulty_score": resolved.column("difficulty_score"),
            "skill_idx": tags,
        },
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
    courses = warehouse.query(f"SELECT {', '.join(course_metadata.COURSE_COLUMNS)} FROM {COURSES}")
    skills = warehouse.query(f"SELECT skill_id, name FROM {SKILLS}")
    return resolve_catalog(courses, skills, course_metadata.read_inferred(warehouse))
