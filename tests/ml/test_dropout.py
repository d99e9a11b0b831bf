"""Dropout: as-of features and labels from daily activity, a calibrated torch model, scores."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ml import dropout
from ml.evaluation import classification_metrics

D0 = date(2026, 3, 1)


def _daily(rows):
    return pd.DataFrame(
        [
            {
                "learner_id": lid,
                "event_date": D0 + timedelta(days=d),
                "n_events": n,
                "n_completes": 0.0,
                "n_skips": 0.0,
                "n_watches": n,
                "watch_seconds": 60.0 * n,
                "avg_quiz_score": None,
            }
            for lid, d, n in rows
        ]
    )


def test_features_and_labels_as_of_a_date() -> None:
    daily = _daily([("a", 0, 4), ("a", 9, 2), ("b", 2, 5), ("a", 12, 1), ("c", 11, 1)])
    as_of = D0 + timedelta(days=10)
    feats = dropout.features_as_of(daily, as_of)
    assert list(feats.index) == ["a", "b"]  # c has no event yet
    assert feats.at["a", "days_since_last"] == 1 and feats.at["b", "days_since_last"] == 8
    assert feats.at["a", "active_days_7"] == 1 and feats.at["a", "active_days_28"] == 2
    assert feats.at["a", "log_events_7"] == pytest.approx(np.log1p(2))
    labels = dropout.labels_after(daily, feats.index, as_of, horizon=5)
    assert labels.to_dict() == {"a": 0, "b": 1}  # a comes back on day 12, b never


def test_training_dates_have_complete_labels() -> None:
    dates = dropout.training_dates(date(2026, 3, 31), date(2026, 3, 1), horizon=14)
    assert dates == [date(2026, 3, 17), date(2026, 3, 10)]
    assert all(d + timedelta(days=14) <= date(2026, 3, 31) for d in dates)


def test_torch_model_separates_and_is_calibrated(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, len(dropout.FEATURES))).astype(np.float32)
    p = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.5 * x[:, 5])))
    y = (rng.random(3000) < p).astype(int)
    model = dropout.fit_dropout(x[:2000], y[:2000], horizon_days=14, seed=1, epochs=20)
    probs = model.predict(x[2000:])
    metrics = classification_metrics(y[2000:], probs)
    assert metrics["roc_auc"] > 0.8
    assert abs(probs.mean() - y[2000:].mean()) < 0.05  # calibrated on average
    assert metrics["brier"] < 0.2
    loaded = dropout.DropoutModel.load(model.save(tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict(x[:10]), model.predict(x[:10]), rtol=1e-6)
    again = dropout.fit_dropout(x[:2000], y[:2000], horizon_days=14, seed=1, epochs=20)
    np.testing.assert_allclose(again.predict(x[:10]), model.predict(x[:10]), rtol=1e-5)  # seeded


def test_scores_replace_their_run_date(warehouse) -> None:
    daily = _daily([("a", 0, 4), ("b", 2, 5)])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(dropout.FEATURES))).astype(np.float32)
    model = dropout.fit_dropout(x, (x[:, 0] > 0).astype(int), horizon_days=14, epochs=2)
    run_date = D0 + timedelta(days=3)
    table = dropout.score_table(model, daily, run_date, "learnrec-dropout:1")
    assert dropout.write_scores(warehouse, table, run_date) == 2
    assert dropout.write_scores(warehouse, table, run_date) == 2
    rows = warehouse.query("select * from features.dropout_scores").to_pandas()
    assert len(rows) == 2 and list(rows.columns) == [
        "learner_id",
        "score_date",
        "dropout_probability",
        "model_version",
    ]
    assert rows["dropout_probability"].between(0, 1).all()
