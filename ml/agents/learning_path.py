"""Learning Path Agent: a personalised, catalogue-grounded path to the learner's career goal.

The precompute stage (exports/) writes a *static* path per learner into ``recs.learning_paths``
(``source = 'static'``). This agent writes an LLM path for the same ``run_id`` beside it
(``source = 'llm'``) where the LLM's answer passes validation: only candidate course ids, no
duplicates, no completed courses, every prerequisite completed or earlier in the path, at least one
course teaching a target skill of the goal. Where the LLM is off, unavailable, over budget or
wrong, no LLM row is written and apps serve the static path (the product's fallback): readers
prefer ``source = 'llm'`` for a learner and otherwise take ``'static'``.

Before a path is written it is checked once more against what the publication gate checks (the
same completions as the static paths, ``marts.fct_learner_course_interactions``, and the
published prerequisites of ``marts.dim_courses`` besides the agent's own), so an LLM path can
never fail the gate and hold back a night's recommendations: a path that would is dropped and the
static one stays.

Privacy: the prompt holds no personal data (no name, no ids). Default-tier learners get a path
from what they declared (goal, role) only: their completions, being behavioural data, are not
sent to the LLM.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel, Field

from learnrec import safetext
from learnrec.llm import GatewayResult, LLMGateway, load_prompt
from learnrec.settings import Settings
from learnrec.tables import (
    CAREER_GOALS,
    DIM_COURSES,
    LEARNER_COURSE_INTERACTIONS,
    LEARNERS,
    LEARNING_PATH_SCHEMA,
    LEARNING_PATHS,
    RUNS,
)
from learnrec.warehouse import Warehouse
from ml.agents.catalog import Catalog
from ml.agents.runs import record_agent_run

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
RULES_VERSION = "static-path"
MAX_CANDIDATES = 40
#: Longest step reason (shown to the learner) and untrusted title or role put into the prompt.
REASON_CHARS, TITLE_CHARS = 240, 120


class PathStep(BaseModel):
    course_id: str
    reason: str = Field(min_length=1, max_length=REASON_CHARS)


class PathAnswer(BaseModel):
    steps: list[PathStep] = Field(max_length=12)


@dataclass(frozen=True)
class PathLearner:
    learner_id: str
    career_goal: str
    current_role: str | None
    data_tier: str  # default | opted_in
    completed: frozenset[str]  # course ids; sent to the LLM for opted-in learners only
    static_path: tuple[str, ...]  # the static path's course ids, in order


@dataclass(frozen=True)
class PathRunReport:
    learners: int
    llm_paths: int
    static_paths: int
    usage: dict[str, object]
    rejected: int = 0  # valid LLM answers that failed the final check against the warehouse


def _candidates(catalog: Catalog, target_skills: set[str], static_path: tuple[str, ...]) -> list[str]:
    """Static path courses, courses teaching a target skill, and their prerequisites (closure)."""
    teaching = sorted(
        (catalog.metadata(cid).difficulty_score, cid)
        for cid in catalog.courses
        if set(catalog.metadata(cid).skill_tags[:1]) & target_skills
    )
    ordered = list(dict.fromkeys([*static_path, *(cid for _, cid in teaching)]))[:MAX_CANDIDATES]
    closure, queue = set(ordered), list(ordered)
    while queue:
        for prereq in catalog.metadata(queue.pop()).prerequisites:
            if prereq in catalog.courses and prereq not in closure:
                closure.add(prereq)
                ordered.append(prereq)
                queue.append(prereq)
    return ordered


def validate_path(
    catalog: Catalog,
    steps: list[str],
    candidates: set[str],
    completed: frozenset[str],
    target_skills: set[str],
    published_prerequisites: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Raise ValueError unless the path is grounded in the catalogue and respects prerequisites
    (the catalogue's, plus ``published_prerequisites``: those the gate checks)."""
    if not steps:
        raise ValueError("empty path")
    if len(set(steps)) != len(steps):
        raise ValueError("a course appears twice")
    if unknown := [c for c in steps if c not in candidates or c not in catalog.courses]:
        raise ValueError(f"courses outside the candidates: {unknown}")
    if done := [c for c in steps if c in completed]:
        raise ValueError(f"courses already completed: {done}")
    seen: set[str] = set(completed)
    for course_id in steps:
        required = [
            *catalog.metadata(course_id).prerequisites,
            *(published_prerequisites or {}).get(course_id, ()),
        ]
        missing = [p for p in dict.fromkeys(required) if p not in seen]
        if missing:
            raise ValueError(f"{course_id} comes before its prerequisite(s) {missing}")
        seen.add(course_id)
    if not any(set(catalog.metadata(c).skill_tags) & target_skills for c in steps):
        raise ValueError("no step teaches a skill of the career goal")


