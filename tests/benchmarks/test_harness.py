"""The benchmark harness: merge keeps other results, records carry what the issue asks for."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.harness import BenchRecord, merge_results, render_markdown, run_suites


def test_merge_keeps_other_benchmarks_and_replaces_same_scale() -> None:
    old = [{"name": "a.x", "scale": "1M", "value": 1.0}, {"name": "b.y", "scale": "1M", "value": 2.0}]
    new = [BenchRecord("a.x", 3.0, "s", "1M", "2026-01-01", "m")]
    merged = merge_results(old, new)
    assert {(r["name"], r["value"]) for r in merged} == {("a.x", 3.0), ("b.y", 2.0)}


def test_a_full_suite_run_drops_its_stale_records_and_a_quick_run_keeps_them() -> None:
    old = [
        {"name": "a.x", "scale": "100k measured", "value": 1.0},
        {"name": "a.gone", "scale": "1M", "value": 1.0},
        {"name": "b.y", "scale": "1M", "value": 2.0},
    ]
    new = [BenchRecord("a.x", 3.0, "s", "1M", "2026-01-01", "m")]
    full = merge_results(old, new, replace_suites=["a"])
    assert {(r["name"], r["scale"]) for r in full} == {("a.x", "1M"), ("b.y", "1M")}
    quick = merge_results(old, new)
    assert len(quick) == 4


def test_quick_world_suite_writes_json_and_markdown(tmp_path: Path) -> None:
    records = run_suites(["world"], quick=True, out_dir=tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    assert {r["name"] for r in data} == {r.name for r in records}
    for row in data:
        assert set(row) >= {"name", "value", "unit", "scale", "date", "machine"}
    assert "world.generate_events_per_second" in (tmp_path / "RESULTS.md").read_text()
    assert render_markdown(data).startswith("# Benchmark results")
