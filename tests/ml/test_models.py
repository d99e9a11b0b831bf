"""Every recommender on the tiny two-group world: the right answer is known (own group first)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from ml.data import load_goal_texts, load_skill_texts, load_training_data
from ml.models import (
    ALSModel,
    ContentInputs,
    ContentModel,
    IdIndex,
    LightFMModel,
    PopularityModel,
    RandomModel,
    interaction_matrix,
    load_model,
)
from tests.ml.conftest import RUN_DATE, group_of_course, group_of_learner, hash_encoder


def _fit(name: str, warehouse):
    data = load_training_data(warehouse, RUN_DATE)
    if name == "content":
        goals = sorted(data.learners["career_goal"].dropna().unique())
        inputs = ContentInputs(
            hash_encoder(
                [
                    f"{t} {d} {' '.join(s)}"
                    for t, d, s in zip(
                        data.courses["title"],
                        data.courses["description"],
                        data.courses["skill_tags"],
                        strict=True,
                    )
                ]
            ),
            tuple(goals),
            hash_encoder(load_goal_texts(warehouse, goals)),
            hash_encoder(load_skill_texts(warehouse, data.skill_ids)),
        )
        return ContentModel().fit(data, inputs), data
    model = {
        "als": ALSModel(factors=8, iterations=20, threads=1),
        "lightfm": LightFMModel(components=8, epochs=30, threads=1),
    }[name]
    return model.fit(data), data


@pytest.mark.parametrize("name", ["als", "lightfm", "content"])
def test_learners_get_their_own_group_first(name: str, warehouse) -> None:
    model, data = _fit(name, warehouse)
    learners = data.learners["learner_id"].tolist()
    scores = model.score(learners)
    assert scores.shape == (40, 12) and scores.dtype == np.float32 and np.isfinite(scores).all()
    own = np.array([[group_of_course(j) == group_of_learner(i) for j in range(12)] for i in range(40)])
    if name != "content":  # collaborative models see opted-in learners' behaviour only
        opted_in = (data.learners["data_tier"] == "opted_in").to_numpy()
        scores, own = scores[opted_in], own[opted_in]
    # mean own-group score above mean other-group score for (nearly) every learner
    margin = np.where(own, scores, np.nan)
    wins = np.nanmean(margin, axis=1) > np.nanmean(np.where(~own, scores, np.nan), axis=1)
    assert wins.mean() >= 0.9


@pytest.mark.parametrize("name", ["als", "lightfm", "content"])
def test_save_load_round_trip_and_unknown_learners(name: str, warehouse, tmp_path) -> None:
    model, _ = _fit(name, warehouse)
    loaded = load_model(model.save(tmp_path / name))
    ids = ["L000", "L001", "nobody"]
    np.testing.assert_allclose(loaded.score(ids), model.score(ids), rtol=1e-3, atol=1e-3)
    assert np.isfinite(loaded.score(["nobody"])).all()
    assert list(loaded.course_ids) == sorted(loaded.course_ids)


def test_lightfm_training_is_bit_reproducible_by_default(warehouse) -> None:
    # the nightly training's default (Settings.lightfm_threads = 1): two fits, the same model
    data = load_training_data(warehouse, RUN_DATE)
    first, second = (LightFMModel(components=8, epochs=5).fit(data) for _ in range(2))
    np.testing.assert_array_equal(first.item_embeddings, second.item_embeddings)
    np.testing.assert_array_equal(first.user_embeddings, second.user_embeddings)


def test_popularity_and_random_baselines(warehouse) -> None:
    data = load_training_data(warehouse, RUN_DATE)
    popular = PopularityModel().fit(data).score(["L000", "nobody"])
    assert (popular[0] == popular[1]).all()  # same list for everyone
    randoms = RandomModel(seed=1).fit(data)
    a, b = randoms.score(["L000", "L001"]), randoms.score(["L000", "L001"])
    np.testing.assert_array_equal(a, b)  # seeded per learner: reproducible
    assert not np.array_equal(a[0], a[1])


def test_skips_become_negative_confidence(warehouse) -> None:
    data = load_training_data(warehouse, RUN_DATE)
    learners, courses = IdIndex(data.learners["learner_id"]), IdIndex(data.courses["course_id"])
    matrix = interaction_matrix(data.interactions, learners, courses, skip_weight=2.0)
    skipped = data.interactions.loc[data.interactions["skipped"]].iloc[0]
    row = learners.positions([skipped["learner_id"]])[0]
    col = courses.positions([skipped["course_id"]])[0]
    assert matrix[row, col] == -2.0
    assert (matrix.data > 0).sum() == (~data.interactions["skipped"]).sum()


@pytest.mark.parametrize("name", ["als", "lightfm"])
def test_default_tier_behaviour_does_not_train_collaborative_models(name: str, warehouse) -> None:
    """Privacy tiers: changing what a default-tier learner did changes nothing in the model."""
    model, data = _fit(name, warehouse)
    default = data.learners.loc[data.learners["data_tier"] == "default", "learner_id"].iloc[0]
    warehouse.execute(
        "update marts.fct_learner_course_interactions set weight = weight * 10 + 5 where learner_id = ?",
        [default],
    )
    again, _ = _fit(name, warehouse)
    probe = data.learners.loc[data.learners["data_tier"] == "opted_in", "learner_id"].head(5).tolist()
    np.testing.assert_allclose(again.score(probe), model.score(probe), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["als", "lightfm"])
def test_warm_start_inherits_the_earlier_cut_by_id(name: str, warehouse) -> None:
    """With no further training (0 warm iterations/epochs) a warm-started fit on a later window
    scores exactly like the model it started from: every parameter was carried over by learner,
    course and feature id, although the later window has more pairs (and learners)."""
    data = load_training_data(warehouse, RUN_DATE)
    early = data.window(None, RUN_DATE - timedelta(days=4))
    assert len(early.interactions) < len(data.interactions)
    if name == "als":
        first = ALSModel(factors=8, iterations=10, threads=1).fit(early)
        warm = ALSModel(factors=8, iterations=10, warm_iterations=0, threads=1).fit(data, warm_start=first)
        solved_before = np.flatnonzero(np.abs(first.user_factors).sum(axis=1) > 0)
        ids = first.learners.ids[solved_before].tolist()
    else:
        first = LightFMModel(components=8, epochs=10, threads=1).fit(early)
        warm = LightFMModel(components=8, warm_epochs=0, threads=1).fit(data, warm_start=first)
        ids = data.learners["learner_id"].tolist()
        assert first._state is None  # the training state was handed over, not kept twice
    assert warm.fit_log.get("iterations", warm.fit_log.get("epochs")) == 0
    np.testing.assert_allclose(warm.score(ids), first.score(ids), rtol=1e-5, atol=1e-5)
    # and warm training then moves it on
    if name == "als":
        moved = ALSModel(factors=8, warm_iterations=3, threads=1).fit(data, warm_start=first)
    else:
        again = LightFMModel(components=8, epochs=10, threads=1).fit(early)
        moved = LightFMModel(components=8, warm_epochs=3, threads=1).fit(data, warm_start=again)
    assert not np.allclose(moved.score(ids), first.score(ids), atol=1e-4)


def test_lightfm_stops_early_and_keeps_its_best_epoch(warehouse) -> None:
    data = load_training_data(warehouse, RUN_DATE)
    seen: list[float] = []
    # a monitor that peaks at epoch 3: training stops `patience` epochs later, state of epoch 3 kept
    curve = [0.1, 0.2, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]

    def monitor(model: LightFMModel) -> float:
        seen.append(float(model.score(["L000"]).sum()))
        return curve[len(seen) - 1]

    model = LightFMModel(components=8, epochs=8, patience=2, threads=1).fit(data, monitor=monitor)
    assert model.fit_log == {"epochs": 3, "epochs_run": 5, "monitor_best": 0.5}
    assert len(seen) == 5
    assert float(model.score(["L000"]).sum()) == pytest.approx(seen[2], rel=1e-5)


def test_lightfm_counts_only_a_real_gain_as_better(warehouse) -> None:
    """Epochs that creep up by less than ``min_improvement`` run out the patience."""
    data = load_training_data(warehouse, RUN_DATE)
    curve = iter([0.30, 0.40, 0.401, 0.402, 0.403, 0.5])

    model = LightFMModel(components=8, epochs=6, patience=2, threads=1, min_improvement=0.01).fit(
        data, monitor=lambda _: next(curve)
    )
    assert model.fit_log == {"epochs": 2, "epochs_run": 4, "monitor_best": 0.40}


def test_id_index_is_sorted_and_unique_whatever_the_input_order() -> None:
    shuffled = IdIndex(np.array(["L2", "L0", "L2", "L1"], dtype=object))
    assert list(shuffled.ids) == ["L0", "L1", "L2"]
    saved = IdIndex(np.array(["L0", "L1", "L2"]))  # a saved model's ids: numpy strings, sorted
    assert list(saved.ids) == ["L0", "L1", "L2"] and all(type(i) is str for i in saved.ids)
    assert list(saved.positions(["L2", "L9", "L0"])) == [2, -1, 0]
