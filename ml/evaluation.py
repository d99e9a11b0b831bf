"""Offline evaluation on a time split: ranking metrics per model and segment, dropout metrics.

Ranking protocol: the models are fitted on interactions first seen up to day T; the test set is
every positive interaction (some weight, not skipped unseen) first seen in ``(T, run_date]``.
Each test learner's scores over the catalogue are ranked with the courses they already touched
before T removed (a model gets no credit for re-recommending history), and the top k are
compared with the test positives. A train/test overlap is refused (LightFM's
``check_intersections`` idea): it would mean the split is broken.

Metrics per learner (binary relevance), then averaged over learners of a segment:
precision@k = hits/k; recall@k = hits/|test|; NDCG@k = DCG/ideal DCG;
AP@k = sum over hit ranks i of precision@i / min(|test|, k). Coverage@k = share of the catalogue
that appears in anyone's top k.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from ml.data import TrainingData
from ml.models import BlendModel, IdIndex, Recommender, pair_matrix, positive_mask

DEFAULT_K = 10
CHUNK = 1024
#: per-learner metric columns, in report order
RANKING_METRICS = ("precision", "recall", "ndcg", "map")


class SplitOverlapError(ValueError):
    """The test interactions share learner x course pairs with training: the split is broken."""


def learner_segments(train: TrainingData) -> pd.DataFrame:
    """Segment flags per learner as of the train cut: cold start (< 10 events before T), no
    onboarding, data tier."""
    events = train.interactions.groupby("learner_id", observed=True)["n_events"].sum()
    frame = train.learners[["learner_id", "onboarding_skipped", "data_tier"]].copy()
    frame["events_before_cut"] = frame["learner_id"].map(events).fillna(0).astype(int)
    frame["cold_start"] = frame["events_before_cut"] < 10
    frame["no_onboarding"] = frame["onboarding_skipped"].fillna(False).astype(bool)
    return frame.set_index("learner_id")


def segment_masks(segments: pd.DataFrame) -> dict[str, pd.Series]:
    masks: dict[str, pd.Series] = {
        "all": pd.Series(True, index=segments.index),
        "cold_start": segments["cold_start"],
        "warm": ~segments["cold_start"],
        "no_onboarding": segments["no_onboarding"],
    }
    for tier in sorted(segments["data_tier"].dropna().unique()):
        masks[f"tier_{tier}"] = segments["data_tier"] == tier
    return masks


def evaluate_ranking(
    models: Mapping[str, Recommender],
    train: TrainingData,
    test_interactions: pd.DataFrame,
    *,
    k: int = DEFAULT_K,
    max_learners: int | None = None,
    seed: int = 7,
) -> pd.DataFrame:
    """Long frame ``model, segment, metric, value, n_learners`` for every model on the split."""
    split = _Split(train, test_interactions, max_learners=max_learners, seed=seed)
    if split.seen.multiply(split.test).nnz:
        raise SplitOverlapError(f"{split.seen.multiply(split.test).nnz} test pairs were already in training")
    for name, model in models.items():
        if list(model.course_ids) != list(split.courses.ids):
            raise ValueError(f"model {name!r} scores another catalogue than the split's")
    segments = learner_segments(train).reindex(split.ids)
    masks = segment_masks(segments)
    results = split.rank_metrics(models, k)
    out = []
    for name, (per_learner, top) in results.items():
        for segment, mask in masks.items():
            chosen = mask.to_numpy(bool)
            n = int(chosen.sum())
            for metric in RANKING_METRICS:
                value = float(per_learner[metric][chosen].mean()) if n else float("nan")
                out.append((name, segment, f"{metric}@{k}", value, n))
            covered = np.unique(top[chosen]).size / len(split.courses) if n else float("nan")
            out.append((name, segment, f"coverage@{k}", covered, n))
    return pd.DataFrame(out, columns=["model", "segment", "metric", "value", "n_learners"])


class _Split:
    """Learners sampled for a ranking evaluation, their already-touched and held-out pairs."""

    def __init__(
        self,
        train: TrainingData,
        held_out: pd.DataFrame,
        *,
        max_learners: int | None,
        seed: int,
        among: set[str] | None = None,
    ) -> None:
        self.courses = IdIndex(train.courses["course_id"])
        learners = IdIndex(train.learners["learner_id"])
        self.seen = pair_matrix(train.interactions, learners, self.courses)
        self.test = pair_matrix(held_out.loc[positive_mask(held_out)], learners, self.courses)
        rows = np.flatnonzero(np.diff(self.test.indptr) > 0)
        if among is not None:
            rows = rows[pd.Index(learners.ids[rows]).isin(list(among))]
        if max_learners is not None and len(rows) > max_learners:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_learners, replace=False))
        self.rows, self.ids = rows, learners.ids[rows]

    def rank_metrics(
        self, models: Mapping[str, Recommender], k: int
    ) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
        """Per model: per-learner metrics and top-k course positions. Scored chunk by chunk, each
        chunk's component scores computed once and reused by a blend built on the same objects."""
        out = {
            name: (
                {m: np.zeros(len(self.ids)) for m in RANKING_METRICS},
                np.zeros((len(self.ids), k), np.int64),
            )
            for name in models
        }
        for start in range(0, len(self.ids), CHUNK):
            sl = slice(start, start + CHUNK)
            chunk = list(self.ids[sl])
            block_seen = self.seen[self.rows[sl]]
            truth = self.test[self.rows[sl]]
            cache: dict[str, np.ndarray] = {}
            for name, model in models.items():
                if isinstance(model, BlendModel):
                    parts = {
                        part: _scored(models, part, component, chunk, cache)
                        for part, component in model.components.items()
                    }
                    scores = model.combine(parts, chunk)
                else:
                    scores = _scored(models, name, model, chunk, cache)
                metrics, tops = out[name]
                _chunk_metrics(scores, block_seen, truth, k, {m: v[sl] for m, v in metrics.items()}, tops[sl])
        return out


