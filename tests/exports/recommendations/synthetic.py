"""A deterministic CandidateScorer from random latent factors: for tests and the benchmark only.

It behaves like a trained matrix-factorisation model (dot products of learner and course
factors, BLAS), so the precompute can be built, tested and measured before the real models land.
Learners it does not know get a constant row: the "engine returns no results" case.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class FactorScorer:
    def __init__(
        self,
        learner_ids: Sequence[str],
        course_ids: Sequence[str],
        *,
        factors: int = 64,
        seed: int = 0,
        model_version: str = "synthetic:1",
        signals: tuple[str, ...] = ("collaborative", "content", "skills", "popularity"),
    ) -> None:
        rng = np.random.default_rng(seed)
        self.model_version = model_version
        self.signals = signals
        self.course_ids = np.asarray(course_ids, dtype=object)
        self._row = {lid: i for i, lid in enumerate(learner_ids)}
        self.learner_factors = rng.standard_normal((len(learner_ids), factors), dtype=np.float32)
        self.course_factors = rng.standard_normal((len(course_ids), factors), dtype=np.float32)

    def score(self, learner_ids: Sequence[str]) -> np.ndarray:
        rows = np.array([self._row.get(lid, -1) for lid in learner_ids], np.int64)
        users = self.learner_factors[np.maximum(rows, 0)]
        users[rows < 0] = 0.0
        return users @ self.course_factors.T
