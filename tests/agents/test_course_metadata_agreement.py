"""Course metadata is resolved once: after an instructor edits a course, dbt's dim_courses input,
Spark's feature catalogue and the agents' catalogue agree about its skills.

Before, dbt and Spark applied the newest inference even when it was made from the course's old
content, while the agents ignored it (content-hash match) and inferred by rules on the fly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from learnrec import course_metadata
from learnrec.settings import Settings
from learnrec.transform.dbt_runner import run_dbt
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots
from ml.agents.catalog import Catalog
from ml.agents.metadata import infer_course_metadata
from spark_jobs.catalog import load_catalog

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EDITED = "C00003"


def _edit_syllabus(landing: Path, skill_name: str) -> None:
    """The instructor rewrites EDITED's syllabus around another skill (in the snapshot export)."""
    path = landing / "sources" / "courses.parquet"
    courses = pq.read_table(path)
    syllabus = json.dumps(
        [{"module_id": f"{EDITED}-M01", "title": f"{skill_name}: Foundations", "minutes": 30}]
    )
    edited = pc.if_else(pc.equal(courses.column("course_id"), EDITED), syllabus, courses.column("syllabus"))
    pq.write_table(courses.set_column(courses.column_names.index("syllabus"), "syllabus", edited), path)


def test_resolve_applies_an_inference_only_to_the_content_it_was_made_from() -> None:
    row = {"course_id": "C1", "title": "T", "description": "D", "format": "video", "level": "advanced"}
    row |= {"syllabus": '[{"title": "SQL: Joins"}]', "instructor_prerequisites": ["C0"]}
    courses = pa.Table.from_pylist([row])
    skills = pa.Table.from_pylist([{"skill_id": "S1", "name": "SQL"}, {"skill_id": "S2", "name": "Go"}])
    now = course_metadata.content_hash("T", "D", row["syllabus"], "video", "advanced", ["C0"])
    inference = {"course_id": "C1", "skill_tags": ["S2"], "difficulty_score": 2.0, "prerequisites": ["C9"]}
    inferred = pa.Table.from_pylist(
        [
            inference
            | {"provenance": "llm", "content_hash": now, "inferred_at": pa.scalar(1, pa.timestamp("us"))},
            inference
            | {
                "skill_tags": ["S1", "S2"],
                "provenance": "rules",
                "content_hash": "old",
                "inferred_at": pa.scalar(2, pa.timestamp("us")),
            },
        ]
    )
    [current] = course_metadata.resolve(courses, skills, inferred).to_pylist()
    assert (current["skill_tags"], current["difficulty_score"], current["metadata_source"]) == (
        ["S2"],
        2.0,
        "llm",
    )
    assert current["prerequisites"] == ["C0", "C9"]  # the instructor's first, then the agent's
    [edited] = course_metadata.resolve(courses, skills, inferred.slice(1)).to_pylist()  # only a stale one
    assert (edited["skill_tags"], edited["difficulty_score"], edited["metadata_source"]) == (
        ["S1"],
        4.5,
        "instructor",
    )
    assert edited["prerequisites"] == ["C0"] and edited["metadata_inferred_at"] is None


def test_after_a_course_edit_dbt_spark_and_the_agents_agree(
    settings: Settings, world_landing: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(world_landing / "sources", landing / "sources")
    with connect_warehouse(settings) as warehouse:
        load_source_snapshots(warehouse, landing)
        infer_course_metadata(settings, warehouse)  # rules provider: every course inferred
        stale = Catalog.load(warehouse).metadata(EDITED).skill_tags
        other = (
            warehouse.query(
                "select name from raw.skills where skill_id not in "
                f"({', '.join('?' for _ in stale)}) order by skill_id limit 1",
                list(stale),
            )
            .column(0)[0]
            .as_py()
        )
    _edit_syllabus(landing, other)
    with connect_warehouse(settings) as warehouse:
        load_source_snapshots(warehouse, landing)  # the nightly snapshot load brings the edit
    run_dbt(settings, "run", "--select", "+int_course_metadata_resolved")
    with connect_warehouse(settings, read_only=True) as warehouse:
        dbt = {
            r["course_id"]: tuple(r["skill_tags"])
            for r in warehouse.query(
                "select course_id, skill_tags from intermediate.int_course_metadata_resolved"
            ).to_pylist()
        }
        spark = load_catalog(warehouse)
        spark_tags = {
            r["course_id"]: tuple(spark.skill_ids[i] for i in r["skill_idx"])
            for r in spark.courses.to_pylist()
        }
        agents = Catalog.load(warehouse)
        agent_tags = {cid: agents.metadata(cid).skill_tags for cid in agents.courses}
    assert dbt[EDITED] != stale  # the old content's inference no longer applies
    assert dbt[EDITED][0] == agents.skills_named(other)[0]
    assert dbt == spark_tags == agent_tags
