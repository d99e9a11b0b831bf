"""Difficulty of a course from its text, for courses that declare no level.

Real catalogues often leave the level out, and a course's main skill alone says little (an
"advanced" Python course exists). The signals: level words in the title, description and
syllabus ("introductory", "for beginners" against "advanced", "expert", "deep dive"), how many
skills the text says it assumes and how deep the main skill sits in the taxonomy's prerequisite
chain, and how long the syllabus is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache

from ml.agents.catalog import Skill

BEGINNER_WORDS = re.compile(
    r"\b(beginners?|introduct\w*|intro|101|basics|essentials?|fundamentals|first|getting started|"
    r"no (prior )?(experience|knowledge)|newcomers?|novices?|crash course|gentle|from scratch|"
    r"for everyone|absolute|new to)\b",
    re.I,
)
ADVANCED_WORDS = re.compile(
    r"\b(advanced|expert|mastering|masterclass|deep dive|senior|graduate|in-depth|at scale|"
    r"production|experienced|practitioners|leaders|certified|optimi[sz]\w*|tuning)\b",
    re.I,
)


def _depth(skills: Mapping[str, Skill], skill_id: str) -> int:
    """Length of the longest prerequisite chain below a skill (0: a foundation skill)."""

    @cache
    def depth(sid: str) -> int:
        return 1 + max((depth(p) for p in skills[sid].prerequisite_skill_ids if p in skills), default=-1)

    return depth(skill_id)


def text_difficulty(
    skills: Mapping[str, Skill],
    text: str,
    modules: Sequence[str],
    tags: Sequence[str],
    assumed: Sequence[str],
) -> float:
    """A 1..5 difficulty from the course text (``text``: title and description) and its tags."""
    words = " ".join([text, *modules])
    level_words = len(ADVANCED_WORDS.findall(words)) - len(BEGINNER_WORDS.findall(words))
    depth = _depth(skills, tags[0]) if tags else 1
    score = (
        2.5
        + 0.6 * max(-2, min(2, level_words))
        + 0.3 * (depth - 1)
        + 0.3 * min(len(set(assumed)), 3)
        + 0.1 * max(-2, min(3, len(modules) - 4))
    )
    return round(max(1.0, min(5.0, score)), 1)
