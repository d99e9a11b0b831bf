"""Benchmark suite ``dbt``: a night's incremental build against a full refresh of the event models.

DESIGN principle 4 says a night's cost grows with the new day, not with history. The suite lands
a world's events up to its second-to-last day (ingest, as the hourly DAG does), builds the project,
lands the last day (with its late arrivals), then times the nightly incremental run of the event
models and, for comparison, their full refresh from raw: the ratio is what incrementality saves
at that history length (30 days here; it grows with history).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.harness import Recorder, stopwatch
from learnrec.settings import load_settings

#: label -> (learners, courses, days)
SCALES = {"1M events": (42_000, 2_000, 30)}
QUICK_SCALES = {"20k events": (800, 200, 30)}
#: The incremental event models and everything built from them.
EVENT_MODELS = ("fct_learner_events+", "int_learner_daily_activity+", "int_learner_course_events_aggregated+")


def _end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def run(recorder: Recorder, quick: bool) -> None:
    from learnrec.ingest import run_ingest
    from learnrec.transform.dbt_runner import run_dbt
    from learnrec.warehouse import connect_warehouse
    from learnrec.warehouse.sources import refresh_source_snapshots
    from learnrec.world.config import WorldConfig
    from learnrec.world.generate import generate_world

    end = date(2026, 10, 31)
    for label, (learners, courses, days) in (QUICK_SCALES if quick else SCALES).items():
        with tempfile.TemporaryDirectory(prefix="learnrec-bench-dbt-") as home:
            settings = load_settings(home=Path(home))
            generate_world(
                WorldConfig(end_date=end, n_learners=learners, n_courses=courses, days=days), settings
            )
            refresh_source_snapshots(settings)
            run_ingest(settings, until=_end_of(end - timedelta(days=1)))
            run_dbt(settings, "run")
            run_ingest(settings, until=_end_of(end + timedelta(days=3)))
            with connect_warehouse(settings, read_only=True) as warehouse:
                total = warehouse.scalar("select count(*) from raw.learner_events")
                new = total - warehouse.scalar("select count(*) from marts.fct_learner_events")
            with stopwatch() as incremental:
                run_dbt(settings, "run", "--select", *EVENT_MODELS)
            with stopwatch() as full:
                run_dbt(settings, "run", "--full-refresh", "--select", *EVENT_MODELS)
        notes = {"events": total, "new_events": new, "days": days}
        recorder.record("nightly_incremental_seconds", incremental(), "s", label, **notes)
        recorder.record("full_refresh_seconds", full(), "s", label, **notes)
        recorder.record("full_refresh_over_incremental", full() / incremental(), "x", label, **notes)
