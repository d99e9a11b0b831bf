"""Ranking metrics against hand-computed values; the split refuses train/test overlap."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from ml.data import TrainingData
from ml.evaluation import (
    SplitOverlapError,
    classification_metrics,
    evaluate_ranking,
    held_out_ndcg,
    metric_value,
)
from ml.models import RandomModel, Recommender


class FixedScores(Recommender):
    """Scores given by hand: learner row -> score vector."""

    kind = "fixed"
    signals = ()

    def __init__(self, learners, courses, table: dict[str, list[float]]) -> None:
        self._set_index(learners, courses)
        self.table = table

    def score(self, learner_ids):
        return np.array([self.table[i] for i in learner_ids], dtype=np.float32)


def _frame(pairs, when="2026-03-01"):
    return pd.DataFrame(
        {
            "learner_id": [p[0] for p in pairs],
            "course_id": [p[1] for p in pairs],
            "weight": [1.0] * len(pairs),
            "n_events": [12] * len(pairs),
            "skipped": [False] * len(pairs),
            "first_event_at": [datetime.fromisoformat(when).replace(tzinfo=UTC)] * len(pairs),
        }
    )


def _train(pairs):
    learners = pd.DataFrame(
        {"learner_id": ["A", "B"], "onboarding_skipped": [False, True], "data_tier": ["default", "opted_in"]}
    )
    courses = pd.DataFrame({"course_id": ["c1", "c2", "c3", "c4", "c5"]})
    return TrainingData(
        _frame(pairs), courses, learners, pd.DataFrame(), (), None, datetime(2026, 3, 1).date()
    )


def test_metrics_match_hand_computation() -> None:
    train = _train([("A", "c1"), ("B", "c5")])
    test = _frame([("A", "c2"), ("A", "c4"), ("B", "c1")], "2026-03-05")
    # A: c1 is history (removed); ranking c3, c2, c5, c4 -> top 2 = c3, c2: one hit at rank 2
    # B: c5 is history; ranking c1, ... -> hit at rank 1
    model = FixedScores(
        ["A", "B"], ["c1", "c2", "c3", "c4", "c5"], {"A": [9, 3, 4, 1, 2], "B": [5, 4, 3, 2, 9]}
    )
    frame = evaluate_ranking({"m": model}, train, test, k=2)
    ndcg_a = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert metric_value(frame, "m", "precision@2") == pytest.approx((0.5 + 0.5) / 2)
    assert metric_value(frame, "m", "recall@2") == pytest.approx((0.5 + 1.0) / 2)
    assert metric_value(frame, "m", "ndcg@2") == pytest.approx((ndcg_a + 1.0) / 2)
    assert metric_value(frame, "m", "map@2") == pytest.approx(((0.5 / 2) + 1.0) / 2)
    assert metric_value(frame, "m", "coverage@2") == pytest.approx(3 / 5)  # c3, c2, c1
    assert metric_value(frame, "m", "ndcg@2", "no_onboarding") == pytest.approx(1.0)
    assert metric_value(frame, "m", "ndcg@2", "tier_default") == pytest.approx(ndcg_a)


def test_overlapping_split_is_refused() -> None:
    train = _train([("A", "c1")])
    model = FixedScores(["A", "B"], ["c1", "c2", "c3", "c4", "c5"], {"A": [1, 2, 3, 4, 5]})
    with pytest.raises(SplitOverlapError):
        evaluate_ranking({"m": model}, train, _frame([("A", "c1")]), k=2)


def test_classification_metrics() -> None:
    good = classification_metrics([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert good["roc_auc"] == 1.0 and good["pr_auc"] == 1.0
    assert good["brier"] == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)
    with pytest.raises(ValueError, match="both classes"):
        classification_metrics([1, 1], [0.2, 0.3])


def test_held_out_ndcg_is_the_evaluations_ndcg_on_the_same_learners() -> None:
    train = _train([("A", "c1"), ("B", "c2")])
    held_out = _frame([("A", "c2"), ("B", "c3")], when="2026-03-05T10:00:00")
    model = RandomModel(3).fit(train)
    ndcg = held_out_ndcg(train, held_out, k=2)
    assert ndcg is not None
    full = evaluate_ranking({"m": model}, train, held_out, k=2)
    assert ndcg(model) == pytest.approx(metric_value(full, "m", "ndcg@2"))
    only_a = held_out_ndcg(train, held_out, k=2, among={"A"})
    assert only_a is not None and 0.0 <= only_a(model) <= 1.0
    assert held_out_ndcg(train, held_out.iloc[:0], k=2) is None  # nothing to measure: no early stopping
