"""The skill index: which position of a skill vector means which skill.

A learner's ``skill_vector`` (features.learner_features, written by spark_jobs) and every model
that reads it (ml/) agree on one order: the skills of ``raw.skills`` sorted by ``skill_id``
ascending. Position ``i`` holds the learner's level in ``[0, 1]`` for the ``i``-th skill id; the
vector's length is the number of skills. Sorting by id (not by name or by load order) keeps the
index stable when the taxonomy export is reordered, and adding a skill shifts only the positions
after it, which the feature date of a vector makes explicit.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable


def skill_index(skill_ids: Iterable[str]) -> dict[str, int]:
    """Map each skill id to its position in a skill vector (ids sorted ascending).

    Raises ``ValueError`` on duplicate or empty ids: a vector position must mean one skill.
    """
    ids = list(skill_ids)
    if any(not isinstance(s, str) or not s for s in ids):
        raise ValueError("skill ids must be non-empty strings")
    ordered = sorted(ids)
    duplicates = sorted({a for a, b in itertools.pairwise(ordered) if a == b})
    if duplicates:
        raise ValueError(f"duplicate skill ids in the taxonomy: {duplicates[:5]}")
    return {skill_id: position for position, skill_id in enumerate(ordered)}