def plan_path(
    gateway: LLMGateway, catalog: Catalog, learner: PathLearner, target_skills: list[str]
) -> GatewayResult[PathAnswer]:
    """The LLM's validated path, or the static path (provenance 'rules', reason recorded)."""
    targets = set(target_skills)
    completed = learner.completed if learner.data_tier == "opted_in" else frozenset()
    candidates = _candidates(catalog, targets, learner.static_path)
    listed = [c for c in candidates if c not in completed]

    def line(cid: str) -> str:
        meta = catalog.metadata(cid)
        skills = ", ".join(catalog.skills[s].name for s in meta.skill_tags if s in catalog.skills)
        prereqs = ", ".join(meta.prerequisites) or "none"
        title = safetext.fence(catalog.courses[cid].title, TITLE_CHARS)
        return f"{cid} | {title} | {skills} | {meta.difficulty_score} | {prereqs}"

    variables = {
        "career_goal": learner.career_goal,
        "target_skills": ", ".join(catalog.skills[s].name for s in target_skills if s in catalog.skills),
        "current_role": safetext.fence(learner.current_role, TITLE_CHARS)
        if learner.current_role
        else "not given",
        "completed": ", ".join(
            safetext.fence(catalog.courses[c].title, TITLE_CHARS)
            for c in sorted(completed)
            if c in catalog.courses
        )
        or "none shared",
        "candidates": "\n".join(line(c) for c in listed),
    }

    def check(answer: PathAnswer) -> None:
        safetext.check([s.reason for s in answer.steps], REASON_CHARS)
        validate_path(catalog, [s.course_id for s in answer.steps], set(listed), completed, targets)

    return gateway.run(
        load_prompt(PROMPTS, "learning_path"),
        variables,
        PathAnswer,
        fallback=lambda: PathAnswer(
            steps=[PathStep(course_id=c, reason="static path") for c in learner.static_path]
        ),
        rules_version=RULES_VERSION,
        validate=check,
        max_tokens=900,
    )


def _path_learners(warehouse: Warehouse, run_id: str) -> list[PathLearner]:
    static: dict[str, list[str]] = {}
    for row in warehouse.query(
        f"select learner_id, course_id from {LEARNING_PATHS} where run_id = ? and source = 'static' "
        "order by learner_id, step",
        [run_id],
    ).to_pylist():
        static.setdefault(row["learner_id"], []).append(row["course_id"])
    completed: dict[str, set[str]] = {}
    if warehouse.table_exists(
        LEARNER_COURSE_INTERACTIONS
    ):  # the completions the static paths and the gate use
        for row in warehouse.query(
            f"select distinct learner_id, course_id from {LEARNER_COURSE_INTERACTIONS} where completed"
        ).to_pylist():
            completed.setdefault(row["learner_id"], set()).add(row["course_id"])
    learners = warehouse.query(
        f"select learner_id, career_goal, current_role, data_tier from {LEARNERS} "
        "where career_goal is not null order by learner_id"
    ).to_pylist()
    return [
        PathLearner(
            row["learner_id"],
            row["career_goal"],
            row["current_role"],
            row["data_tier"],
            frozenset(completed.get(row["learner_id"], ())),
            tuple(static[row["learner_id"]]),
        )
        for row in learners
        if row["learner_id"] in static
    ]


def _published_prerequisites(warehouse: Warehouse) -> dict[str, tuple[str, ...]]:
    """Prerequisites as published in ``marts.dim_courses`` (instructor's + latest inference)."""
    if not warehouse.table_exists(DIM_COURSES):
        return {}
    rows = warehouse.query(f"select course_id, prerequisites from {DIM_COURSES}").to_pylist()
    return {row["course_id"]: tuple(row["prerequisites"] or ()) for row in rows}


