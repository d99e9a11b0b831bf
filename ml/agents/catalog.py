"""The catalogue as the agents see it: course text, the skill taxonomy and resolved metadata.

Course metadata is :mod:`learnrec.course_metadata`'s, the resolution Spark's features and dbt's
``dim_courses`` use too: the AI Metadata Agent's inference for the course's *current* content
(matched by content hash), otherwise what the instructor uploaded. So the agents never wait for
the catalogue DAG, never use metadata of an old version of a course, and agree with what apps see.
The Metadata Agent's own rule-based inference is :attr:`Catalog.rules_metadata`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from learnrec import course_metadata
from learnrec.tables import COURSE_METADATA_INFERRED, COURSES, SKILLS
from learnrec.warehouse import Warehouse

if TYPE_CHECKING:
    from ml.agents.skill_matching import EmbeddingTagger, SkillMatcher

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
    provenance: str  # llm | rules | instructor (no inference for the current content yet)


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

    def __init__(
        self,
        courses: list[Course],
        skills: list[Skill],
        resolved: dict[str, CourseMetadata],
        tagger: EmbeddingTagger | None = None,
    ):
        self.tagger = tagger  # tags courses whose text names no skill (None: such courses stay untagged)
        self.courses = {course.course_id: course for course in courses}
        self.skills = {skill.skill_id: skill for skill in skills}
        self._resolved = resolved

    @classmethod
    def load(cls, warehouse: Warehouse) -> Catalog:
        table = warehouse.query(
            "select course_id, title, description, syllabus, format, level, domain, instructor_prerequisites "
            f"from {COURSES} order by course_id"
        )
        skill_table = warehouse.query(
            f"select skill_id, name, domain, level, prerequisite_skill_ids from {SKILLS} order by skill_id"
        )
        resolved = {
            r["course_id"]: r
            for r in course_metadata.resolve(
                table, skill_table, course_metadata.read_inferred(warehouse)
            ).to_pylist()
        }
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
                content_hash=resolved[row["course_id"]]["content_hash"],
            )
            for row in table.to_pylist()
        ]
        skills = [
            Skill(
                r["skill_id"],
                r["name"],
                r["domain"],
                int(r["level"]),
                tuple(r["prerequisite_skill_ids"] or ()),
            )
            for r in skill_table.to_pylist()
        ]
        metadata = {
            cid: CourseMetadata(
                cid,
                tuple(r["skill_tags"]),
                r["difficulty_score"],
                tuple(r["prerequisites"]),
                r["metadata_source"],
            )
            for cid, r in resolved.items()
        }
        return cls(courses, skills, metadata)

    def inferred_hash(self, course_id: str) -> str | None:
        """Content hash of the stored inference for the course's current content, if any."""
        inferred = self._resolved[course_id].provenance != course_metadata.INSTRUCTOR
        return self.courses[course_id].content_hash if inferred else None

    # --- rule-based reading of the text -------------------------------------------------------
    @cached_property
    def _matcher(self) -> SkillMatcher:
        from ml.agents.skill_matching import SkillMatcher

        return SkillMatcher(self.skills.values())

    def skills_named(self, text: str) -> list[str]:
        """Skill ids named in ``text`` (by name or synonym), in order of first mention."""
        return self._matcher.named(text)

    @cached_property
    def rules_metadata(self) -> dict[str, CourseMetadata]:
        from ml.agents.metadata import rules_metadata

        return rules_metadata(self, self.tagger)

    def metadata(self, course_id: str) -> CourseMetadata:
        """The course's resolved metadata (see the module docstring)."""
        return self._resolved[course_id]
