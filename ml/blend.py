"""Learning the blend's weights on a validation window.

The component models are fitted on interactions up to day V; the validation labels are the
positive interactions first seen in ``(V, T]``. For a sample of validation learners every
course they had not touched before V becomes one row (its features = the blend features of
:class:`ml.models.BlendModel`; label = touched in the window) and a logistic regression learns
the weights. Nothing here is a hand-set constant: the regularisation and the sample size are
the only knobs, and the learned weights are logged to MLflow with every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ml.data import OPTED_IN, TrainingData
from ml.models import BlendModel, IdIndex, Recommender, pair_matrix, positive_mask


@dataclass(frozen=True)
class BlendFit:
    weights: np.ndarray
    bias: float
    n_rows: int
    n_learners: int
    feature_names: tuple[str, ...]


def interactions_per_learner(train: TrainingData) -> pd.Series:
    """Rows per learner in a training window: the blend's "how much history" input."""
    return train.interactions.groupby("learner_id", observed=True).size().astype(np.float32)


def fit_blend(
    components: dict[str, Recommender],
    train: TrainingData,
    validation: pd.DataFrame,
    *,
    max_learners: int = 3000,
    negatives_per_learner: int = 200,
    regularisation: float = 1.0,
    seed: int = 7,
) -> BlendFit:
    """Fit the weights on ``validation`` (interactions first seen after ``train`` ends)."""
    rng = np.random.default_rng(seed)
    probe = BlendModel.from_components(
        components, interactions_per_learner(train), np.zeros(2 * len(components))
    )
    courses = IdIndex(probe.course_ids)
    positives = validation.loc[positive_mask(validation)]
    # privacy tiers: the blend (served to opted-in learners) learns from opted-in behaviour only
    opted_in = set(train.learners.loc[train.learners["data_tier"] == OPTED_IN, "learner_id"])
    learners = np.asarray(sorted(set(positives["learner_id"]) & opted_in), dtype=object)
    if len(learners) == 0:
        raise ValueError("the validation window has no positive interactions of opted-in learners")
    if len(learners) > max_learners:
        learners = np.sort(rng.choice(learners, max_learners, replace=False))
    sample = IdIndex(learners)  # sorted like ``learners``
    seen = pair_matrix(train.interactions, sample, courses)
    wanted = pair_matrix(positives, sample, courses)
    xs, ys = [], []
    for start in range(0, len(learners), 512):
        ids = learners[start : start + 512]
        feats = probe.features(list(ids))
        for i in range(len(ids)):
            row = start + i
            label = np.zeros(len(courses), dtype=bool)
            label[wanted.indices[wanted.indptr[row] : wanted.indptr[row + 1]]] = True
            allowed = np.ones(len(courses), dtype=bool)
            allowed[seen.indices[seen.indptr[row] : seen.indptr[row + 1]]] = False
            candidates = np.flatnonzero(allowed & ~label)
            if len(candidates) > negatives_per_learner:
                candidates = rng.choice(candidates, negatives_per_learner, replace=False)
            chosen = np.concatenate([np.flatnonzero(label & allowed), candidates])
            xs.append(feats[i, chosen])
            ys.append(label[chosen])
    x, y = np.concatenate(xs), np.concatenate(ys)
    model = LogisticRegression(C=regularisation, max_iter=2000, random_state=seed)
    model.fit(x, y)
    names = tuple(components)
    return BlendFit(
        weights=model.coef_[0].astype(np.float32),
        bias=float(model.intercept_[0]),
        n_rows=len(y),
        n_learners=len(learners),
        feature_names=tuple(f"z_{n}" for n in names) + tuple(f"z_{n}_x_history" for n in names),
    )


def build_blend(components: dict[str, Recommender], train: TrainingData, fit: BlendFit) -> BlendModel:
    """The serving blend: learned weights over components fitted on ``train``."""
    return BlendModel.from_components(components, interactions_per_learner(train), fit.weights, fit.bias)
