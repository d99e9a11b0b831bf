"""Static learning paths: an ordered list of courses that covers a career goal's target skills.

One template per career goal (it depends only on the catalogue), so the cost does not grow with
learners; each learner's path is the template minus the courses they completed (done in SQL by
the precompute). The LLM-personalised path of the agents replaces it where available.

For each target skill the path takes the gentlest course whose primary skill it is (else any
course tagged with it), then every prerequisite of the chosen courses (transitively), and orders
them so that each course comes after its prerequisites (Kahn's algorithm, easier first).
"""

from __future__ import annotations

import heapq

import pyarrow as pa

from ml.ranking.catalog import CourseCatalog

PATH_SCHEMA = pa.schema(
    [
        pa.field("career_goal", pa.string(), nullable=False),
        pa.field("step", pa.int32(), nullable=False),
        pa.field("course_id", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)


def _course_for_skill(skill: str, catalog: CourseCatalog) -> int | None:
    tags = catalog.skill_tags
    primary = [i for i, t in enumerate(tags) if t and t[0] == skill]
    tagged = primary or [i for i, t in enumerate(tags) if skill in t]
    if not tagged:
        return None
    return min(tagged, key=lambda i: (float(catalog.difficulty[i]), -float(catalog.quality[i]), i))


def career_path(
    career_goal: str,
    target_skills: list[str],
    catalog: CourseCatalog,
    skill_names: dict[str, str],
) -> list[tuple[int, str]]:
    """(course index, reason) in learning order for one career goal."""
    reason: dict[int, str] = {}
    for skill in target_skills:
        course = _course_for_skill(skill, catalog)
        if course is not None and course not in reason:
            reason[course] = f"Builds {skill_names.get(skill, skill)} for your goal: {career_goal}"
    stack = list(reason)
    while stack:  # transitive prerequisites
        course = stack.pop()
        for pre in catalog.prerequisites[course]:
            if pre >= 0 and int(pre) not in reason:
                reason[int(pre)] = f"Needed before {catalog.titles[course]}"
                stack.append(int(pre))
    prereqs = {c: {int(p) for p in catalog.prerequisites[c] if p >= 0} for c in reason}
    ready = [(float(catalog.difficulty[c]), c) for c in reason if not prereqs[c]]
    heapq.heapify(ready)
    ordered: list[int] = []
    while ready:
        _, course = heapq.heappop(ready)
        ordered.append(course)
        for other, needs in prereqs.items():
            if course in needs:
                needs.discard(course)
                if not needs:
                    heapq.heappush(ready, (float(catalog.difficulty[other]), other))
    # a prerequisite cycle in the catalogue cannot be ordered: those courses are left out
    return [(c, reason[c]) for c in ordered]


def static_paths(catalog: CourseCatalog, career_goals: pa.Table, skills: pa.Table) -> pa.Table:
    """The path template of every career goal (``career_goals``: career_goal, target_skill_ids;
    ``skills``: skill_id, name)."""
    names = dict(zip(skills.column("skill_id").to_pylist(), skills.column("name").to_pylist(), strict=True))
    rows: dict[str, list] = {name: [] for name in PATH_SCHEMA.names}
    for goal, targets in zip(
        career_goals.column("career_goal").to_pylist(),
        career_goals.column("target_skill_ids").to_pylist(),
        strict=True,
    ):
        for step, (course, why) in enumerate(career_path(goal, targets or [], catalog, names), start=1):
            rows["career_goal"].append(goal)
            rows["step"].append(step)
            rows["course_id"].append(str(catalog.course_ids[course]))
            rows["reason"].append(why)
    return pa.Table.from_pydict(rows, schema=PATH_SCHEMA)