def servable_steps(
    catalog: Catalog,
    learner: PathLearner,
    steps: list[PathStep],
    target_skills: set[str],
    published_prerequisites: Mapping[str, Sequence[str]],
) -> list[PathStep] | None:
    """The LLM path as it may be served, or None (serve the static path).

    A default-tier learner's completions were not sent to the LLM, so its path may name completed
    courses: they are dropped here, as the static path drops them. The rest must pass the gate's
    rules: completions and published prerequisites of the warehouse."""
    kept = [s for s in steps if s.course_id not in learner.completed]
    try:
        validate_path(
            catalog,
            [s.course_id for s in kept],
            set(catalog.courses),
            learner.completed,
            target_skills,
            published_prerequisites,
        )
    except ValueError as exc:
        log.warning("learner %s: LLM path not servable (%s); the static path stays", learner.learner_id, exc)
        return None
    return kept


def _llm_path_rows(
    gateway: LLMGateway,
    warehouse: Warehouse,
    run_id: str,
    learners: list[PathLearner],
    goals: dict[str, list[str]],
) -> tuple[list[dict[str, object]], int]:
    """Rows of the servable LLM paths, and how many valid answers were not servable. Asks while
    the LLM may be called: with it off (rules) or its budget spent, nothing is even prepared."""
    rows: list[dict[str, object]] = []
    rejected = 0
    if not gateway.llm_budget_left:
        return rows, rejected
    catalog = Catalog.load(warehouse)
    published = _published_prerequisites(warehouse)
    for learner in learners:
        if not gateway.llm_budget_left:  # the rest keep their static path
            break
        targets = goals[learner.career_goal]
        result = plan_path(gateway, catalog, learner, targets)
        if result.provenance != "llm":
            continue  # the static path stays the one served
        steps = servable_steps(catalog, learner, result.value.steps, set(targets), published)
        if steps is None:
            rejected += 1
            continue
        rows.extend(
            {
                "run_id": run_id,
                "learner_id": learner.learner_id,
                "career_goal": learner.career_goal,
                "step": i,
                "course_id": step.course_id,
                "reason": step.reason,
                "source": "llm",
            }
            for i, step in enumerate(steps, start=1)
        )
    return rows, rejected


def plan_llm_learning_paths(
    settings: Settings,
    warehouse: Warehouse,
    run_id: str,
    *,
    gateway: LLMGateway | None = None,
    now: datetime | None = None,
) -> PathRunReport:
    """Write the LLM paths of ``run_id`` beside its static paths (rerun replaces them).

    Only before publication: a published version's paths are what readers see and passed the
    gate, so a rerun (an Airflow task cleared after publish) would change them ungated."""
    if warehouse.table_exists(RUNS) and warehouse.scalar(
        f"select count(*) from {RUNS} where run_id = ? and published_at is not null", [run_id]
    ):
        raise ValueError(f"version {run_id!r} was published: its learning paths are not changed any more")
    gateway = gateway or LLMGateway.from_settings(settings)
    started = now or datetime.now(UTC)
    if not warehouse.table_exists(LEARNING_PATHS):
        log.info("no %s yet: nothing to personalise", LEARNING_PATHS)
        return PathRunReport(0, 0, 0, gateway.usage.as_dict())
    goals = {
        row["career_goal"]: list(row["target_skill_ids"])
        for row in warehouse.query(f"select career_goal, target_skill_ids from {CAREER_GOALS}").to_pylist()
    }
    learners = [p for p in _path_learners(warehouse, run_id) if p.career_goal in goals]
    rows, rejected = _llm_path_rows(gateway, warehouse, run_id, learners, goals)
    with warehouse.transaction():  # readers see the old LLM paths or the new ones, never a mix
        warehouse.execute(f"delete from {LEARNING_PATHS} where run_id = ? and source = 'llm'", [run_id])
        if rows:
            warehouse.load_arrow(
                LEARNING_PATHS, pa.Table.from_pylist(rows, schema=LEARNING_PATH_SCHEMA), mode="append"
            )
    n_llm = len({r["learner_id"] for r in rows})
    record_agent_run(warehouse, "learning_path", started, gateway.usage, items=len(learners))
    return PathRunReport(len(learners), n_llm, len(learners) - n_llm, gateway.usage.as_dict(), rejected)
