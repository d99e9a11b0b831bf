"""The demo end to end: a tiny world through the real DAGs with `airflow dags test`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from learnrec.commands.showcase import print_nudge_samples, print_recommendation_samples
from learnrec.demo import DEMO_DAGS, run_demo
from learnrec.warehouse import connect_warehouse


@pytest.mark.integration
@pytest.mark.slow
def test_demo_runs_the_dags_and_fills_the_warehouse(settings, capfd: pytest.CaptureFixture[str]) -> None:
    stale = settings.home / "lake" / "stale.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an older world")
    world = run_demo(settings, size="tiny", endings=(print_recommendation_samples, print_nudge_samples))
    assert not stale.exists(), "a new world starts from an empty embedded state"
    out = capfd.readouterr().out
    assert "what was produced and where" in out and "recommendations for three sample learners" in out
    # one line per stage, Airflow's own output (every task's log) in a file per DAG, named
    logs = {
        m[0]: Path(m[1]) for m in re.findall(r"^airflow dags test (\w+) \S+ \(task logs: (\S+)\)$", out, re.M)
    }
    assert set(logs) == set(DEMO_DAGS)
    assert all(path.stat().st_size > 1_000 and path.is_relative_to(settings.home) for path in logs.values())
    assert "ingest_events" in logs["learner_events_ingest"].read_text()
    assert re.search(r"^  ingest_events +\d+\.\ds  batches=1 consumed=[\d,]+ loaded=", out, re.M)
    assert re.search(r"^  spark_features +\d+\.\ds  learners=", out, re.M)
    assert re.search(r"^  dbt \(\d+ tasks\) +\d+\.\ds$", out, re.M)
    assert "[info" not in out and len(out.splitlines()) < 150, f"{len(out.splitlines())} lines"
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
