"""Learning Path Agent: LLM paths are grounded and respect prerequisites, or the static path stays."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from learnrec.settings import Settings, load_settings
from learnrec.tables import LEARNING_PATH_SCHEMA, LEARNING_PATHS
from ml.agents.catalog import Catalog
from ml.agents.learning_path import plan_llm_learning_paths, validate_path

from .conftest import LLMServer, Reply, llm_settings

RUN_ID = "run-2026-11-20"


def _valid_path(catalog: Catalog, targets: set[str]) -> list[str]:
    """A course teaching a target skill, preceded by its prerequisite closure in dependency order."""
    start = next(
        cid
        for cid in sorted(catalog.courses)
        if catalog.metadata(cid).skill_tags[:1]
        and catalog.metadata(cid).skill_tags[0] in targets
        and catalog.metadata(cid).prerequisites
    )
    order: list[str] = []

    def visit(cid: str) -> None:
        for prereq in catalog.metadata(cid).prerequisites:
            if prereq not in order:
                visit(prereq)
        if cid not in order:
            order.append(cid)

    visit(start)
    return order


@pytest.fixture
def one_learner(warehouse):
    """One opted-in learner with a goal, a static path and a completed course (others: none)."""
    row = warehouse.query(
        "select learner_id, career_goal from raw.learners where career_goal is not null and data_tier = 'opted_in' "
        "order by learner_id limit 1"
    ).to_pylist()[0]
    targets = set(
        warehouse.query(
            "select target_skill_ids from raw.career_goals where career_goal = ?", [row["career_goal"]]
        )
        .column(0)[0]
        .as_py()
    )
    catalog = Catalog.load(warehouse)
    path = _valid_path(catalog, targets)
    static = path[::-1]  # deliberately different from what the "LLM" will say
    warehouse.load_arrow(
        LEARNING_PATHS,
        pa.Table.from_pylist(
            [
                {
                    "run_id": RUN_ID,
                    "learner_id": row["learner_id"],
                    "career_goal": row["career_goal"],
                    "step": i,
                    "course_id": c,
                    "reason": "static",
                    "source": "static",
                }
                for i, c in enumerate(static, start=1)
            ],
            schema=LEARNING_PATH_SCHEMA,
        ),
    )
    return {
        "learner_id": row["learner_id"],
        "path": path,
        "static": static,
        "targets": targets,
        "catalog": catalog,
    }


def _stored(warehouse, source: str) -> list[str]:
    return (
        warehouse.query(
            f"select course_id from {LEARNING_PATHS} where run_id = ? and source = ? order by step",
            [RUN_ID, source],
        )
        .column(0)
        .to_pylist()
    )


def _steps(ids: list[str]) -> Reply:
    return Reply(
        json.dumps({"steps": [{"course_id": c, "reason": "builds on the previous step"} for c in ids]})
    )


@pytest.mark.integration
def test_valid_llm_path_is_written_beside_the_static_one(
    llm_server: LLMServer, tmp_path: Path, warehouse, one_learner
) -> None:
    llm_server.respond = lambda body: _steps(one_learner["path"])
    settings = llm_settings(tmp_path, llm_server)
    report = plan_llm_learning_paths(settings, warehouse, RUN_ID)
    assert (report.learners, report.llm_paths) == (1, 1)
    assert _stored(warehouse, "llm") == one_learner["path"]
    assert _stored(warehouse, "static") == one_learner["static"]
    # rerun replaces, never stacks
    plan_llm_learning_paths(settings, warehouse, RUN_ID)
    assert _stored(warehouse, "llm") == one_learner["path"]


@pytest.mark.integration
@pytest.mark.parametrize("mistake", ["prerequisite_after", "unknown_course", "duplicate", "empty"])
def test_invalid_llm_paths_leave_the_static_path_served(
    mistake: str, llm_server: LLMServer, tmp_path: Path, warehouse, one_learner
) -> None:
    path = one_learner["path"]
    bad = {
        "prerequisite_after": path[::-1],
        "unknown_course": [*path, "C99999"],
        "duplicate": [*path, path[-1]],
        "empty": [],
    }[mistake]
    llm_server.respond = lambda body: _steps(bad)
    report = plan_llm_learning_paths(llm_settings(tmp_path, llm_server), warehouse, RUN_ID)
    assert report.llm_paths == 0 and report.static_paths == 1
    assert _stored(warehouse, "llm") == []
    assert _stored(warehouse, "static") == one_learner["static"]


@pytest.mark.integration
def test_llm_unavailable_keeps_static_paths(
    llm_server: LLMServer, tmp_path: Path, warehouse, one_learner
) -> None:
    llm_server.respond = lambda body: Reply(status=529)
    report = plan_llm_learning_paths(llm_settings(tmp_path, llm_server), warehouse, RUN_ID)
    assert report.llm_paths == 0 and _stored(warehouse, "llm") == []


def test_rules_provider_writes_no_llm_paths(settings: Settings, warehouse, one_learner) -> None:
    report = plan_llm_learning_paths(settings, warehouse, RUN_ID)
    assert (report.learners, report.llm_paths, report.static_paths) == (1, 0, 1)


def test_validation_counts_completed_prerequisites(warehouse, one_learner) -> None:
    catalog, path, targets = one_learner["catalog"], one_learner["path"], one_learner["targets"]
    candidates = set(catalog.courses)
    validate_path(catalog, path, candidates, frozenset(), targets)
    # the last course alone is fine once its prerequisites are completed...
    validate_path(catalog, path[-1:], candidates, frozenset(path[:-1]), targets)
    # ...but not otherwise, and completed courses may not be repeated
    with pytest.raises(ValueError, match="prerequisite"):
        validate_path(catalog, path[-1:], candidates, frozenset(), targets)
    with pytest.raises(ValueError, match="completed"):
        validate_path(catalog, path, candidates, frozenset(path[:1]), targets)
    with pytest.raises(ValueError, match="career goal"):
        validate_path(catalog, path, candidates, frozenset(), {"S999"})


@pytest.mark.integration
def test_default_tier_prompt_has_no_behavioural_data(
    llm_server: LLMServer, tmp_path: Path, warehouse, one_learner
) -> None:
    from learnrec.llm import LLMGateway
    from ml.agents.learning_path import PathLearner, plan_path

    catalog = one_learner["catalog"]
    done = one_learner["path"][0]
    llm_server.respond = lambda body: _steps(one_learner["path"][1:])
    gateway = LLMGateway.from_settings(llm_settings(tmp_path, llm_server))
    title = catalog.courses[done].title
    for tier in ("opted_in", "default"):
        learner = PathLearner("L1", "goal", None, tier, frozenset({done}), tuple(one_learner["static"]))
        result = plan_path(gateway, catalog, learner, sorted(one_learner["targets"]))
        sent = llm_server.prompts()[-1]
        if tier == "opted_in":
            assert f"Courses already completed: [[{title}]]" in sent  # fenced as data
            assert result.provenance == "llm"
        else:
            assert "Courses already completed: none shared" in sent
            # without completions, skipping the first prerequisite is invalid: static path
            assert result.provenance == "rules"
        assert "L1" not in sent


@pytest.mark.integration
def test_paths_are_checked_against_the_warehouse_before_writing(
    llm_server: LLMServer, tmp_path: Path, warehouse, one_learner
) -> None:
    """The gate's rules hold for what is written: a default-tier learner's completed course (not
    sent to the LLM) is dropped from its path; a path breaking a published prerequisite is not
    written (the static path stays)."""
    path, learner_id = one_learner["path"], one_learner["learner_id"]
    warehouse.execute("update raw.learners set data_tier = 'default' where learner_id = ?", [learner_id])
    warehouse.execute("create schema if not exists marts")
    warehouse.load_arrow(
        "marts.fct_learner_course_interactions",
        pa.table({"learner_id": [learner_id], "course_id": [path[0]], "completed": [True]}),
    )
    llm_server.respond = lambda body: _steps(path)
    settings = llm_settings(tmp_path, llm_server)
    report = plan_llm_learning_paths(settings, warehouse, RUN_ID)
    assert (report.llm_paths, report.rejected) == (1, 0)
    assert "Courses already completed: none shared" in llm_server.prompts()[-1]
    assert _stored(warehouse, "llm") == path[1:]

    unrelated = next(c for c in sorted(one_learner["catalog"].courses) if c not in path)
    published = {"course_id": [path[-1]], "prerequisites": [[unrelated]]}
    warehouse.load_arrow("marts.dim_courses", pa.table(published))
    report = plan_llm_learning_paths(settings, warehouse, RUN_ID)
    assert (report.llm_paths, report.static_paths, report.rejected) == (0, 1, 1)
    assert _stored(warehouse, "llm") == []


@pytest.mark.integration
def test_no_prompt_is_prepared_once_the_llm_budget_is_spent(
    llm_server: LLMServer, tmp_path: Path, warehouse, one_learner, monkeypatch
) -> None:
    """Preparing a prompt scans the catalogue: with the LLM off (rules) or its per-run budget spent
    the agent stops asking, instead of building prompts whose answer is the static path anyway."""
    import ml.agents.learning_path as agent

    asked: list[str] = []
    real = agent.plan_path
    monkeypatch.setattr(agent, "plan_path", lambda *a, **k: asked.append(a[2].learner_id) or real(*a, **k))
    for settings in (
        llm_settings(tmp_path, llm_server, llm_max_calls_per_run=0),
        load_settings(home=tmp_path),
    ):
        report = plan_llm_learning_paths(settings, warehouse, RUN_ID)
        assert (report.learners, report.llm_paths, report.static_paths) == (1, 0, 1)
    assert asked == [] and llm_server.requests == []
