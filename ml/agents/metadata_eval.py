"""How the Metadata Agent's rules tag course pages they were not written for.

Course pages (JSON lines: title, description, syllabus, the skills the page lists, its declared
level, its prerequisites) are read into catalogue courses *without* their level, so difficulty
comes from the text alone; the listed skills and levels are the truth. The embedding threshold is
calibrated on a development split and judged on the rest, so the figures are not tuned to the
pages they report on.

``python -m ml.agents.metadata_eval tests/data/course_pages.jsonl``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from learnrec.world.taxonomy import build_taxonomy
from ml.agents.catalog import Catalog, Course, Skill
from ml.agents.metadata import embedding_text, rules_metadata
from ml.agents.skill_matching import EmbeddingTagger

LEVELS = {"beginner": 1, "intermediate": 2, "advanced": 3}
HOLDOUT_SHARE = 0.3
SEED = 18
THRESHOLDS = np.round(np.arange(0.2, 0.71, 0.02), 2)


@dataclass(frozen=True)
class Page:
    title: str
    description: str
    syllabus: tuple[str, ...]
    skills: tuple[str, ...]  # skill names the page lists
    level: str
    prerequisites: tuple[str, ...]  # skill names the page says it assumes


@dataclass(frozen=True)
class Figures:
    courses: int
    tagged: float  # share of courses with at least one tag
    precision: float  # share of tags that the page lists
    spearman: float  # inferred difficulty against the declared level


def load_pages(path: Path) -> list[Page]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        Page(
            r["title"],
            r["description"],
            tuple(r["syllabus"]),
            tuple(r["skills"]),
            r["level"],
            tuple(r["prerequisites"]),
        )
        for r in rows
    ]


def split(pages: list[Page], seed: int = SEED) -> tuple[list[Page], list[Page]]:
    """(development, holdout), a fixed shuffle."""
    shuffled = random.Random(seed).sample(pages, len(pages))
    n_holdout = round(len(pages) * HOLDOUT_SHARE)
    return shuffled[n_holdout:], shuffled[:n_holdout]


def taxonomy_skills() -> list[Skill]:
    """The world generator's taxonomy as the agents see it."""
    t = build_taxonomy()
    return [
        Skill(str(sid), str(name), str(domain), int(level), tuple(str(t.skill_ids[p]) for p in prereqs))
        for sid, name, domain, level, prereqs in zip(
            t.skill_ids, t.names, t.domains, t.levels, t.prerequisites, strict=True
        )
    ]


def _course(i: int, page: Page) -> Course:
    before = f" Prerequisites: {', '.join(page.prerequisites)}." if page.prerequisites else ""
    description = page.description + before
    return Course(
        course_id=f"P{i:04d}",
        title=page.title,
        description=description,
        module_titles=page.syllabus,
        format="video",
        level="",  # hidden: difficulty must come from the text
        domain="",
        instructor_prerequisites=(),
        content_hash=hashlib.sha256(f"{page.title}{description}".encode()).hexdigest(),
    )


def evaluate(pages: list[Page], skills: list[Skill], tagger: EmbeddingTagger) -> Figures:
    courses = [_course(i, page) for i, page in enumerate(pages)]
    metadata = rules_metadata(Catalog(courses, skills, {}), tagger)
    names = {s.skill_id: s.name for s in skills}
    tags = [[names[s] for s in metadata[c.course_id].skill_tags] for c in courses]
    n_tags = sum(len(t) for t in tags)
    correct = sum(s in page.skills for page, t in zip(pages, tags, strict=True) for s in t)
    rho = spearmanr(
        [metadata[c.course_id].difficulty_score for c in courses], [LEVELS[p.level] for p in pages]
    ).statistic
    return Figures(
        len(pages),
        round(sum(bool(t) for t in tags) / len(pages), 3),
        round(correct / n_tags, 3) if n_tags else 0.0,
        round(float(rho), 3),
    )


def calibrate(dev: list[Page], skills: list[Skill], tagger: EmbeddingTagger) -> float:
    """The embedding threshold with the best F1 of the embedding's own tags on the development
    pages (as if no page named its skills), pages outside the taxonomy counting against it."""
    names = [s.name for s in skills]
    best = [
        (float(sims.max()), names[int(sims.argmax())] in page.skills)
        for page, sims in ((p, tagger.similarities(embedding_text(_course(0, p)))) for p in dev)
    ]
    n_listed = sum(bool(p.skills) for p in dev)

    def f1(threshold: float) -> float:
        correct = sum(ok for sim, ok in best if sim >= threshold)
        tagged = sum(sim >= threshold for sim, _ in best)
        return 2 * correct / (tagged + n_listed) if tagged else 0.0

    return float(max(THRESHOLDS, key=lambda t: (f1(t), t)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", type=Path)
    args = parser.parse_args()
    skills = taxonomy_skills()
    dev, holdout = split(load_pages(args.pages))
    tagger = EmbeddingTagger(skills, threshold=0.0)
    tagger.threshold = calibrate(dev, skills, tagger)
    print(f"threshold {tagger.threshold}")
    for name, pages in (("dev", dev), ("holdout", holdout)):
        print(name, evaluate(pages, skills, tagger))


if __name__ == "__main__":
    main()
