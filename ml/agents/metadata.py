"""AI Metadata Agent: skill tags, difficulty and prerequisites for new or changed courses.

A course is (re)inferred when no inference exists for its current content hash, so a nightly or
on-upload run touches only what changed and a rerun writes nothing new. The LLM sees the course
text, the taxonomy and candidate prerequisite courses; its answer must use taxonomy skill ids and
candidate course ids only. The rule-based inference (the fallback and the embedded default):

* skill_tags: taxonomy skills named (by name or synonym, :mod:`ml.agents.skill_matching`) by the
  title and the module titles (and by the description outside sentences that state what the
  course assumes), main skill first; a course naming none gets the skill MiniLM finds most similar
  to its text, above ``LEARNREC_METADATA_EMBEDDING_THRESHOLD``;
* difficulty_score: the main skill's taxonomy level, kept inside the range of the declared level
  (beginner 1-2.4, intermediate 2.5-3.7, advanced 3.8-5); without a declared level, from the text
  (:mod:`ml.agents.difficulty`);
* prerequisites: the instructor's, then for each taxonomy prerequisite of the main skill (and
  each skill the description says it assumes) the easiest course whose main skill it is. Following
  the taxonomy's prerequisite relation keeps the course graph acyclic.

Rows go to ``raw.course_metadata_inferred`` with provenance (llm | rules), model, prompt version
and content hash; ``inferred_at`` orders them (dbt takes the latest).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel, Field

from learnrec import course_metadata
from learnrec.llm import LLMGateway, load_prompt
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse
from ml.agents.catalog import INFERRED_TABLE, Catalog, Course, CourseMetadata
from ml.agents.difficulty import text_difficulty
from ml.agents.runs import record_agent_run
from ml.agents.skill_matching import EmbeddingTagger

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
RULES_VERSION = "metadata-rules@v1"
LEVEL_RANGES = {"beginner": (1.0, 2.4), "intermediate": (2.5, 3.7), "advanced": (3.8, 5.0)}
ASSUMES = re.compile(
    r"\b(assum\w*|comfortable with|prerequisite\w*|requires?|prior|before (this|taking))\b", re.I
)
MAX_CANDIDATES = 30

INFERRED_SCHEMA = pa.schema(
    [
        pa.field("course_id", pa.string(), nullable=False),
        pa.field("skill_tags", pa.list_(pa.string()), nullable=False),
        pa.field("difficulty_score", pa.float64(), nullable=False),
        pa.field("prerequisites", pa.list_(pa.string()), nullable=False),
        pa.field("provenance", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("prompt_version", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("inferred_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


class MetadataAnswer(BaseModel):
    """What the LLM must return (schema-checked, then grounded by :func:`_grounding_check`)."""

    skill_tags: list[str] = Field(max_length=8)
    difficulty_score: float = Field(ge=1.0, le=5.0)
    prerequisites: list[str] = Field(default_factory=list, max_length=10)


@dataclass(frozen=True)
class MetadataRunReport:
    courses: int
    inferred: int
    llm: int
    rules: int
    usage: dict[str, object]


# --- rules ---------------------------------------------------------------------------------
def _split_description(catalog: Catalog, description: str) -> tuple[list[str], list[str]]:
    """(skills the description says the course teaches, skills it says the course assumes)."""
    taught: list[str] = []
    assumed: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", description):
        (assumed if ASSUMES.search(sentence) else taught).extend(catalog.skills_named(sentence))
    return taught, assumed


def embedding_text(course: Course) -> str:
    """The text compared with skill descriptions: all the course says about itself."""
    return ". ".join([course.title, course.description, *course.module_titles])


def _rules_tags_and_difficulty(
    catalog: Catalog, course: Course, tagger: EmbeddingTagger | None
) -> tuple[tuple[str, ...], float, list[str]]:
    taught, assumed = _split_description(catalog, course.description)
    named = catalog.skills_named(course.title) + [
        s for t in course.module_titles for s in catalog.skills_named(t)
    ]
    tags = tuple(dict.fromkeys(named + [s for s in taught if s not in assumed]))
    if not tags and tagger is not None:
        tags = tuple(s for s in tagger.tag(embedding_text(course)) if s not in assumed)
    if course.level not in LEVEL_RANGES:  # no declared level: read it from the text
        text = f"{course.title}. {course.description}"
        return tags, text_difficulty(catalog.skills, text, course.module_titles, tags, assumed), assumed
    low, high = LEVEL_RANGES[course.level]
    level = float(catalog.skills[tags[0]].level) if tags else (low + high) / 2
    return tags, round(min(max(level, low), high), 1), assumed


def rules_metadata(catalog: Catalog, tagger: EmbeddingTagger | None = None) -> dict[str, CourseMetadata]:
    """Rule-based metadata of every course (needs the whole catalogue for prerequisites)."""
    firsts = {
        cid: _rules_tags_and_difficulty(catalog, course, tagger) for cid, course in catalog.courses.items()
    }
    # Easiest course per main skill (ties: lowest course id): the canonical course to learn it.
    canonical: dict[str, tuple[float, str]] = {}
    for cid, (tags, difficulty, _) in sorted(firsts.items()):
        if tags and (tags[0] not in canonical or difficulty < canonical[tags[0]][0]):
            canonical[tags[0]] = (difficulty, cid)
    out: dict[str, CourseMetadata] = {}
    for cid, (tags, difficulty, assumed) in firsts.items():
        needed = list(catalog.skills[tags[0]].prerequisite_skill_ids) if tags else []
        needed += [s for s in assumed if s not in needed and (not tags or s != tags[0])]
        inferred = [canonical[s][1] for s in needed if s in canonical and canonical[s][1] != cid]
        prereqs = tuple(dict.fromkeys([*catalog.courses[cid].instructor_prerequisites, *inferred]))
        out[cid] = CourseMetadata(cid, tags, difficulty, prereqs, "rules")
    return out


# --- LLM -----------------------------------------------------------------------------------
def _candidates(catalog: Catalog, course: Course) -> list[str]:
    """Courses the LLM may name as prerequisites: rules' choice first, then courses on related skills."""
    rules = catalog.rules_metadata
    own = rules[course.course_id]
    skills = set(own.skill_tags) | {
        p for s in own.skill_tags for p in catalog.skills[s].prerequisite_skill_ids
    }
    related = sorted(
        (rules[cid].difficulty_score, cid)
        for cid, meta in rules.items()
        if cid != course.course_id and meta.skill_tags and meta.skill_tags[0] in skills
    )
    ordered = list(dict.fromkeys([*own.prerequisites, *(cid for _, cid in related)]))
    return ordered[:MAX_CANDIDATES]


