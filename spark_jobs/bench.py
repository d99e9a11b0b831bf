"""Benchmark suite ``features``: one event day through the whole feature run on ``local[2]``.

A synthetic day is written straight into the lake in the ingest layout (Arrow, vectorised numpy,
``raw_event_schema``; one file per hour), with 1M learners and a catalogue from the synthetic
world. Each scale runs in a fresh process, so the figure includes starting Spark (the JVM), as a
nightly task does: ``day_seconds`` = Spark start + ``run_features`` (state, rollups, features,
great-expectations gate, lake publish, warehouse load). Two shapes per scale:

* ``first day``: an empty lake (no state, no rollups), the day alone;
* ``steady``: the same, but the window already holds 29 earlier days of rollups (copies of the
  day's own rollups) and a lifetime state, i.e. what a nightly run reads in production.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from learnrec.benchmarks import Recorder
from learnrec.contracts.events import raw_event_schema

DAY = date(2026, 10, 30)
#: label -> (events, learners)
SCALES = {"5M events": (5_000_000, 1_000_000), "50M events": (50_000_000, 1_000_000)}
QUICK_SCALES = {"200k events": (200_000, 20_000)}
N_COURSES = 5_000
COURSES_PER_LEARNER_DAY = 3
EVENT_TYPES = np.array(["click", "watch", "skip", "complete", "search", "quiz_score"])
EVENT_SHARES = np.array([0.25, 0.40, 0.05, 0.05, 0.15, 0.10])
TARGET_SECONDS = 300


def write_catalog(settings, seed: int = 7) -> None:
    """raw.courses and raw.skills from the synthetic world's generator."""
    from learnrec.contracts.sources import SKILLS
    from learnrec.warehouse import connect_warehouse
    from learnrec.world.catalog import generate_catalog
    from learnrec.world.taxonomy import build_taxonomy

    tax = build_taxonomy()
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) - timedelta(days=30)
    catalog = generate_catalog(tax, N_COURSES, start, 30, np.random.default_rng(seed))
    skills = pa.table(
        {
            "skill_id": tax.skill_ids.tolist(),
            "name": tax.names.tolist(),
            "domain": tax.domains.tolist(),
            "level": tax.levels,
            "prerequisite_skill_ids": [[str(tax.skill_ids[k]) for k in p] for p in tax.prerequisites],
        },
        schema=SKILLS,
    )
    with connect_warehouse(settings) as warehouse:
        warehouse.load_arrow("raw.courses", catalog.table, mode="replace")
        warehouse.load_arrow("raw.skills", skills, mode="replace")


