"""Benchmark suite ``world``: how fast the generator writes a world, and how big the lines are."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from benchmarks.harness import Recorder, peak_rss_mb
from learnrec.settings import load_settings
from learnrec.world.config import WorldConfig
from learnrec.world.generate import generate_world

#: label -> (learners, courses, days): about 1M and 10M landed events
SCALES = {"1M events": (42_000, 2_000, 30), "10M events": (420_000, 10_000, 30)}
QUICK_SCALES = {"20k events": (800, 200, 30)}


def _landing_bytes(landing: Path) -> int:
    return sum(p.stat().st_size for p in (landing / "learner_events").rglob("*.jsonl"))


def run(recorder: Recorder, quick: bool) -> None:
    for label, (learners, courses, days) in (QUICK_SCALES if quick else SCALES).items():
        with tempfile.TemporaryDirectory(prefix="learnrec-bench-world-") as home:
            settings = load_settings(home=Path(home))
            config = WorldConfig(
                end_date=date(2026, 10, 31), n_learners=learners, n_courses=courses, days=days
            )
            summary = generate_world(config, settings)
            size = _landing_bytes(settings.landing_path)
        recorder.record(
            "generate_seconds",
            summary.seconds,
            "s",
            label,
            events=summary.events,
            learners=learners,
            courses=courses,
            days=days,
        )
        recorder.record("generate_events_per_second", summary.events / summary.seconds, "events/s", label)
        recorder.record("bytes_per_event", size / summary.lines, "bytes", label, landing_bytes=size)
    recorder.record("peak_rss", peak_rss_mb(), "MiB", "largest scale above")
