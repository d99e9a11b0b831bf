"""The scorer protocol between the models (#6) and the recommendation precompute (#7).

A scorer turns a chunk of learners into a dense score matrix over the catalogue. The precompute
calls :meth:`CandidateScorer.score` on bounded chunks of learners, so a scorer never has to hold
all learners' scores at once, and applies business rules, fallbacks and explanations itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class CandidateScorer(Protocol):
    model_version: str  # e.g. "blend:v7" (MLflow registered model + version)
    signals: tuple[str, ...]  # e.g. ("collaborative", "content", "skills", "popularity")
    course_ids: np.ndarray  # column order of the score matrix

    def score(self, learner_ids: Sequence[str]) -> np.ndarray:
        """float32 [n_learners, n_courses], finite, higher = better."""
        ...
