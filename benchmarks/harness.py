"""Benchmark harness behind ``make bench``.

Each stage's benchmarks are a module of this package listed in ``SUITES``; a suite is a
function ``run(recorder, quick)`` that measures and calls ``recorder.record(...)``. Results are
merged into ``benchmarks/results.json`` (one record per benchmark and scale: the newest wins,
other benchmarks' records are kept) and rendered to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from learnrec.settings import PROJECT_ROOT

#: ``module:function`` of every benchmark suite, in the order they run.
SUITES: dict[str, str] = {
    "world": "benchmarks.world:run",
    "ingest": "benchmarks.ingest:run",
    "dbt": "benchmarks.transform:run",
    "features": "benchmarks.features:run",
    "recommendations": "benchmarks.recommendations:run",
    "training": "benchmarks.training:run",
    "api": "benchmarks.api:run",
    "privacy": "benchmarks.privacy:run",
}

RESULTS_DIR = PROJECT_ROOT / "benchmarks"


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


@dataclass(frozen=True)
class BenchRecord:
    name: str
    value: float
    unit: str
    scale: str
    date: str
    machine: str
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recorder:
    suite: str
    records: list[BenchRecord] = field(default_factory=list)

    def record(self, name: str, value: float, unit: str, scale: str, **notes: Any) -> BenchRecord:
        rec = BenchRecord(
            name=f"{self.suite}.{name}",
            value=round(float(value), 4),
            unit=unit,
            scale=scale,
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            machine=machine_description(),
            notes=notes,
        )
        self.records.append(rec)
        print(f"  {rec.name} [{scale}]: {rec.value:,} {unit}", flush=True)
        return rec


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...``; ``elapsed()`` gives seconds so far (and after)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def merge_results(
    existing: list[dict[str, Any]], new: Sequence[BenchRecord], replace_suites: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Newest record per (benchmark, scale). A full run of a suite replaces all its old records,
    so figures of scales or benchmarks the code no longer measures do not linger beside new ones;
    a quick run only adds or updates its own rows."""
    stale = tuple(f"{suite}." for suite in replace_suites)
    keyed = {(r["name"], r["scale"]): r for r in existing if not r["name"].startswith(stale)}
    for rec in new:
        keyed[(rec.name, rec.scale)] = asdict(rec)
    return sorted(keyed.values(), key=lambda r: (r["name"], r["scale"]))


def render_markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`learnrec bench`); machine-readable copy in `results.json`.",
        "",
        "| benchmark | scale | value | unit | date | machine | notes |",
        "|---|---|---:|---|---|---|---|",
    ]
    for r in results:
        notes = ", ".join(f"{k}={v}" for k, v in r.get("notes", {}).items())
        lines.append(
            f"| {r['name']} | {r['scale']} | {r['value']:,} | {r['unit']} | {r['date'][:10]} | {r['machine']} | {notes} |"
        )
    return "\n".join(lines) + "\n"


def run_suites(names: Sequence[str] | None, quick: bool, out_dir: Path = RESULTS_DIR) -> list[BenchRecord]:
    unknown = sorted(set(names or ()) - set(SUITES))
    if unknown:
        raise ValueError(f"unknown benchmark suite(s) {unknown}; known: {sorted(SUITES)}")
    records: list[BenchRecord] = []
    for suite, target in SUITES.items():
        if names and suite not in names:
            continue
        module, function = target.split(":")
        print(f"benchmark suite {suite}", flush=True)
        recorder = Recorder(suite)
        getattr(importlib.import_module(module), function)(recorder, quick)
        records.extend(recorder.records)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_file = out_dir / "results.json"
    existing = json.loads(results_file.read_text()) if results_file.exists() else []
    ran = [suite for suite in SUITES if not names or suite in names]
    merged = merge_results(existing, records, replace_suites=() if quick else ran)
    results_file.write_text(json.dumps(merged, indent=2) + "\n")
    (out_dir / "RESULTS.md").write_text(render_markdown(merged))
    return records
