"""The demo end to end: a tiny world through the real DAGs with `airflow dags test`."""

from __future__ import annotations

import pytest

from learnrec.demo import run_demo
from learnrec.warehouse import connect_warehouse


@pytest.mark.integration
@pytest.mark.slow
def test_demo_runs_the_dags_and_fills_the_warehouse(settings, capsys: pytest.CaptureFixture[str]) -> None:
    world = run_demo(settings, size="tiny")
    out = capsys.readouterr().out
    assert "what was produced and where" in out
    with connect_warehouse(settings, read_only=True) as wh:
        assert wh.scalar("SELECT count(*) FROM raw.learners") == world.learners
        assert wh.scalar("SELECT count(*) FROM raw.courses") == world.courses
    assert (settings.airflow_home / "airflow.db").exists()
