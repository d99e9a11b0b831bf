"""Benchmark suite ``features``: a steady-state nightly feature run on ``local[2]``, 5M and 50M events.

What is measured is what a night costs in production: a fresh process starts Spark (the JVM) and
runs ``run_features`` for run date D (fold the day into the lifetime state, build the day's
rollups, compute the features from the 30-day window of rollups + the state, great-expectations
gate, lake publish, warehouse load). ``steady_day_seconds`` = Spark start + that run.

The lake is written directly, not through ingest or a first run over history:

* the events of D and D-1 as 24 hourly files each (ingest's layout, ``raw_event_schema``),
  generated vectorised from the synthetic world's distributions (see :func:`write_day`): a 50M
  day in well under a minute;
* the history: a separate process runs the incremental preparation of D-1 (the state and rollups
  of that day, untimed) and copies D-1's rollups to the 28 days before, so the window of D is
  full (30 days of rollups of ~1M learners each) and the state holds the learner base.

Each scale runs in fresh child processes (``python -m benchmarks.features``), so the figure includes
starting Spark as a nightly task does, and peak memory is the child's own. With
``LEARNREC_BENCH_FEATURES_BASELINE=<source tree>`` (e.g. ``git archive`` of an older commit) the
smallest scale also runs that tree's ``run_features`` on a copy of the same lake, in the same
benchmark run, and records the speed-up: before/after on the same machine and load.
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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.harness import Recorder
from learnrec.contracts.events import raw_event_schema
from learnrec.settings import PROJECT_ROOT

DAY = date(2026, 10, 30)
#: label -> (events, learners)
SCALES = {"5M events": (5_000_000, 1_000_000), "50M events": (50_000_000, 1_000_000)}
QUICK_SCALES = {"200k events": (200_000, 20_000)}
N_COURSES = 5_000
TARGET_SECONDS = 300
DRIVER_MEMORY = "6g"
BASELINE_ENV = "LEARNREC_BENCH_FEATURES_BASELINE"

# Shapes measured on the synthetic world (a medium world's day): event type shares, the share of
# a learner's sessions spent on their main course, and the gaps between events of a session.
EVENT_TYPES = np.array(["click", "watch", "skip", "complete", "search", "quiz_score"])
EVENT_SHARES = np.array([0.167, 0.480, 0.084, 0.045, 0.091, 0.133])
EVENTS_PER_SESSION = 6.0
MEAN_GAP_SECONDS = 240.0
COURSE_SLOT_SHARES = np.array([0.80, 0.15, 0.05])
#: Gamma shape of the learners' activity: a few heavy learners, many light ones, some idle days.
ACTIVITY_SHAPE = 0.5


def world_catalog(seed: int = 7):
    """The synthetic world's taxonomy and a catalogue of N_COURSES courses (deterministic)."""
    from learnrec.world.catalog import generate_catalog
    from learnrec.world.taxonomy import build_taxonomy

    tax = build_taxonomy()
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) - timedelta(days=30)
    return tax, generate_catalog(tax, N_COURSES, start, 30, np.random.default_rng(seed))


def write_catalog(settings) -> None:
    """raw.courses and raw.skills from the synthetic world's generator."""
    from learnrec.warehouse import connect_warehouse
    from learnrec.world.generate import skills_table

    tax, catalog = world_catalog()
    skills = skills_table(tax)
    with connect_warehouse(settings) as warehouse:
        warehouse.load_arrow("raw.courses", catalog.table, mode="replace")
        warehouse.load_arrow("raw.skills", skills, mode="replace")


def _draw(rng: np.random.Generator, weights: np.ndarray, size) -> np.ndarray:
    """Indices drawn with probability proportional to ``weights`` (inverse CDF: fast at 50M)."""
    cdf = np.cumsum(weights, dtype=np.float64)
    drawn = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    return np.minimum(drawn, len(weights) - 1).astype(np.int32)


def _sessions(rng: np.random.Generator, n_events: int, n_learners: int, day_start: int):
    """Sessions of the day: (learner, start micros, size) with sizes summing to ``n_events``."""
    from learnrec.world.learners import TIMEZONES, session_hour_probabilities

    activity = rng.gamma(ACTIVITY_SHAPE, 1.0 / ACTIVITY_SHAPE, n_learners)
    n_sessions = max(1, int(n_events / EVENTS_PER_SESSION))
    learner = np.searchsorted(np.cumsum(activity), rng.uniform(0, activity.sum(), n_sessions))
    learner = np.minimum(learner, n_learners - 1).astype(np.int32)
    size = rng.geometric(1.0 / EVENTS_PER_SESSION, n_sessions)
    size = np.maximum(1, np.round(size * n_events / size.sum())).astype(np.int64)
    size[-1] += n_events - size.sum()  # exact total (the last session absorbs the rounding)
    while size[-1] < 1:  # rounding up overshot: take the excess from the largest sessions
        big = np.argmax(size[:-1])
        take = min(size[big] - 1, 1 - size[-1])
        size[big] -= take
        size[-1] += take
    # local session hours (morning, lunch and evening peaks) in the learner's timezone
    offsets = np.array([t[1] for t in TIMEZONES])
    tz_p = np.array([t[2] for t in TIMEZONES])
    tz = _draw(rng, tz_p, n_learners)
    local_hour = _draw(rng, session_hour_probabilities(), n_sessions)
    utc_hour = np.mod(local_hour - offsets[tz[learner]], 24.0)
    start = day_start + ((utc_hour + rng.random(n_sessions)) * 3_600_000_000).astype(np.int64)
    return learner, start, size


