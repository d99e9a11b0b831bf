"""AI Metadata Agent: rules recover the world's truth, LLM answers are grounded or rejected,
only new or changed courses are inferred."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from learnrec.llm import LLMGateway
from learnrec.settings import Settings
from ml.agents.catalog import Catalog
from ml.agents.metadata import INFERRED_TABLE, infer_course_metadata

from .conftest import LLMServer, Reply, llm_settings


def stored(warehouse) -> list[dict]:
    return warehouse.query(f"select * from {INFERRED_TABLE} order by course_id, inferred_at").to_pylist()


def test_rules_recover_the_worlds_skills_difficulty_and_prerequisites(
    settings: Settings, warehouse, world_home: Path
) -> None:
    report = infer_course_metadata(settings, warehouse)
    assert report.inferred == report.courses == 120 and report.rules == 120
    truth = {
        r["course_id"]: r
        for r in pq.read_table(world_home / "world/ground_truth/courses.parquet").to_pylist()
    }
    rows = stored(warehouse)
    skills = set(warehouse.query("select skill_id from raw.skills").column(0).to_pylist())
    assert all(set(r["skill_tags"]) <= skills and r["skill_tags"] for r in rows)
    exact_tags = sum(set(r["skill_tags"]) == set(truth[r["course_id"]]["skill_ids"]) for r in rows) / len(
        rows
    )
    main_skill = sum(r["skill_tags"][0] == truth[r["course_id"]]["skill_ids"][0] for r in rows) / len(rows)
    mae = sum(abs(r["difficulty_score"] - truth[r["course_id"]]["difficulty"]) for r in rows) / len(rows)
    assert main_skill == 1.0
    assert exact_tags >= 0.9
    assert mae < 0.6
    assert all(1.0 <= r["difficulty_score"] <= 5.0 for r in rows)
    # prerequisites: existing courses, never the course itself, the graph acyclic
    graph = {r["course_id"]: r["prerequisites"] for r in rows}
    assert all(p in graph and p != c for c, ps in graph.items() for p in ps)

    def depth(course: str, seen: frozenset = frozenset()) -> int:
        assert course not in seen, f"prerequisite cycle through {course}"
        return 1 + max((depth(p, seen | {course}) for p in graph[course]), default=0)

    assert max(depth(c) for c in graph) >= 2
    assert {r["provenance"] for r in rows} == {"rules"}
    assert rows[0]["model"] == "rules:metadata-rules@v1"


def test_only_new_or_changed_courses_are_inferred(settings: Settings, warehouse) -> None:
    infer_course_metadata(settings, warehouse)
    assert infer_course_metadata(settings, warehouse).inferred == 0  # rerun: nothing new
    warehouse.execute(
        "update raw.courses set description = description || ' Now with a Docker lab.' where course_id = 'C00003'"
    )
    again = infer_course_metadata(settings, warehouse)
    assert again.inferred == 1
    rows = [r for r in stored(warehouse) if r["course_id"] == "C00003"]
    assert len(rows) == 2 and rows[0]["content_hash"] != rows[1]["content_hash"]
    # forced rerun replaces the current version's rows instead of stacking them
    infer_course_metadata(settings, warehouse, force=True)
    assert warehouse.scalar(f"select count(*) from {INFERRED_TABLE}") == 121


def _answer(body: dict, tags: list[str], prereqs: str = "first_candidate") -> Reply:
    user = body["messages"][-1]["content"]
    if isinstance(user, list):
        user = user[0]["text"]
    candidates = user.split("Candidate prerequisite courses (id, title, difficulty):\n", 1)[1].splitlines()
    first = candidates[0].split()[0] if candidates and candidates[0] != "(none)" else None
    chosen = {"first_candidate": [first] if first else [], "unknown": ["C99999"]}[prereqs]
    return Reply(json.dumps({"skill_tags": tags, "difficulty_score": 2.7, "prerequisites": chosen}))


@pytest.mark.integration
def test_llm_answers_are_stored_with_provenance(llm_server: LLMServer, tmp_path: Path, warehouse) -> None:
    llm_server.respond = lambda body: _answer(body, ["S002", "S005"])
    settings = llm_settings(tmp_path, llm_server, llm_max_calls_per_run=3)
    gateway = LLMGateway.from_settings(settings)
    report = infer_course_metadata(settings, warehouse, gateway=gateway)
    assert (report.llm, report.rules) == (3, 117)  # the call budget caps LLM use per run
    llm_rows = [r for r in stored(warehouse) if r["provenance"] == "llm"]
    assert len(llm_rows) == 3
    row = llm_rows[0]
    assert row["skill_tags"] == ["S002", "S005"] and row["difficulty_score"] == 2.7
    assert row["model"] == "claude-sonnet-4-5" and row["prompt_version"].startswith("course_metadata@v1+")
    # the taxonomy and the course text were in the prompt
    assert "S001 Spreadsheet Analysis (data, level 1)" in llm_server.prompts()[0]
    assert warehouse.scalar("select llm_answers from ops.agent_runs") == 3


@pytest.mark.integration
@pytest.mark.parametrize(
    ("tags", "prereqs"), [(["S999"], "first_candidate"), ([], "first_candidate"), (["S002"], "unknown")]
)
def test_ungrounded_llm_answers_fall_back_to_rules(
    tags: list[str], prereqs: str, llm_server: LLMServer, tmp_path: Path, warehouse
) -> None:
    llm_server.respond = lambda body: _answer(body, tags, prereqs)
    settings = llm_settings(tmp_path, llm_server, llm_max_calls_per_run=2)
    report = infer_course_metadata(settings, warehouse)
    assert report.llm == 0
    catalog_rules = Catalog.load(warehouse).rules_metadata
    first = stored(warehouse)[0]
    assert first["provenance"] == "rules"
    assert tuple(first["skill_tags"]) == catalog_rules[first["course_id"]].skill_tags