def _scored(
    models: Mapping[str, Recommender],
    name: str,
    model: Recommender,
    chunk: list[str],
    cache: dict[str, np.ndarray],
) -> np.ndarray:
    """``model``'s scores of ``chunk``, computed once per chunk when it is one of ``models``."""
    if models.get(name) is not model:  # a blend's own component that is not evaluated itself
        return model.score(chunk)
    if name not in cache:
        cache[name] = model.score(chunk)
    return cache[name]


def _chunk_metrics(
    scores: np.ndarray,
    block_seen: sp.csr_matrix,
    truth: sp.csr_matrix,
    k: int,
    metrics: dict[str, np.ndarray],
    tops: np.ndarray,
) -> None:
    """Fill ``metrics`` (views, one value per learner) and ``tops`` for one chunk of learners."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    scores = np.array(scores, dtype=np.float32)
    scores[block_seen.nonzero()] = -np.inf
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1, kind="stable")[:, ::-1]
    top = np.take_along_axis(top, order, axis=1)
    hits = np.asarray(truth[np.arange(truth.shape[0])[:, None], top].todense()) > 0
    n_true = np.asarray(truth.sum(axis=1)).ravel()
    n_hits = hits.sum(axis=1)
    metrics["precision"][:] = n_hits / k
    metrics["recall"][:] = n_hits / n_true
    ideal = np.cumsum(discounts)[np.minimum(n_true, k).astype(int) - 1]
    metrics["ndcg"][:] = (hits * discounts).sum(axis=1) / ideal
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    metrics["map"][:] = (precision_at * hits).sum(axis=1) / np.minimum(n_true, k)
    tops[:] = top


def held_out_ndcg(
    train: TrainingData,
    held_out: pd.DataFrame,
    *,
    k: int = DEFAULT_K,
    max_learners: int = 2000,
    seed: int = 7,
    among: set[str] | None = None,
) -> Callable[[Recommender], float] | None:
    """``model -> mean NDCG@k`` on ``held_out`` (interactions first seen after ``train`` ends) for
    a fixed seeded sample of learners (optionally only ``among`` these ids): the early-stopping
    signal of iterative models. ``None`` when the window holds no positive to measure."""
    split = _Split(train, held_out, max_learners=max_learners, seed=seed, among=among)
    if not len(split.ids):
        return None

    def ndcg(model: Recommender) -> float:
        metrics, _ = split.rank_metrics({"model": model}, k)["model"]
        return float(metrics["ndcg"].mean())

    return ndcg


def metric_table(frame: pd.DataFrame, segment: str = "all") -> pd.DataFrame:
    """model x metric for one segment (the shape of the report's tables)."""
    chosen = frame.loc[frame["segment"] == segment]
    return chosen.pivot(index="model", columns="metric", values="value")


def metric_value(frame: pd.DataFrame, model: str, metric: str, segment: str = "all") -> float:
    row = frame.loc[(frame["model"] == model) & (frame["metric"] == metric) & (frame["segment"] == segment)]
    return float(row["value"].iloc[0]) if len(row) else float("nan")


def classification_metrics(
    labels: Sequence[int] | np.ndarray, probabilities: Sequence[float] | np.ndarray
) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), Brier score and the base rate."""
    y = np.asarray(labels, dtype=int)
    p = np.asarray(probabilities, dtype=float)
    if len(np.unique(y)) < 2:
        raise ValueError("both classes are needed to evaluate a classifier")
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "base_rate": float(y.mean()),
        "n": float(len(y)),
    }