def _grounding_check(catalog: Catalog, course_id: str, candidates: list[str]):
    allowed = set(candidates)

    def check(answer: MetadataAnswer) -> None:
        if not answer.skill_tags:
            raise ValueError("no skill tags")
        unknown = [s for s in answer.skill_tags if s not in catalog.skills]
        if unknown:
            raise ValueError(f"skill ids not in the taxonomy: {unknown}")
        if len(set(answer.skill_tags)) != len(answer.skill_tags):
            raise ValueError("duplicate skill tags")
        outside = [c for c in answer.prerequisites if c not in allowed]
        if outside or course_id in answer.prerequisites:
            raise ValueError(f"prerequisites outside the candidate courses: {outside or [course_id]}")

    return check


def infer_course(gateway: LLMGateway, catalog: Catalog, course: Course):
    """Metadata of one course: the LLM's grounded answer, or the rules' one."""
    prompt = load_prompt(PROMPTS, "course_metadata")
    rules = catalog.rules_metadata[course.course_id]
    candidates = _candidates(catalog, course)
    taxonomy = "\n".join(
        f"{s.skill_id} {s.name} ({s.domain}, level {s.level})" for s in catalog.skills.values()
    )
    difficulty = {cid: catalog.rules_metadata[cid].difficulty_score for cid in candidates}
    variables = {
        "course_id": course.course_id,
        "title": course.title,
        "level": course.level,
        "format": course.format,
        "description": course.description,
        "modules": "\n".join(f"- {title}" for title in course.module_titles) or "- (no syllabus)",
        "taxonomy": taxonomy,
        "candidates": "\n".join(
            f"{cid} {catalog.courses[cid].title} ({difficulty[cid]})" for cid in candidates
        )
        or "(none)",
    }
    return gateway.run(
        prompt,
        variables,
        MetadataAnswer,
        fallback=lambda: MetadataAnswer(
            skill_tags=list(rules.skill_tags),
            difficulty_score=rules.difficulty_score,
            prerequisites=list(rules.prerequisites),
        ),
        rules_version=RULES_VERSION,
        validate=_grounding_check(catalog, course.course_id, candidates),
        max_tokens=400,
    )


def infer_course_metadata(
    settings: Settings,
    warehouse: Warehouse,
    *,
    gateway: LLMGateway | None = None,
    now: datetime | None = None,
    force: bool = False,
) -> MetadataRunReport:
    """Infer metadata for every course whose current content has no inference yet (all if ``force``)."""
    gateway = gateway or LLMGateway.from_settings(settings)
    started = now or datetime.now(UTC)
    catalog = Catalog.load(warehouse)
    catalog.tagger = EmbeddingTagger(catalog.skills.values(), settings.metadata_embedding_threshold)
    todo = [c for cid, c in catalog.courses.items() if force or catalog.inferred_hash(cid) is None]
    rows: list[dict[str, object]] = []
    for course in todo:
        result = infer_course(gateway, catalog, course)
        answer = result.value
        tags = [s for s in answer.skill_tags if s in catalog.skills]
        if not tags:
            log.warning(
                "course %s: no taxonomy skill found in its text; stored without skill tags", course.course_id
            )
        rows.append(
            {
                "course_id": course.course_id,
                "skill_tags": tags,
                "difficulty_score": round(float(answer.difficulty_score), 1),
                "prerequisites": list(
                    dict.fromkeys([*course.instructor_prerequisites, *answer.prerequisites])
                ),
                "provenance": result.provenance,
                "model": result.model,
                "prompt_version": result.prompt_version,
                "content_hash": course.content_hash,
                "inferred_at": started,
            }
        )
    if rows:
        data = pa.Table.from_pylist(rows, schema=INFERRED_SCHEMA)
        if not warehouse.table_exists(INFERRED_TABLE):
            warehouse.load_arrow(INFERRED_TABLE, INFERRED_SCHEMA.empty_table())  # DDL outside the transaction
        with warehouse.transaction():
            if force:  # a forced rerun replaces this content version's rows instead of stacking them
                keys = [f"{r['course_id']}:{r['content_hash']}" for r in rows]
                warehouse.execute(
                    f"delete from {INFERRED_TABLE} where course_id || ':' || content_hash in "
                    f"({', '.join('?' for _ in keys)})",
                    keys,
                )
            warehouse.load_arrow(INFERRED_TABLE, data, mode="append")
        course_metadata.publish(warehouse)  # the new inferences apply from now on, for dbt too
    n_llm = sum(1 for r in rows if r["provenance"] == "llm")
    record_agent_run(warehouse, "metadata", started, gateway.usage, items=len(rows))
    return MetadataRunReport(
        len(catalog.courses), len(rows), n_llm, len(rows) - n_llm, gateway.usage.as_dict()
    )
