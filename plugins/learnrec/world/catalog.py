"""Course catalogue: titles and descriptions that name their skills, difficulty, format, modules,
instructor-flagged prerequisites, latent quality and a long-tailed popularity."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from learnrec.contracts.sources import COURSES
from learnrec.world.taxonomy import Taxonomy

FORMATS = np.array(["video", "text", "mixed", "live"])
FORMAT_SHARES = np.array([0.5, 0.25, 0.15, 0.10])
LEVEL_TITLES = {
    "beginner": (
        "Introduction to {s}",
        "{s} for Beginners",
        "{s}: The Essentials",
        "Getting Started with {s}",
    ),
    "intermediate": ("Practical {s}", "{s} in Practice", "Hands-on {s}", "{s} Workshop"),
    "advanced": ("Advanced {s}", "Mastering {s}", "{s} Deep Dive", "{s} at Scale"),
}
ANGLES = (
    "",
    " for Analysts",
    " for Teams",
    ": Case Studies",
    " with Projects",
    " Bootcamp",
    ": Crash Course",
    " for Professionals",
    " in 30 Days",
    ": From Theory to Practice",
    " Lab",
    " Masterclass",
)
MODULE_TOPICS = (
    "Overview",
    "Core Concepts",
    "Setting Up",
    "First Steps",
    "Worked Example",
    "Common Pitfalls",
    "Patterns",
    "Hands-on Exercise",
    "Case Study",
    "Best Practices",
    "Troubleshooting",
    "Project",
    "Review",
    "Going Further",
)


@dataclass(frozen=True)
class Catalog:
    """Array view of the catalogue; index j is course ``course_ids[j]``."""

    course_ids: np.ndarray  # str "C00001"..
    primary_skill: np.ndarray  # int32 skill index
    skill_tags: tuple[tuple[int, ...], ...]  # true skills taught (primary first): ground truth
    difficulty: np.ndarray  # float32 1..5: ground truth the metadata agent should recover
    fmt: np.ndarray  # int8 index into FORMATS
    n_modules: np.ndarray  # int16
    module_minutes: np.ndarray  # (n_courses, max_modules) int16, 0 padded
    quality: np.ndarray  # float32 0..1, latent
    popularity: np.ndarray  # float64 > 0, latent, long-tailed
    published_day: np.ndarray  # int32 day index relative to the window start (negative: before it)
    prerequisites: tuple[tuple[int, ...], ...]  # instructor-flagged prerequisite course indices
    table: pa.Table  # raw.courses rows (contract COURSES)

    @property
    def n_courses(self) -> int:
        return len(self.course_ids)


def _level(difficulty: float) -> str:
    return "beginner" if difficulty < 2.5 else "intermediate" if difficulty < 3.8 else "advanced"


def generate_catalog(
    tax: Taxonomy, n_courses: int, window_start: datetime, days: int, rng: np.random.Generator
) -> Catalog:
    n_skills = tax.n_skills
    # Every skill gets a course while there are enough; the rest favour foundation skills and
    # skills many career goals need, as real catalogues do.
    demand = np.ones(n_skills)
    for targets in tax.goal_targets:
        demand[list(targets)] += 1.0
    demand *= 1.0 + (5 - tax.levels) * 0.15
    covered = rng.permutation(n_skills)[: min(n_courses, n_skills)]
    rest = rng.choice(n_skills, size=n_courses - len(covered), p=demand / demand.sum())
    primary = np.concatenate([covered, rest]).astype(np.int32)
    primary = primary[rng.permutation(n_courses)]

    difficulty = (
        np.clip(tax.levels[primary] + rng.normal(0.0, 0.6, n_courses), 1.0, 5.0).round(1).astype(np.float32)
    )
    fmt = rng.choice(len(FORMATS), size=n_courses, p=FORMAT_SHARES).astype(np.int8)
    n_modules = rng.integers(3, 13, size=n_courses).astype(np.int16)
    max_modules = int(n_modules.max())
    module_minutes = rng.integers(6, 46, size=(n_courses, max_modules)).astype(np.int16)
    module_minutes[np.arange(max_modules)[None, :] >= n_modules[:, None]] = 0
    quality = rng.beta(5.0, 2.0, n_courses).astype(np.float32)
    # Zipf-like long tail over a random order, nudged by quality.
    rank = rng.permutation(n_courses)
    popularity = (1.0 / (rank + 1.0) ** 0.95) * (0.5 + quality)
    published_day = np.where(
        rng.random(n_courses) < 0.05,
        rng.integers(0, max(days, 1), n_courses),
        -rng.integers(30, 1500, n_courses),
    ).astype(np.int32)

    # Secondary skills: prerequisites of the primary skill or a neighbour in the same domain.
    same_domain = [np.flatnonzero(tax.domain_index == tax.domain_index[s]) for s in range(n_skills)]
    skill_tags: list[tuple[int, ...]] = []
    for j in range(n_courses):
        s = int(primary[j])
        pool = list(tax.prerequisites[s]) + [
            int(k) for k in same_domain[s] if k != s and abs(int(tax.levels[k]) - int(tax.levels[s])) <= 1
        ]
        n_extra = min(len(pool), int(rng.integers(0, 3)))
        extra = rng.choice(pool, size=n_extra, replace=False).tolist() if n_extra else []
        skill_tags.append((s, *dict.fromkeys(int(k) for k in extra if k != s)))

    # Instructor-flagged prerequisites: the most popular easier course of each prerequisite skill,
    # flagged by only some instructors (the metadata agent infers the rest).
    by_skill: dict[int, np.ndarray] = {}
    order = np.argsort(-popularity, kind="stable")
    for j in order:
        by_skill.setdefault(int(primary[j]), [])  # type: ignore[arg-type]
        by_skill[int(primary[j])].append(int(j))  # type: ignore[union-attr]
    prerequisites: list[tuple[int, ...]] = []
    for j in range(n_courses):
        flagged = []
        for k in tax.prerequisites[int(primary[j])]:
            easier = [c for c in by_skill.get(k, []) if difficulty[c] <= difficulty[j]]
            if easier and rng.random() < 0.6:
                flagged.append(easier[0])
        prerequisites.append(tuple(flagged))

    course_ids = np.array([f"C{j + 1:05d}" for j in range(n_courses)])
    table = _course_table(
        tax,
        course_ids,
        primary,
        skill_tags,
        difficulty,
        fmt,
        n_modules,
        module_minutes,
        published_day,
        prerequisites,
        window_start,
        rng,
    )
    return Catalog(
        course_ids,
        primary,
        tuple(skill_tags),
        difficulty,
        fmt,
        n_modules,
        module_minutes,
        quality,
        popularity,
        published_day,
        tuple(prerequisites),
        table,
    )


def _course_table(
    tax: Taxonomy,
    course_ids: np.ndarray,
    primary: np.ndarray,
    skill_tags: list[tuple[int, ...]],
    difficulty: np.ndarray,
    fmt: np.ndarray,
    n_modules: np.ndarray,
    module_minutes: np.ndarray,
    published_day: np.ndarray,
    prerequisites: list[tuple[int, ...]],
    window_start: datetime,
    rng: np.random.Generator,
) -> pa.Table:
    # Draw every random choice up front (vectorised), then assemble text with plain Python lists.
    n = len(course_ids)
    template_pick = rng.integers(0, 4, n).tolist()
    angle_pick = rng.integers(0, len(ANGLES), n).tolist()
    topic_pick = rng.integers(0, len(MODULE_TOPICS), module_minutes.shape).tolist()
    hour_offsets = rng.uniform(0, 24, n).tolist()
    update_lag = rng.uniform(0, 20, n).tolist()
    skill_names, domains, formats = tax.names.tolist(), tax.domains.tolist(), FORMATS.tolist()
    minutes, ids = module_minutes.tolist(), course_ids.tolist()
    titles, descriptions, syllabi, levels, published, updated = [], [], [], [], [], []
    for j, cid in enumerate(ids):
        names = [skill_names[k] for k in skill_tags[j]]
        main_skill = int(primary[j])
        level = _level(float(difficulty[j]))
        title = LEVEL_TITLES[level][template_pick[j]].format(s=names[0]) + ANGLES[angle_pick[j]]
        also = f" Along the way you will also practise {', '.join(names[1:])}." if len(names) > 1 else ""
        needs = [skill_names[k] for k in tax.prerequisites[main_skill]]
        before = (
            f" It assumes you are comfortable with {', '.join(needs)}."
            if needs
            else " No prior experience is needed."
        )
        descriptions.append(
            f"{title} is a {level} {formats[fmt[j]]} course on {names[0]} in {domains[main_skill]}.{also}{before}"
            f" You finish with a graded quiz on {names[0]}."
        )
        syllabi.append(
            json.dumps(
                [
                    {
                        "module_id": f"{cid}-M{m + 1:02d}",
                        "title": f"{names[m % len(names)]}: {MODULE_TOPICS[topic_pick[j][m]]}",
                        "minutes": minutes[j][m],
                    }
                    for m in range(int(n_modules[j]))
                ]
            )
        )
        titles.append(title)
        levels.append(level)
        pub = window_start + timedelta(days=int(published_day[j]), hours=hour_offsets[j])
        published.append(pub)
        updated.append(pub + timedelta(days=update_lag[j]) if published_day[j] < -30 else pub)
    duration = module_minutes.sum(axis=1) / 60.0
    return pa.table(
        {
            "course_id": course_ids.tolist(),
            "title": titles,
            "description": descriptions,
            "syllabus": syllabi,
            "format": FORMATS[fmt].tolist(),
            "duration_hours": np.round(duration, 2),
            "level": levels,
            "instructor_prerequisites": [[str(course_ids[p]) for p in prereqs] for prereqs in prerequisites],
            "domain": tax.domains[primary].tolist(),
            "published_at": [p.astimezone(UTC) for p in published],
            "updated_at": [u.astimezone(UTC) for u in updated],
        },
        schema=COURSES,
    )
