"""The catalogue as the agents see it: course text, the skill taxonomy and resolved metadata.

Course metadata resolves to the AI Metadata Agent's latest inference for the course's *current*
content (matched by content hash) and otherwise to the rule-based inference computed on the fly,
so the other agents never wait for the catalogue DAG and never use metadata of an old version of
a course.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from functools import cached_property

from learnrec.tables import COURSE_METADATA_INFERRED, COURSES, SKILLS
from learnrec.warehouse import Warehouse

log = logging.getLogger(__name__)

INFERRED_TABLE = COURSE_METADATA_INFERRED


@dataclass(frozen=True)
class Skill:
    skill_id: str
    name: str
    domain: str
    level: int
    prerequisite_skill_ids: tuple[str, ...]


@dataclass(frozen=True)
class Course:
    course_id: str
    title: str
    description: str
    module_titles: tuple[str, ...]
    format: str
    level: str
    domain: str
    instructor_prerequisites: tuple[str, ...]
    content_hash: str


@dataclass(frozen=True)
class CourseMetadata:
    course_id: str
    skill_tags: tuple[str, ...]  # skill ids, the main skill first
    difficulty_score: float  # 1..5
    prerequisites: tuple[str, ...]  # course ids
    provenance: str  # llm | rules


def content_hash(
    title: str, description: str, syllabus: str, fmt: str, level: str, prereqs: list[str]
) -> str:
    """Hash of everything an instructor uploads that metadata depends on: a change means re-inference."""
    payload = json.dumps([title, description, syllabus, fmt, level, list(prereqs)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _module_titles(course_id: str, syllabus: str) -> tuple[str, ...]:
    try:
        modules = json.loads(syllabus)
        return tuple(str(module["title"]) for module in modules)
    except (ValueError, TypeError, KeyError):
        # A broken syllabus still leaves title and description to infer from; say so, drop nothing.
        log.warning(
            "course %s: syllabus is not a JSON list of modules; using title and description", course_id
        )
        return ()


class Catalog:
    """Courses and skills read once from ``raw``; metadata resolved lazily."""

    def __init__(self, courses: list[Course], skills: list[Skill], inferred: dict[str, CourseMetadata]):
        self.courses = {course.course_id: course for course in courses}
        self.skills = {skill.skill_id: skill for skill in skills}
        self._inferred = inferred

    @classmethod
    def load(cls, warehouse: Warehouse) -> Catalog:
        rows = warehouse.query(
            "select course_id, title, description, syllabus, format, level, domain, instructor_prerequisites "
            f"from {COURSES} order by course_id"
        ).to_pylist()
        courses = [
            Course(
                course_id=row["course_id"],
                title=row["title"],
                description=row["description"],
                module_titles=_module_titles(row["course_id"], row["syllabus"]),
                format=row["format"],
                level=row["level"],
                domain=row["domain"],
                instructor_prerequisites=tuple(row["instructor_prerequisites"] or ()),
                content_hash=content_hash(
                    row["title"],
                    row["description"],
                    row["syllabus"],
                    row["format"],
                    row["level"],
                    row["instructor_prerequisites"] or [],
                ),
            )
            for row in rows
        ]
        skills = [
            Skill(
                r["skill_id"],
                r["name"],
                r["domain"],
                int(r["level"]),
                tuple(r["prerequisite_skill_ids"] or ()),
            )
            for r in warehouse.query(
                f"select skill_id, name, domain, level, prerequisite_skill_ids from {SKILLS} order by skill_id"
            ).to_pylist()
        ]
        inferred: dict[str, CourseMetadata] = {}
        if warehouse.table_exists(INFERRED_TABLE):
            current = {course.course_id: course.content_hash for course in courses}
            for row in warehouse.query(
                f"select course_id, skill_tags, difficulty_score, prerequisites, provenance, content_hash "
                f"from {INFERRED_TABLE} order by inferred_at"
            ).to_pylist():
                if current.get(row["course_id"]) == row["content_hash"]:  # later rows win
                    inferred[row["course_id"]] = CourseMetadata(
                        row["course_id"],
                        tuple(row["skill_tags"]),
                        float(row["difficulty_score"]),
                        tuple(row["prerequisites"]),
                        row["provenance"],
                    )
        return cls(courses, skills, inferred)

    def inferred_hash(self, course_id: str) -> str | None:
        """Content hash of the stored inference for the course's current content, if any."""
        return self.courses[course_id].content_hash if course_id in self._inferred else None

    # --- rule-based reading of the text -------------------------------------------------------
    @cached_property
    def _skill_pattern(self) -> re.Pattern[str]:
        names = sorted((skill.name for skill in self.skills.values()), key=len, reverse=True)
        return re.compile(r"(?<![\w])(" + "|".join(re.escape(name) for name in names) + r")(?![\w])", re.I)

    @cached_property
    def _skill_by_name(self) -> dict[str, str]:
        return {skill.name.lower(): skill.skill_id for skill in self.skills.values()}

    def skills_named(self, text: str) -> list[str]:
        """Skill ids named in ``text``, in order of first mention."""
        found = (self._skill_by_name[m.group(1).lower()] for m in self._skill_pattern.finditer(text))
        return list(dict.fromkeys(found))

    @cached_property
    def rules_metadata(self) -> dict[str, CourseMetadata]:
        from ml.agents.metadata import rules_metadata

        return rules_metadata(self)

    def metadata(self, course_id: str) -> CourseMetadata:
        """The agent's inference for the current content, else the rule-based one."""
        return self._inferred.get(course_id) or self.rules_metadata[course_id]
