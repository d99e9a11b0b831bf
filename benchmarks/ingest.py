"""Benchmark suite ``ingest``: landing files (and Kafka) into the warehouse and the lake.

For each scale a world is generated, then, in the same run and on the same files:

* the floor: DuckDB alone turning the landing JSON into Parquet (``read_json`` -> ``COPY``), with
  no validation, identity, deduplication, quarantine or warehouse load; and, to show that this
  floor is a fair one, the same conversion with the columns auto-detected, with snappy instead of
  zstd, and on one thread (:data:`FLOOR_VARIANTS`);
* ``learnrec ingest`` end to end in a child process (so that its peak memory is its own), with
  bounded batches: validation, event ids, deduplication, quarantine, the warehouse load and the
  lake copy;
* their ratio, and the extrapolation to a 50M-event day.

The Kafka figure runs against librdkafka's mock broker, which itself limits consumption (about
80k messages/s were measured on these machines), so it bounds the mock, not the design.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from benchmarks.harness import Recorder
from learnrec.settings import Settings, load_settings
from learnrec.world.config import WorldConfig
from learnrec.world.generate import generate_world

#: label -> (learners, courses, days)
SCALES = {"5M events": (210_000, 10_000, 30)}
QUICK_SCALES = {"20k events": (800, 200, 30)}
KAFKA_LEARNERS = {"full": 8_000, "quick": 400}  # ~200k and ~10k messages
BATCH_EVENTS = 500_000  # the default of LEARNREC_INGEST_BATCH_EVENTS
END = date(2026, 10, 31)


def _world(home: Path, learners: int, courses: int, days: int) -> Settings:
    settings = load_settings(home=home, ingest_batch_events=BATCH_EVENTS)
    generate_world(WorldConfig(end_date=END, n_learners=learners, n_courses=courses, days=days), settings)
    return settings


def _child(settings: Settings, *args: str) -> tuple[float, float, str]:
    """Run ``learnrec <args>`` for these settings in a child process: (seconds, peak MiB, output)."""
    env = {
        **os.environ,
        "LEARNREC_HOME": str(settings.home),
        "LEARNREC_INGEST_BATCH_EVENTS": str(BATCH_EVENTS),
    }
    env.update(
        {
            k: str(v)
            for k, v in (
                ("LEARNREC_EVENT_SOURCE", settings.event_source),
                ("LEARNREC_KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers),
            )
            if v
        }
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "learnrec.cli", *args], env=env, capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024, done.stdout


#: The payload's columns, given to the floor's reader (no sampling pass to detect them).
FLOOR_COLUMNS = (
    ", columns={learner_id: 'VARCHAR', event_type: 'VARCHAR', course_id: 'VARCHAR', timestamp: 'VARCHAR', "
    "metadata: 'STRUCT(watch_duration_seconds BIGINT, quiz_score DOUBLE, module_id VARCHAR)'}"
)
#: name -> (columns given, Parquet compression, DuckDB threads); the floor is the first.
FLOOR_VARIANTS = {
    "duckdb_json_to_parquet_per_second": (True, "zstd", None),
    "floor_auto_detected_columns_per_second": (False, "zstd", None),
    "floor_snappy_per_second": (True, "snappy", None),
    "floor_one_thread_per_second": (True, "zstd", 1),
}


def bare_duckdb_seconds(
    settings: Settings,
    out: Path,
    *,
    columns: bool = True,
    compression: str = "zstd",
    threads: int | None = None,
) -> float:
    """The floor: DuckDB's own JSON reader straight into Parquet, nothing else."""
    files = f"{settings.landing_path}/learner_events/*/*/*.jsonl"
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    started = time.perf_counter()
    con.execute(
        f"COPY (SELECT * FROM read_json('{files}', format='newline_delimited', ignore_errors=true"
        f"{FLOOR_COLUMNS if columns else ''})) TO '{out}' (FORMAT parquet, COMPRESSION {compression})"
    )
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def _lines(settings: Settings) -> int:
    return sum(
        p.read_bytes().count(b"\n") for p in (settings.landing_path / "learner_events").rglob("*.jsonl")
    )


def run(recorder: Recorder, quick: bool) -> None:
    for label, (learners, courses, days) in (QUICK_SCALES if quick else SCALES).items():
        with tempfile.TemporaryDirectory(prefix="learnrec-bench-ingest-") as home:
            settings = _world(Path(home), learners, courses, days)
            lines = _lines(settings)
            # untimed: load DuckDB's JSON extension and the files' pages once, so no variant pays it
            bare_duckdb_seconds(settings, Path(home) / "bare.parquet")
            floors = {
                name: bare_duckdb_seconds(
                    settings, Path(home) / "bare.parquet", columns=columns, compression=codec, threads=threads
                )
                for name, (columns, codec, threads) in FLOOR_VARIANTS.items()
            }
            _child(settings, "load-sources")
            seconds, peak, _ = _child(settings, "ingest")
        bare = floors["duckdb_json_to_parquet_per_second"]
        rate = lines / seconds
        for name, (columns, codec, threads) in FLOOR_VARIANTS.items():
            recorder.record(
                name,
                lines / floors[name],
                "events/s",
                label,
                lines=lines,
                seconds=round(floors[name], 2),
                note=f"DuckDB read_json -> Parquet, no checks; columns {'given' if columns else 'auto-detected'}, "
                f"{codec}, {threads or 'all'} thread(s)",
            )
        recorder.record(
            "ingest_events_per_second",
            rate,
            "events/s",
            label,
            lines=lines,
            seconds=round(seconds, 2),
            batch_events=BATCH_EVENTS,
        )
        recorder.record("ingest_vs_bare_duckdb", seconds / bare, "x slower", label)
        recorder.record("ingest_peak_rss", peak, "MiB", label, note="child process running `learnrec ingest`")
        recorder.record("day_of_50M_events", 50e6 / rate, "s", label, note="extrapolated from the rate above")
    _kafka(recorder, quick)


def _kafka(recorder: Recorder, quick: bool) -> None:
    from confluent_kafka import Producer

    from learnrec.world.kafka import produce_landing_to_kafka

    learners = KAFKA_LEARNERS["quick" if quick else "full"]
    with tempfile.TemporaryDirectory(prefix="learnrec-bench-kafka-") as home:
        settings = _world(Path(home), learners, 400, 30)
        cluster = Producer({"test.mock.num.brokers": 1})  # lives as long as this object
        bootstrap = ",".join(f"{b.host}:{b.port}" for b in cluster.list_topics(timeout=10).brokers.values())
        sent = produce_landing_to_kafka(settings.landing_path, bootstrap, settings.kafka_topic)
        kafka = settings.model_copy(update={"event_source": "kafka", "kafka_bootstrap_servers": bootstrap})
        _child(kafka, "load-sources")
        seconds, _, _ = _child(kafka, "ingest")
        del cluster
    recorder.record(
        "kafka_ingest_events_per_second",
        sent / seconds,
        "events/s",
        f"{sent:,} messages",
        note="librdkafka mock broker: the mock's own limit dominates",
    )
