"""The blend's weights are learned: an informative model gets weight, noise does not."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from ml.blend import BlendFit, build_blend, fit_blend
from ml.data import load_training_data
from ml.evaluation import evaluate_ranking, metric_value
from ml.models import LightFMModel, PopularityModel, RandomModel, load_model
from tests.ml.conftest import RUN_DATE


def test_blend_learns_to_trust_the_informative_model(warehouse, tmp_path) -> None:
    data = load_training_data(warehouse, RUN_DATE)
    cut = RUN_DATE - timedelta(days=4)
    train = data.window(None, cut)
    components = {
        "noise": RandomModel(seed=5).fit(train),
        "lightfm": LightFMModel(components=8, epochs=30, threads=1).fit(train),
        "popularity": PopularityModel().fit(train),
    }
    fit = fit_blend(components, train, data.window(cut, RUN_DATE).interactions, seed=1)
    weights = dict(zip(fit.feature_names, fit.weights, strict=True))
    assert weights["z_lightfm"] > abs(weights["z_noise"])
    blend = build_blend(components, train, fit)
    assert blend.signals == ("collaborative", "skills", "popularity")
    scores = blend.score(["L000", "nobody"])
    assert scores.shape == (2, 12) and np.isfinite(scores).all()
    loaded = load_model(blend.save(tmp_path / "blend"))
    np.testing.assert_allclose(
        loaded.score(["L000", "L003"]), blend.score(["L000", "L003"]), rtol=1e-4, atol=1e-4
    )
    frame = evaluate_ranking(
        {"blend": blend, "noise": components["noise"]}, train, data.window(cut, RUN_DATE).interactions, k=3
    )
    assert metric_value(frame, "blend", "ndcg@3") > metric_value(frame, "noise", "ndcg@3")


def test_combine_is_the_linear_ranker_over_the_features(warehouse) -> None:
    data = load_training_data(warehouse, RUN_DATE)
    components = {"popularity": PopularityModel().fit(data), "random": RandomModel(5).fit(data)}
    weights = np.array([0.7, -0.2, 0.3, 0.1], np.float32)
    blend = build_blend(components, data, BlendFit(weights, 0.25, 0, 0, ("a", "b", "c", "d")))
    ids = [*data.learners["learner_id"].tolist()[:7], "nobody"]
    expected = blend.features(ids) @ weights + 0.25
    np.testing.assert_allclose(blend.score(ids), expected, rtol=1e-5, atol=1e-5)
