"""The course catalogue the features read: dbt's resolution rules, without a warehouse or Spark."""

from __future__ import annotations

import pyarrow as pa
import pytest

from learnrec.cli import main
from learnrec.course_metadata import syllabus_skill_names
from spark_jobs.catalog import resolve_catalog
from tests.spark_jobs.conftest import catalog_tables


def test_syllabus_names_skills_in_order_of_first_appearance() -> None:
    syllabus = '[{"title": "Docker: Overview"}, {"title": "SQL Basics: Setup"}, {"title": "Docker: Review"}]'
    assert syllabus_skill_names(syllabus) == ["Docker", "SQL Basics"]
    assert syllabus_skill_names("not json") == []


def test_agent_metadata_wins_over_instructor_metadata() -> None:
    courses, skills, inferred = catalog_tables()
    catalog = resolve_catalog(courses, skills, inferred)
    rows = {r["course_id"]: r for r in catalog.courses.to_pylist()}
    assert catalog.skill_ids == ("S01", "S02", "S03")
    assert rows["C1"]["skill_idx"] == [0, 1] and rows["C1"]["difficulty_score"] == 1.5
    assert rows["C2"]["skill_idx"] == [2] and rows["C2"]["difficulty_score"] == 4.5
    # C3's syllabus names Python (S02); the agent's inference of its current content says S03,
    # difficulty 5 (its older inference, of other content, S01 and 2)
    assert rows["C3"]["skill_idx"] == [2] and rows["C3"]["difficulty_score"] == 5.0
    assert resolve_catalog(courses, skills).courses.to_pylist()[2]["skill_idx"] == [1]
    # with only the older inference, C3 is back to its syllabus: that inference is not of this content
    assert resolve_catalog(courses, skills, inferred.slice(0, 1)).courses.to_pylist()[2]["skill_idx"] == [1]


def test_tags_outside_the_taxonomy_are_dropped_and_counted() -> None:
    courses, skills, inferred = catalog_tables()
    bogus = inferred.set_column(1, "skill_tags", pa.array([["S01"], ["S99", "S03"]]))
    catalog = resolve_catalog(courses, skills, bogus)
    assert catalog.dropped_tags == 1
    assert catalog.courses.to_pylist()[2]["skill_idx"] == [2]


def test_cli_without_a_catalogue_is_a_usage_error(learnrec_home, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "--run-date", "2026-10-30"]) == 2
    err = capsys.readouterr().err
    assert "raw.courses is missing" in err and "Traceback" not in err
