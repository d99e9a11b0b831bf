"""The api benchmark runs end to end at a tiny scale: real servers, the load generator, figures."""

from __future__ import annotations

from benchmarks import api as bench
from benchmarks.harness import SUITES, Recorder


def test_suite_is_registered():
    assert SUITES["api"] == "benchmarks.api:run"


def test_run_measures_reads_posts_and_their_floors_without_errors(monkeypatch):
    monkeypatch.setattr(bench, "QUICK_SCALES", {"tiny": (300, 50)})
    monkeypatch.setattr(bench, "SECONDS", {"quick": 1.0})
    monkeypatch.setattr(bench, "WARMUP", {"quick": 0.3})
    recorder = Recorder("api")
    bench.run(recorder, quick=True)
    by_name = {r.name: r for r in recorder.records}
    for name in ("reads", "floor_reads", "event_posts", "floor_posts"):
        rate = by_name[f"api.{name}_per_second"]
        assert rate.value > 0 and rate.notes["errors"] == 0, name
        assert 0 < by_name[f"api.{name}_p50"].value <= by_name[f"api.{name}_p99"].value
    assert by_name["api.reads_floor_over_api"].value > 0