def write_day(lake_root: str, n_events: int, n_learners: int, day: date = DAY, seed: int = 11) -> int:
    """Write ``n_events`` events of ``day`` as 24 hourly files; returns bytes written."""
    rng = np.random.default_rng(seed)
    learners = pc.cast(pa.array(np.arange(n_learners)), pa.string())
    learners = pc.binary_join_element_wise("L", pc.utf8_lpad(learners, 7, "0"), "")
    ranks = np.arange(1, N_COURSES + 1, dtype=np.float64)
    course_p = 1.0 / ranks**0.9
    course_p /= course_p.sum()
    courses = pa.array([f"C{j + 1:05d}" for j in rng.permutation(N_COURSES)])
    # a learner works on a few courses a day (popular ones more often), not on a random one per event
    slots = rng.choice(N_COURSES, size=(n_learners, COURSES_PER_LEARNER_DAY), p=course_p)
    types = pa.array(EVENT_TYPES.tolist())
    constants = {"source": pa.array(["files"]), "batch": pa.array(["bench-batch"])}
    day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1_000_000)
    written = 0
    per_hour = np.full(24, n_events // 24)
    per_hour[: n_events % 24] += 1
    offset = 0
    for hour, n in enumerate(per_hour.tolist()):
        kind = rng.choice(len(EVENT_TYPES), size=n, p=EVENT_SHARES)
        is_watch, is_quiz = kind == 1, kind == 5
        micros = day_start + hour * 3_600_000_000 + rng.integers(0, 3_600_000_000, n)
        watch = np.where(is_watch, rng.integers(30, 3600, n), 0).astype(np.int32)
        quiz = np.where(is_quiz, np.round(rng.uniform(0, 100, n), 1), 0.0)
        zeros = np.zeros(n, dtype=np.int32)
        ids = pc.binary_join_element_wise(
            "bench-", pc.cast(pa.array(np.arange(offset, offset + n)), pa.string()), ""
        )
        learner = rng.integers(0, n_learners, n)
        course = slots[learner, rng.integers(0, COURSES_PER_LEARNER_DAY, n)]
        table = pa.table(
            {
                "event_id": ids,
                "learner_id": learners.take(pa.array(learner)),
                "event_type": types.take(pa.array(kind)),
                "course_id": courses.take(pa.array(course)),
                "event_at": pa.array(micros, pa.timestamp("us", tz="UTC")),
                "event_date": pa.array(
                    np.full(n, (day - date(1970, 1, 1)).days, dtype=np.int32), pa.date32()
                ),
                "watch_duration_seconds": pa.array(watch, mask=~is_watch),
                "quiz_score": pa.array(quiz, mask=~is_quiz),
                "module_id": pa.nulls(n, pa.string()),
                "metadata": pa.nulls(n, pa.string()),
                "source": constants["source"].take(pa.array(zeros)),
                "source_uri": constants["source"].take(pa.array(zeros)),
                "source_partition": pa.nulls(n, pa.int32()),
                "source_offset": pa.array(np.arange(offset + 1, offset + n + 1)),
                "batch_id": constants["batch"].take(pa.array(zeros)),
                "ingested_at": pa.array(micros + 3_600_000_000, pa.timestamp("us", tz="UTC")),
            },
            schema=raw_event_schema(),
        )
        folder = Path(lake_root) / "events" / f"event_date={day.isoformat()}" / f"hour={hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "bench-batch.parquet"
        pq.write_table(table, path, compression="zstd")
        written += path.stat().st_size
        offset += n
    return written


def seed_history(lake_root: str, day: date, days: int = 29) -> None:
    """Make the window look lived-in: copies of ``day``'s rollups for the ``days`` before it,
    and the state of ``day`` as the state of the day before (a later run date then reads them)."""
    root = Path(lake_root) / "features"
    for table in ("daily_learner", "daily_course"):
        source = root / table / f"event_date={day.isoformat()}"
        for back in range(1, days + 1):
            shutil.copytree(source, root / table / f"event_date={(day - timedelta(days=back)).isoformat()}")


def _measure(n_events: int, n_learners: int, home: Path) -> dict:
    """Child process: write catalogue and day, then time Spark start + run_features."""
    from learnrec.settings import load_settings
    from spark_jobs.features import run_features
    from spark_jobs.lake import Lake
    from spark_jobs.session import build_spark

    settings = load_settings(home=home, spark_master="local[2]", spark_driver_memory="4g")
    write_catalog(settings)
    started = time.perf_counter()
    size = write_day(settings.lake_root, n_events, n_learners)
    generate = time.perf_counter() - started

    started = time.perf_counter()
    spark = build_spark(settings)
    spark_start = time.perf_counter() - started
    report = run_features(settings, DAY, spark=spark)
    first_day = time.perf_counter() - started

    # steady state: the next day, with 29 days of rollups before it in the window and a state
    next_day = DAY + timedelta(days=1)
    seed_history(settings.lake_root, DAY)
    for back in range(1, 30):
        Lake(settings.lake_root).record_daily(DAY - timedelta(days=back), frozenset())
    size += write_day(settings.lake_root, n_events, n_learners, day=next_day, seed=12)
    started = time.perf_counter()
    steady_report = run_features(settings, next_day, spark=spark)
    steady = time.perf_counter() - started
    spark.stop()
    return {
        "events": n_events,
        "learners": n_learners,
        "lake_bytes": size,
        "generate_seconds": generate,
        "spark_start_seconds": spark_start,
        "first_day_seconds": first_day,
        "steady_seconds": steady,
        "steady_with_start_seconds": steady + spark_start,
        "feature_learners": steady_report.learners,
        "active_learners": report.active_learners,
        "load_avg_5m": os.getloadavg()[1],
    }


def run(recorder: Recorder, quick: bool) -> None:
    measured = {}
    for label, (n_events, n_learners) in (QUICK_SCALES if quick else SCALES).items():
        with tempfile.TemporaryDirectory(prefix="learnrec-bench-features-") as home:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "spark_jobs.bench",
                    "--events",
                    str(n_events),
                    "--learners",
                    str(n_learners),
                    "--home",
                    home,
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "PYSPARK_PYTHON": sys.executable},
            )
        if out.returncode:
            raise RuntimeError(f"features benchmark at {label} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        measured[label] = result
        recorder.record(
            "day_seconds",
            result["first_day_seconds"],
            "s",
            label,
            events=n_events,
            learners=n_learners,
            spark_start_s=round(result["spark_start_seconds"], 1),
            master="local[2]",
            shape="first day, empty lake",
            target_s=TARGET_SECONDS,
            machine_load_5m=round(result["load_avg_5m"], 1),  # the machine is shared: context
        )
        recorder.record(
            "steady_day_seconds",
            result["steady_with_start_seconds"],
            "s",
            label,
            events=n_events,
            shape="30-day window of rollups + lifetime state",
            target_s=TARGET_SECONDS,
        )
        recorder.record("events_per_second", n_events / result["steady_seconds"], "events/s", label)
    if len(measured) == 2:
        (small, a), (large, b) = measured.items()
        recorder.record(
            "scaling",
            b["steady_seconds"] / a["steady_seconds"],
            "x time",
            f"{small} -> {large}",
            events_ratio=b["events"] / a["events"],
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One scale of the features benchmark (child process).")
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--learners", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(_measure(args.events, args.learners, args.home)))


if __name__ == "__main__":
    main()
