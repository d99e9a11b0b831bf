"""train_all end to end on the tiny marts: MLflow runs, champions, scorers, dropout scores."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from learnrec.cli import main
from learnrec.warehouse import connect_warehouse
from ml.registry import champion, client_for
from ml.scoring import CandidateScorer
from ml.serving import NoChampionError, load_champion_scorer, load_content_scorer
from ml.training import TrainConfig, train_all
from tests.ml.conftest import RUN_DATE, hash_encoder

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CONFIG = TrainConfig(eval_days=2, dropout_horizon_days=3, dropout_step_days=2)


def test_train_all_registers_promotes_and_serves(tiny_warehouse) -> None:
    settings = tiny_warehouse
    with connect_warehouse(settings) as warehouse, pytest.raises(NoChampionError):
        load_champion_scorer(settings, warehouse)
    runs = train_all(settings, RUN_DATE, CONFIG, encoder=hash_encoder)
    assert set(runs) == {"popularity", "als", "lightfm", "content", "blend", "dropout"}
    client = client_for(settings)
    blend_run = client.get_run(runs["blend"])
    assert blend_run.data.tags["promotion"] == "champion"
    assert blend_run.data.tags["cut_test"] == "2026-03-10"
    assert "lightfm.all.ndcg_at_10" in blend_run.data.metrics
    assert "weight_z_content" in blend_run.data.params
    assert str(champion(settings, "blend").version) == "1"

    with connect_warehouse(settings) as warehouse:
        scorer = load_champion_scorer(settings, warehouse)
        content = load_content_scorer(settings, warehouse)
        assert warehouse.scalar("select count(*) from features.course_embeddings") == 12
        n_scores = warehouse.scalar("select count(*) from features.dropout_scores")
    assert isinstance(scorer, CandidateScorer) and isinstance(content, CandidateScorer)
    assert scorer.model_version == "learnrec-blend:1"
    assert set(scorer.signals) >= {"collaborative", "content", "popularity"}
    scores = scorer.score(["L000", "L001", "new-learner"])
    assert scores.shape == (3, 12) and scores.dtype == np.float32 and np.isfinite(scores).all()
    assert list(scorer.course_ids) == [f"C{j:02d}" for j in range(12)]
    assert content.model_version.startswith("learnrec-content:")
    assert content.score(["L000"]).shape == (1, 12)

    dropout_run = client.get_run(runs["dropout"])
    assert "torch.roc_auc" in dropout_run.data.metrics and "logistic.roc_auc" in dropout_run.data.metrics
    assert n_scores > 0

    # a rerun for the same date: new versions, champions move only by the rule, scores replaced.
    # The champion is judged on tonight's window, not by the figure stored from its own night
    # (made easy here): training is reproducible, so re-scored it equals tonight's blend exactly.
    client.set_model_version_tag("learnrec-blend", "1", "metric.ndcg_at_10", "0.99")
    rerun = train_all(settings, RUN_DATE, CONFIG, encoder=hash_encoder)
    again = client.get_run(rerun["blend"]).data
    assert again.tags["promotion"] == "rejected" and "on this window" in again.tags["promotion_reason"]
    assert again.metrics["champion_blend.ndcg_at_10"] == again.metrics["blend.all.ndcg_at_10"]
    with connect_warehouse(settings) as warehouse:
        assert warehouse.scalar("select count(*) from features.dropout_scores") == n_scores

    # a backfill of an earlier date never replaces a champion trained on later data
    backfill = train_all(settings, RUN_DATE - timedelta(days=1), CONFIG, encoder=hash_encoder)
    earlier = client.get_run(backfill["blend"]).data.tags
    assert earlier["promotion"] == "rejected" and "later run date" in earlier["promotion_reason"]
    assert str(champion(settings, "blend").version) == "1"


def test_train_command_needs_the_marts(learnrec_home, capsys) -> None:
    assert main(["train", "--run-date", "2026-03-12"]) == 2
    assert "does not exist yet" in capsys.readouterr().err
