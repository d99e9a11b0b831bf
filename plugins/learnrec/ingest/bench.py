"""Benchmark suite ``ingest``: landing-file ingestion throughput, end to end and validation alone.

50M events a day are ~2.1M an hour: an hourly batch of that size must land in a small fraction of
the hour for ingestion never to hold up the nightly run. The figures here are per batch of files
from a generated world, on the embedded warehouse (DuckDB) and local lake.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from learnrec.benchmarks import Recorder, peak_rss_mb
from learnrec.ingest import run_ingest
from learnrec.ingest.sources.files import FileSource
from learnrec.ingest.tables import ensure_tables
from learnrec.ingest.validate import validate_payloads
from learnrec.settings import load_settings
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots
from learnrec.world.config import WorldConfig
from learnrec.world.generate import generate_world

#: label -> (learners, courses, days)
SCALES = {"1M events": (42_000, 2_000, 30), "2.5M events": (105_000, 5_000, 30)}
QUICK_SCALES = {"20k events": (800, 200, 30)}
NOW = datetime(2026, 11, 1, 6, tzinfo=UTC)


def run(recorder: Recorder, quick: bool) -> None:
    for label, (learners, courses, days) in (QUICK_SCALES if quick else SCALES).items():
        with tempfile.TemporaryDirectory(prefix="learnrec-bench-ingest-") as home:
            settings = load_settings(home=Path(home), ingest_batch_events=10_000_000)
            generate_world(
                WorldConfig(end_date=date(2026, 10, 31), n_learners=learners, n_courses=courses, days=days),
                settings,
            )
            with connect_warehouse(settings) as warehouse:
                load_source_snapshots(warehouse, settings.landing_path)
                ensure_tables(warehouse)
                batch = FileSource(settings.landing_path).poll(warehouse, 10_000_000, None)
                learner_ids = (
                    warehouse.query("SELECT learner_id FROM raw.learners").column(0).combine_chunks()
                )
                course_ids = warehouse.query("SELECT course_id FROM raw.courses").column(0).combine_chunks()
            assert batch is not None
            started = time.perf_counter()
            validate_payloads(batch.payloads, learner_ids, course_ids, NOW)
            validate_seconds = time.perf_counter() - started

            started = time.perf_counter()
            report = run_ingest(settings, now=lambda: NOW)
            seconds = time.perf_counter() - started
        consumed = report.total("consumed")
        recorder.record(
            "validate_payloads_per_second",
            consumed / validate_seconds,
            "payloads/s",
            label,
            payloads=consumed,
            seconds=round(validate_seconds, 2),
        )
        recorder.record(
            "ingest_seconds",
            seconds,
            "s",
            label,
            payloads=consumed,
            loaded=report.total("loaded"),
            batches=len(report.batches),
        )
        recorder.record("ingest_payloads_per_second", consumed / seconds, "payloads/s", label)
        recorder.record(
            "hourly_batch_at_50M_per_day",
            50e6 / 24 / (consumed / seconds),
            "s",
            label,
            note="extrapolated: seconds to land one hour of a 50M-event day",
        )
    recorder.record("peak_rss", peak_rss_mb(), "MiB", "largest scale above")
