"""The recommendations benchmark runs end to end at a tiny scale and reports what it promises."""

from __future__ import annotations

from benchmarks import recommendations as bench
from benchmarks.harness import SUITES, Recorder


def test_suite_is_registered():
    assert SUITES["recommendations"] == "benchmarks.recommendations:run"


def test_measure_produces_top_n_for_every_learner(monkeypatch):
    monkeypatch.setattr(bench, "N_COURSES", 2_000)
    monkeypatch.setattr(bench, "CHUNK", 256)
    result = bench.measure(600)
    assert result["recommendations"] == 600 * bench.TOP_N
    assert result["bare"] > 0 and result["rules"] > 0


def test_run_records_extrapolated_figures_and_memory(monkeypatch):
    monkeypatch.setattr(bench, "N_COURSES", 2_000)
    monkeypatch.setattr(bench, "QUICK_SCALES", {"tiny": 500})
    recorder = Recorder("recommendations")
    bench.run(recorder, quick=True)
    names = {r.name for r in recorder.records}
    assert {
        "recommendations.rules_seconds",
        "recommendations.rules_over_bare",
        "recommendations.peak_rss",
    } <= names
    rules = next(r for r in recorder.records if r.name == "recommendations.rules_seconds")
    assert rules.notes["extrapolated_x"] == bench.FULL_LEARNERS / 500