def write_day(
    lake_root: str,
    n_events: int,
    n_learners: int,
    course_ids: np.ndarray,
    popularity: np.ndarray,
    day: date = DAY,
    seed: int = 11,
) -> int:
    """Write ``n_events`` events of ``day`` into the lake as 24 hourly files; returns bytes written.

    Shaped like the synthetic world, at a volume it cannot simulate quickly: learners' activity
    is skewed (gamma), events come in sessions (about six events a few minutes apart, starting at
    the world's local-time peaks), a learner spends most sessions of a day on one course (course
    popularity long-tailed as in the catalogue), event types in the world's shares.
    """
    rng = np.random.default_rng(seed)
    day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1_000_000)
    learner_s, start_s, size_s = _sessions(rng, n_events, n_learners, day_start)
    # each learner's courses of the day (slot 0 = main), popular courses more often
    slots = _draw(rng, popularity, (n_learners, len(COURSE_SLOT_SHARES)))
    course_s = slots[learner_s, _draw(rng, COURSE_SLOT_SHARES, len(size_s))]
    session = np.repeat(np.arange(len(size_s), dtype=np.int32), size_s)
    first = np.cumsum(size_s) - size_s
    gaps = rng.exponential(MEAN_GAP_SECONDS * 1e6, n_events).astype(np.int64)
    gaps[first] = 0
    elapsed = np.cumsum(gaps)
    micros = start_s[session] + elapsed - elapsed[first][session]
    micros = np.minimum(micros, day_start + 86_400_000_000 - 1)  # a session ends at midnight UTC
    hours = ((micros - day_start) // 3_600_000_000).astype(np.int8)
    order = np.argsort(hours, kind="stable")  # radix sort on int8: files by hour, sessions kept together
    micros, session = micros[order], session[order]
    learner, course = learner_s[session], course_s[session]
    kind = _draw(rng, EVENT_SHARES, n_events)
    bounds = np.searchsorted(hours[order], np.arange(25))

    ids = learner_ids(n_learners)
    courses = pa.array(course_ids.tolist())
    types = pa.array(EVENT_TYPES.tolist())
    event_date = (day - date(1970, 1, 1)).days
    schema = raw_event_schema()

    def coded(indices: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), values)

    def hour_table(hour: int) -> pa.Table:
        lo, hi = int(bounds[hour]), int(bounds[hour + 1])
        n, part = hi - lo, slice(lo, hi)
        is_watch, is_quiz = kind[part] == 1, kind[part] == 5
        watch = np.zeros(n, dtype=np.int32)
        watch[is_watch] = rng.lognormal(6.8, 0.7, int(is_watch.sum())).clip(10, 7200)
        quiz = np.zeros(n)
        quiz[is_quiz] = np.round(rng.beta(4.0, 1.8, int(is_quiz.sum())) * 100, 1)
        zeros = np.zeros(n, dtype=np.int32)
        columns = {
            "event_id": pc.binary_join_element_wise(
                f"bench-{day.isoformat()}-", pc.cast(pa.array(np.arange(lo, hi)), pa.string()), ""
            ),
            "learner_id": ids.take(pa.array(learner[part])),
            "event_type": coded(kind[part], types),
            "course_id": coded(course[part], courses),
            "event_at": pa.array(micros[part], pa.timestamp("us", tz="UTC")),
            "event_date": pa.array(np.full(n, event_date, dtype=np.int32), pa.date32()),
            "watch_duration_seconds": pa.array(watch, mask=~is_watch),
            "quiz_score": pa.array(quiz, mask=~is_quiz),
            "module_id": pa.nulls(n, pa.string()),
            "metadata": pa.nulls(n, pa.string()),
            "source": coded(zeros, pa.array(["files"])),
            "source_uri": coded(zeros, pa.array(["bench"])),
            "source_partition": pa.nulls(n, pa.int32()),
            "source_offset": pa.array(np.arange(lo + 1, hi + 1)),
            "batch_id": coded(zeros, pa.array(["bench-batch"])),
            "ingested_at": pa.array(micros[part] + 3_600_000_000, pa.timestamp("us", tz="UTC")),
        }
        # ingest's schema, strings dictionary-coded: the same Parquet (dictionary pages), less CPU
        return pa.table([columns[f.name] for f in schema], names=schema.names)

    def write(hour: int, table: pa.Table) -> int:
        folder = Path(lake_root) / "events" / f"event_date={day.isoformat()}" / f"hour={hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "bench-batch.parquet"
        pq.write_table(table, path, compression="zstd")
        return path.stat().st_size

    # build an hour's table while the previous one is compressed and written (Arrow frees the GIL)
    written = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(write, hour, hour_table(hour)) for hour in range(24)]
        written = sum(f.result() for f in pending)
    return written


