"""The privacy benchmark runs end to end at a small scale: the erasure really removes the learners."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks import privacy as bench
from benchmarks.harness import SUITES, Recorder
from learnrec.settings import load_settings
from learnrec.warehouse import connect_warehouse


def test_suite_is_registered() -> None:
    assert SUITES["privacy"] == "benchmarks.privacy:run"


def test_run_records_erase_against_full_rewrite(monkeypatch) -> None:
    monkeypatch.setattr(bench, "QUICK_SCALES", {"tiny": (2, 3_000, 500, 50)})
    recorder = Recorder("privacy")
    bench.run(recorder, quick=True)
    figures = {r.name: r for r in recorder.records}
    assert figures["privacy.erase_seconds"].value > 0 and figures["privacy.full_rewrite_seconds"].value > 0
    removed = figures["privacy.erase_seconds"].notes["removed"]
    assert removed["lake"] == removed["warehouse"] - 50 > 0, "every event row once in each, plus raw.learners"


def test_build_world_lake_and_warehouse_agree(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    bench.build_world(settings, days=1, per_day=2_000, n_learners=100)
    lake = pq.read_table(Path(settings.lake_root) / "events", partitioning=None)
    with connect_warehouse(settings) as wh:
        assert wh.scalar("SELECT count(*) FROM raw.learner_events") == lake.num_rows == 2_000
    assert pc.count_distinct(lake.column("learner_id")).as_py() <= 100
