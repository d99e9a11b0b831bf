"""MLflow registry: the champion alias moves only for a sane model better by the margin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.registry import TrainingRun, champion, download_alias, promote, registered_name

pytestmark = pytest.mark.integration  # a real MLflow SQLite store


def _version(
    settings,
    tmp_path: Path,
    value: float,
    problems: list[str] | None = None,
    champion_value: float | None = None,
):
    run = TrainingRun.start(settings, "toy", "2026-03-12", {"data_window_end": "2026-03-12"})
    folder = tmp_path / run.run_id
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "model.json").write_text(json.dumps({"value": value}))
    run.params({"value": value})
    run.metrics({"ndcg@10": value})
    run.artifacts(folder)
    version = run.register("toy")
    decision = promote(
        run,
        "toy",
        version,
        "ndcg@10",
        value,
        margin=0.01,
        sanity_failures=problems or [],
        champion_value=champion_value,
    )
    run.finish()
    return run, version, decision


def test_champion_moves_only_when_better_by_the_margin_and_sane(settings, tmp_path) -> None:
    run1, v1, first = _version(settings, tmp_path, 0.50)
    assert first.promoted and first.reason == "first champion"
    _, v2, small = _version(settings, tmp_path, 0.503)  # +0.6% < 1% margin
    assert not small.promoted and "needs >= 0.5050" in small.reason
    assert str(champion(settings, "toy").version) == v1
    run3, v3, better = _version(settings, tmp_path, 0.60)
    assert better.promoted and str(champion(settings, "toy").version) == v3
    run4, v4, insane = _version(settings, tmp_path, 0.95, ["non-finite scores"])
    assert not insane.promoted and str(champion(settings, "toy").version) == v3
    client = run4.client
    assert client.get_run(run4.run_id).data.tags["promotion"] == "rejected"
    assert client.get_model_version(registered_name("toy"), v4).tags["promotion"] == "rejected"
    assert client.get_model_version(registered_name("toy"), v2).tags["promotion_reason"].startswith("ndcg@10")
    assert client.get_run(run3.run_id).data.tags["promotion"] == "champion"
    assert client.get_run(run1.run_id).data.params["value"] == "0.5"


def test_the_champion_is_judged_on_the_challengers_window_when_rescored(settings, tmp_path) -> None:
    _version(settings, tmp_path, 0.50)  # promoted on an easy night's window
    # tonight the same champion scores 0.40 on tonight's window: 0.45 beats it, not the stored 0.50
    _, v2, decision = _version(settings, tmp_path, 0.45, champion_value=0.40)
    assert decision.promoted and str(champion(settings, "toy").version) == v2
    assert "0.4000 on this window" in decision.reason
    _, _, stored = _version(settings, tmp_path, 0.452)
    assert not stored.promoted and "0.4500 as stored at its promotion" in stored.reason


def test_download_alias_fetches_the_champion_folder(settings, tmp_path) -> None:
    assert download_alias(settings, registered_name("toy")) is None
    _version(settings, tmp_path, 0.4)
    path, version = download_alias(settings, registered_name("toy"))
    assert version == "1" and (path / "model.json").read_text() == '{"value": 0.4}'