def learner_ids(n_learners: int) -> pa.Array:
    """The benchmark's learner ids, ``L0000000`` ... (position = learner index)."""
    return pc.binary_join_element_wise(
        "L", pc.utf8_lpad(pc.cast(pa.array(np.arange(n_learners)), pa.string()), 7, "0"), ""
    )


def seed_history(lake_root: str, day: date, n_learners: int, days: int = 28, seed: int = 13) -> None:
    """Fill the lake before ``day`` as a nightly run finds it.

    * the window: copies of ``day``'s rollups for the ``days`` before it, recorded as built from
      no event files (their days have none in this lake);
    * the learner base: the state of ``day`` holds the learners active on it; every other
      learner of the population joins it as last seen 31-365 days earlier, so the state (and the
      features, one row per learner) covers all ``n_learners``.
    """
    import pyarrow.dataset as ds

    from spark_jobs.lake import Lake

    root = Path(lake_root) / "features"
    for table in ("daily_learner", "daily_course"):
        source = root / table / f"event_date={day.isoformat()}"
        for back in range(1, days + 1):
            shutil.copytree(source, root / table / f"event_date={(day - timedelta(days=back)).isoformat()}")
    for back in range(1, days + 1):
        Lake(lake_root).record_daily(day - timedelta(days=back), frozenset())

    state = root / "state" / "learner" / f"run_date={day.isoformat()}"
    everyone = learner_ids(n_learners)
    seen = ds.dataset(state, format="parquet").to_table(columns=["learner_id"]).column("learner_id")
    missing = pc.filter(everyone, pc.invert(pc.is_in(everyone, value_set=seen.combine_chunks())))
    rng = np.random.default_rng(seed)
    n = len(missing)
    day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1_000_000)
    last = day_start - rng.integers(31, 366, n) * 86_400_000_000 + rng.integers(0, 86_400_000_000, n)
    first = last - rng.integers(0, 200, n) * 86_400_000_000
    old = pa.table(
        {
            "learner_id": missing,
            "n_events": pa.array(rng.integers(1, 300, n), pa.int64()),
            "first_event_at": pa.array(first, pa.timestamp("us", tz="UTC")),
            "last_event_at": pa.array(last, pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(old, state / "part-bench-learner-base.parquet", compression="zstd")


def _settings(home: Path):
    from learnrec.settings import load_settings

    return load_settings(home=home, spark_master="local[2]", spark_driver_memory=DRIVER_MEMORY)


def prepare_lake(n_events: int, n_learners: int, home: Path) -> dict:
    """Child process 1: catalogue, the events of D-1 and D, the history up to D-1 (untimed run)."""
    from learnrec.warehouse import connect_warehouse
    from spark_jobs.catalog import load_catalog
    from spark_jobs.incremental import prepare
    from spark_jobs.session import build_spark

    settings = _settings(home)
    write_catalog(settings)
    _, catalog = world_catalog()
    started = time.perf_counter()
    size = write_day(settings.lake_root, n_events, n_learners, catalog.course_ids, catalog.popularity)
    generate = time.perf_counter() - started
    previous = DAY - timedelta(days=1)
    size += write_day(
        settings.lake_root, n_events, n_learners, catalog.course_ids, catalog.popularity, previous, seed=12
    )
    started = time.perf_counter()
    with connect_warehouse(settings) as warehouse:
        resolved = load_catalog(warehouse)
    from spark_jobs.lake import Lake

    spark = build_spark(settings)
    prepare(spark, Lake(settings.lake_root), resolved, previous)
    spark.stop()
    seed_history(settings.lake_root, previous, n_learners)
    return {
        "lake_bytes": size,
        "generate_seconds": generate,
        "history_seconds": time.perf_counter() - started,
    }


#: Child process 2, as a script so that it runs any source tree's ``run_features`` (a baseline's
#: too: the working directory picks the tree). Prints one JSON line.
MEASURE_SCRIPT = """
import json, os, sys, time
from datetime import date
from learnrec.settings import load_settings
from spark_jobs.features import run_features
from spark_jobs.session import build_spark

home, day, memory = sys.argv[1], date.fromisoformat(sys.argv[2]), sys.argv[3]
load_before = os.getloadavg()
settings = load_settings(home=home, spark_master="local[2]", spark_driver_memory=memory)
started = time.perf_counter()
spark = build_spark(settings)
spark_start = time.perf_counter() - started
started = time.perf_counter()
report = run_features(settings, day, spark=spark)
seconds = time.perf_counter() - started
jvm = spark.sparkContext._gateway.proc.pid
with open(f"/proc/{jvm}/status") as status:
    jvm_peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
spark.stop()
print(json.dumps({
    "spark_start_seconds": spark_start,
    "run_seconds": seconds,
    "learners": report.learners,
    "active_learners": report.active_learners,
    "timings": getattr(report, "timings", {}),
    "jvm_peak_mib": jvm_peak / 1024,
    "load_before": load_before[:2],
    "load_after_1m": os.getloadavg()[0],
}))
"""


def _child(args: list[str], tree: str | Path = PROJECT_ROOT) -> dict:
    """Run a child in ``tree``: its ``spark_jobs`` is the one imported (the working directory
    comes first on ``sys.path``, before the installed project)."""
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=tree)
    if out.returncode:
        raise RuntimeError(f"features benchmark child {args[:2]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(home: Path, tree: str | Path = PROJECT_ROOT) -> dict:
    return _child(["-c", MEASURE_SCRIPT, str(home), DAY.isoformat(), DRIVER_MEMORY], tree)


def run(recorder: Recorder, quick: bool) -> None:
    measured = {}
    baseline = os.environ.get(BASELINE_ENV)
    sizes = QUICK_SCALES if quick else SCALES
    for n, (label, (n_events, n_learners)) in enumerate(sizes.items()):
        with tempfile.TemporaryDirectory(prefix="learnrec-bench-features-") as tmp:
            home = Path(tmp) / "home"
            lake = _child(
                [
                    "-m",
                    "benchmarks.features",
                    "--events",
                    str(n_events),
                    "--learners",
                    str(n_learners),
                    "--home",
                    str(home),
                ]
            )
            before = None
            if baseline and n == 0:
                copy = Path(tmp) / "baseline"
                shutil.copytree(home, copy)
                before = measure(copy, baseline)
                shutil.rmtree(copy)
            result = measure(home)
        print(f"  {label}: {json.dumps({'lake': lake, 'measured': result, 'baseline': before})}", flush=True)
        measured[label] = result
        total = result["spark_start_seconds"] + result["run_seconds"]
        recorder.record(
            "steady_day_seconds",
            total,
            "s",
            label,
            events=n_events,
            learners=n_learners,
            active_learners=result["active_learners"],
            spark_start_s=round(result["spark_start_seconds"], 1),
            master="local[2]",
            driver_memory=DRIVER_MEMORY,
            shape="run date with 30 days of rollups + lifetime state",
            target_s=TARGET_SECONDS,
            feature_learners=result["learners"],
            # the machine is shared: load (1 and 5 min) before the run, and after it (with itself)
            load_before=[round(x, 1) for x in result["load_before"]],
            load_after_1m=round(result["load_after_1m"], 1),
            **{f"{k}_s": round(v, 1) for k, v in result["timings"].items()},
        )
        recorder.record("events_per_second", n_events / total, "events/s", label)
        recorder.record("jvm_peak_rss", result["jvm_peak_mib"], "MiB", label)
        recorder.record(
            "generate_lake_seconds",
            lake["generate_seconds"],
            "s",
            label,
            note="one day of events, Parquet, written directly",
            lake_bytes_two_days=lake["lake_bytes"],
            history_prepare_s=round(lake["history_seconds"], 1),
        )
        if before is not None:
            recorder.record(
                "steady_day_speedup",
                (before["spark_start_seconds"] + before["run_seconds"]) / total,
                "x",
                label,
                baseline_s=round(before["spark_start_seconds"] + before["run_seconds"], 1),
                baseline_spark_start_s=round(before["spark_start_seconds"], 1),
                baseline=Path(baseline).name,
                load_before=[round(x, 1) for x in before["load_before"]],
            )
    if len(measured) == 2:
        (small, a), (large, b) = measured.items()
        recorder.record(
            "scaling",
            (b["spark_start_seconds"] + b["run_seconds"]) / (a["spark_start_seconds"] + a["run_seconds"]),
            "x time",
            f"{small} -> {large}",
            events_ratio=round(sizes[large][0] / sizes[small][0], 1),
            run_only_ratio=round(b["run_seconds"] / a["run_seconds"], 2),
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the lake of one scale of the features benchmark.")
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--learners", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(prepare_lake(args.events, args.learners, args.home)))


if __name__ == "__main__":
    main()
