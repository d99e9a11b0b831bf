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

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from ml.data import TrainingData
from ml.models import IdIndex, Recommender, positive_mask

DEFAULT_K = 10
CHUNK = 1024
#: per-learner metric columns, in report order
RANKING_METRICS = ("precision", "recall", "ndcg", "map")


class SplitOverlapError(ValueError):
    """The test interactions share learner x course pairs with training: the split is broken."""


def _pairs(frame: pd.DataFrame, learners: IdIndex, courses: IdIndex) -> sp.csr_matrix:
    rows = learners.positions(frame["learner_id"].to_numpy())
    cols = courses.positions(frame["course_id"].to_numpy())
    keep = (rows >= 0) & (cols >= 0)
    data = np.ones(int(keep.sum()), dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows[keep], cols[keep])), shape=(len(learners), len(courses)))
    matrix.data[:] = 1.0
    return matrix


def learner_segments(train: TrainingData) -> pd.DataFrame:
    """Segment flags per learner as of the train cut: cold start (< 10 events before T), no
    onboarding, data tier."""
    events = train.interactions.groupby("learner_id")["n_events"].sum()
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
    courses = IdIndex(train.courses["course_id"])
    learners = IdIndex(train.learners["learner_id"])
    seen = _pairs(train.interactions, learners, courses)
    test = _pairs(test_interactions.loc[positive_mask(test_interactions)], learners, courses)
    if seen.multiply(test).nnz:
        raise SplitOverlapError(f"{seen.multiply(test).nnz} test pairs were already in training")
    test_rows = np.flatnonzero(np.diff(test.indptr) > 0)
    if max_learners is not None and len(test_rows) > max_learners:
        test_rows = np.sort(np.random.default_rng(seed).choice(test_rows, max_learners, replace=False))
    ids = learners.ids[test_rows]
    segments = learner_segments(train).reindex(ids)
    masks = segment_masks(segments)
    out = []
    for name, model in models.items():
        if list(model.course_ids) != list(courses.ids):
            raise ValueError(f"model {name!r} scores another catalogue than the split's")
        per_learner, top = _rank_metrics(model, ids, test_rows, seen, test, k)
        for segment, mask in masks.items():
            chosen = mask.to_numpy(bool)
            n = int(chosen.sum())
            for metric in RANKING_METRICS:
                value = float(per_learner[metric][chosen].mean()) if n else float("nan")
                out.append((name, segment, f"{metric}@{k}", value, n))
            covered = np.unique(top[chosen]).size / len(courses) if n else float("nan")
            out.append((name, segment, f"coverage@{k}", covered, n))
    return pd.DataFrame(out, columns=["model", "segment", "metric", "value", "n_learners"])


def _rank_metrics(
    model: Recommender,
    ids: np.ndarray,
    rows: np.ndarray,
    seen: sp.csr_matrix,
    test: sp.csr_matrix,
    k: int,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    metrics = {m: np.zeros(len(ids)) for m in RANKING_METRICS}
    tops = np.zeros((len(ids), k), dtype=np.int64)
    for start in range(0, len(ids), CHUNK):
        sl = slice(start, start + CHUNK)
        scores = model.score(list(ids[sl])).astype(np.float64)
        block_seen = seen[rows[sl]]
        scores[block_seen.nonzero()] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
        top = np.take_along_axis(top, order, axis=1)
        truth = test[rows[sl]]
        hits = np.asarray(truth[np.arange(truth.shape[0])[:, None], top].todense()) > 0
        n_true = np.asarray(truth.sum(axis=1)).ravel()
        n_hits = hits.sum(axis=1)
        metrics["precision"][sl] = n_hits / k
        metrics["recall"][sl] = n_hits / n_true
        ideal = np.array([discounts[: min(int(t), k)].sum() for t in n_true])
        metrics["ndcg"][sl] = (hits * discounts).sum(axis=1) / ideal
        precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
        metrics["map"][sl] = (precision_at * hits).sum(axis=1) / np.minimum(n_true, k)
        tops[sl] = top
    return metrics, tops


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
