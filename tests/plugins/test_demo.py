"""The demo end to end: a tiny world through the real DAGs with `airflow dags test`."""

from __future__ import annotations

import pytest

from learnrec.demo import run_demo
from learnrec.warehouse import connect_warehouse


@pytest.mark.integration
@pytest.mark.slow
def test_demo_runs_the_dags_and_fills_the_warehouse(settings, capsys: pytest.CaptureFixture[str]) -> None:
    stale = settings.home / "lake" / "stale.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an older world")
    world = run_demo(settings, size="tiny")
    assert not stale.exists(), "a new world starts from an empty embedded state"
    out = capsys.readouterr().out
    assert "what was produced and where" in out
    with connect_warehouse(settings, read_only=True) as wh:
        assert wh.scalar("SELECT count(*) FROM raw.learners") == world.learners
        assert wh.scalar("SELECT count(*) FROM raw.courses") == world.courses
        landed = wh.query(
            "SELECT sum(consumed) c, sum(loaded) l, sum(quarantined) q, sum(duplicates) d FROM raw.ingest_batches"
        ).to_pylist()[0]
        assert landed["c"] == world.lines == landed["l"] + landed["q"] + landed["d"]
        assert wh.scalar("SELECT count(*) FROM raw.learner_events") == landed["l"] > 0
        # the Learning Path Agent ran between precompute and the gate; on the rule-based provider
        # it writes no LLM path, so the static paths are served, one per learner
        assert wh.scalar("SELECT count(*) FROM ops.agent_runs WHERE agent = 'learning_path'") == 1
        served = wh.query("SELECT learner_id, step, source FROM recs.current_learning_paths").to_pylist()
        assert served and {r["source"] for r in served} == {"static"}
        assert len({(r["learner_id"], r["step"]) for r in served}) == len(served)
    assert (settings.airflow_home / "airflow.db").exists()
