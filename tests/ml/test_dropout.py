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


def _reliability_gap(y: np.ndarray, probs: np.ndarray, bins: int = 5) -> float:
    """Largest |mean predicted - observed rate| over equal-count bins of the predictions."""
    order = np.argsort(probs)
    return max(abs(probs[b].mean() - y[b].mean()) for b in np.array_split(order, bins))


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
    assert _reliability_gap(y[2000:], probs) < 0.08  # and across the range
    assert metrics["brier"] < 0.2
    loaded = dropout.DropoutModel.load(model.save(tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict(x[:10]), model.predict(x[:10]), rtol=1e-6)
    again = dropout.fit_dropout(x[:2000], y[:2000], horizon_days=14, seed=1, epochs=20)
    np.testing.assert_allclose(again.predict(x[:10]), model.predict(x[:10]), rtol=1e-5)  # seeded


def test_torch_learns_a_threshold_interaction_the_baseline_cannot() -> None:
    """The world's kind of effect: a long silence matters only for a disengaged learner. The
    wide & deep net must find it; logistic regression on the same columns cannot."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, len(dropout.FEATURES))).astype(np.float32)
    risky = (x[:, 0] > 0.5) & (x[:, 1] < 0.0)
    y = (rng.random(4000) < np.where(risky, 0.9, 0.02)).astype(int)
    model = dropout.fit_dropout(x[:3000], y[:3000], horizon_days=14, seed=2)
    baseline = dropout.fit_baseline(x[:3000], y[:3000])
    torch_auc = classification_metrics(y[3000:], model.predict(x[3000:]))["roc_auc"]
    logistic_auc = classification_metrics(y[3000:], baseline.predict_proba(x[3000:])[:, 1])["roc_auc"]
    assert torch_auc > logistic_auc + 0.02  # measured: 0.939 vs 0.907


@pytest.mark.slow
def test_on_a_generated_world_dropout_is_predicted_from_behaviour(tmp_path) -> None:
    """End to end on a small synthetic world, as the nightly job trains: proxy labels from past
    as-of dates, scored on the last day, judged against the world's own dropouts (never seen in
    training). Seeded world and model: the figures below are reproducible, not a lucky draw."""
    from benchmarks.world_marts import load_world_marts
    from learnrec.settings import load_settings
    from learnrec.warehouse import connect_warehouse
    from learnrec.world.config import WorldConfig
    from learnrec.world.generate import generate_world
    from ml.data import load_daily_activity

    home = tmp_path / "home"
    world = load_settings(home=home)
    generate_world(WorldConfig(end_date=date(2026, 3, 30), n_learners=2000, n_courses=150, seed=5), world)
    bench = load_settings(home=tmp_path / "bench", duckdb_path=tmp_path / "bench.duckdb")
    with connect_warehouse(bench) as warehouse:
        run_date = load_world_marts(warehouse, home)
        daily = load_daily_activity(warehouse, run_date - timedelta(days=60), run_date)
    dates = dropout.training_dates(run_date, daily["event_date"].min(), 14)
    x, y = dropout.labelled_rows(daily, dates, 14)
    model = dropout.fit_dropout(x, y, horizon_days=14, seed=7)
    feats = dropout.features_as_of(daily, run_date)
    truth = pd.read_parquet(world.world_path / "ground_truth" / "learners.parquet").set_index("learner_id")
    truth = truth.reindex(feats.index)  # NaN: ids of corrupted lines (the bench does not quarantine)
    alive = (truth["dropped_in_window"] == False).to_numpy(bool)  # noqa: E712 (NaN is neither)
    quits = truth["dropped_in_horizon"].to_numpy()[alive].astype(int)
    probs = model.predict(feats.to_numpy(np.float32)[alive])
    metrics = classification_metrics(quits, probs)
    assert metrics["roc_auc"] > 0.75  # measured 0.807 (base rate 0.144)
    assert metrics["brier"] < quits.mean() * (1 - quits.mean())  # better than the base rate
    again = dropout.fit_dropout(x, y, horizon_days=14, seed=7)
    np.testing.assert_allclose(again.predict(x[:50]), model.predict(x[:50]), rtol=1e-5)


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


def test_features_do_not_depend_on_row_order_and_read_gaps_and_quizzes() -> None:
    """Daily rows in any order: a learner's longest gap, quiz trend and tenure come out as
    computed by hand (the group-bys run over rows sorted by learner and day)."""
    rows = [("b", 3, 1), ("a", 9, 2), ("a", 0, 4), ("a", 5, 1), ("b", 1, 2)]
    daily = _daily(rows)
    daily.loc[daily["learner_id"] == "a", "avg_quiz_score"] = [80.0, 60.0, None]  # days 9, 0, 5
    shuffled = daily.sample(frac=1.0, random_state=3)
    as_of = D0 + timedelta(days=10)
    feats = dropout.features_as_of(shuffled, as_of)
    pd.testing.assert_frame_equal(feats, dropout.features_as_of(daily, as_of))
    assert feats.at["a", "tenure_days"] == 10 and feats.at["b", "days_since_last"] == 7
    # a: active days 0, 5, 9 -> longest gap 5; silence 1 day -> 1/5
    assert feats.at["a", "silence_vs_max_gap"] == pytest.approx(0.2)
    # a: quiz 80 in the last 7 days (day 9; day 5 has none), 60 before (day 0)
    assert feats.at["a", "quiz_trend"] == pytest.approx(0.2)
    assert feats.at["a", "quiz_avg_28"] == pytest.approx(0.7) and feats.at["b", "has_quiz_28"] == 0
    # b: days 1 and 3 -> gap 2; silence 7 days -> 3.5
    assert feats.at["b", "silence_vs_max_gap"] == 3.5


def test_minibatch_keeps_small_sets_and_bounds_steps_on_large_ones() -> None:
    assert dropout.minibatch(5_000, 100) == (dropout.BATCH, dropout.LEARNING_RATE)
    batch, lr = dropout.minibatch(320_000, 100)
    assert batch == 3_200 and -(-320_000 // batch) == 100
    assert lr == pytest.approx(dropout.LEARNING_RATE * np.sqrt(3_200 / dropout.BATCH))
