"""Job 1 of a feature run: bring the compact aggregates up to date for a run date.

A run for run date D reads only event files it has not seen (see :mod:`spark_jobs.lake`):

1. **Lifetime state.** Start from the newest state snapshot before D (its manifest lists the
   event files folded into it). The days to look at are the days after that snapshot up to D,
   the 30 window days, and the days ``raw.reprocess_dates`` marks as having received late
   events. For each, the files not in the manifest are new; their events are aggregated
   (``lifetime_deltas``) and folded into the state, which is written as the snapshot of D.
   Without any snapshot (first run, or a fresh lake) every event day up to D is folded once.
2. **Daily rollups.** Every window day whose rollups were built from other files than the day
   now holds (never built, or late files landed) is rebuilt from all of that day's files.

In steady state that is the run date's own files plus the late files of a few days. The
features are then computed from the state and the 30 days of rollups only, so the result equals
a recomputation from the whole history (tested), at a cost that grows with the day, not with
history. Everything is keyed by date and replaced on rerun, so reruns and backfills are
idempotent.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from learnrec.contracts.events import raw_event_schema
from spark_jobs import aggregates
from spark_jobs.catalog import CourseCatalog
from spark_jobs.lake import Lake, LakeError
from spark_jobs.timings import Timings
from spark_jobs.window import window_days

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

#: Storage bound: state snapshots kept before a run date, and rollups kept before its window
#: (older ones are only needed by backfills, which rebuild them from the event files).
STATE_KEEP_DAYS = 7
ROLLUP_KEEP_EXTRA_DAYS = 7

#: The event columns the aggregates read (Parquet column pruning keeps the rest on disk).
EVENT_COLUMNS = (
    "learner_id",
    "event_type",
    "course_id",
    "event_at",
    "event_date",
    "watch_duration_seconds",
    "quiz_score",
)


@dataclass
class PreparedInputs:
    """What the feature cores read for one run date (all DataFrames backed by the lake)."""

    run_date: date
    catalog: DataFrame
    n_skills: int
    state_learner: DataFrame
    state_learner_course: DataFrame
    daily_learner: DataFrame  # rollups of the window days
    daily_course: DataFrame
    folded_days: list[date] = field(default_factory=list)  # days with new files folded into the state
    rebuilt_days: list[date] = field(default_factory=list)  # window days whose rollups were rebuilt
    new_files: int = 0
    timings: Timings = field(default_factory=lambda: Timings())


def event_struct():
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(raw_event_schema())


def read_events(spark: SparkSession, new_uris: list[str], old_uris: list[str] = ()) -> DataFrame:
    """Raw events of the given lake files (an empty frame of the same shape if none), with
    ``new`` telling the files the lifetime state has not folded from those it has. One scan:
    each file is in one of the two lists."""
    from pyspark.sql import functions as F

    parts = [
        spark.read.schema(event_struct()).parquet(*uris).select(*EVENT_COLUMNS, F.lit(new).alias("new"))
        for uris, new in ((new_uris, True), (list(old_uris), False))
        if uris
    ]
    if not parts:
        empty = spark.createDataFrame([], event_struct()).select(*EVENT_COLUMNS)
        return empty.withColumn("new", F.lit(True))
    return parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])


def _read_rollups(
    spark: SparkSession, lake: Lake, table: str, days: list[date], empty: DataFrame
) -> DataFrame:
    from pyspark.sql import functions as F

    if not days:
        return empty
    paths = [lake.uri(lake.rollup_path(table, d)) for d in days]
    frame = spark.read.option("basePath", lake.uri(lake.rollup_root(table))).parquet(*paths)
    return frame.withColumn("event_date", F.to_date("event_date")).select(*empty.columns)


def candidate_days(
    lake: Lake, run_date: date, previous: date | None, reprocess_dates: Iterable[date]
) -> list[date]:
    """Days whose event files may hold something the previous snapshot has not folded."""
    if previous is None:
        return [d for d in lake.event_days() if d <= run_date] or [run_date]
    days = {previous + timedelta(days=n) for n in range(1, (run_date - previous).days + 1)}
    days |= set(window_days(run_date))
    days |= {d for d in reprocess_dates if d <= run_date}
    return sorted(days)


def prepare(
    spark: SparkSession,
    lake: Lake,
    catalog: CourseCatalog,
    run_date: date,
    reprocess_dates: Iterable[date] = (),
) -> PreparedInputs:
    """Update state and rollups for ``run_date`` in the lake and return the features' inputs."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    catalog_df = catalog.to_spark(spark)
    empty_blocks = aggregates.blocks(read_events(spark, []))
    empty_pairs = aggregates.pairs(empty_blocks, catalog_df)
    empty_learner_rollup, empty_course_rollup = aggregates.daily_rollups(empty_pairs, empty_blocks)
    empty_state_learner, empty_state_pairs = aggregates.lifetime_deltas(empty_pairs)
    timings = Timings()

    previous = lake.latest_state_before(run_date)
    folded = lake.state_files(previous) if previous else {}
    files_now: dict[date, frozenset[str]] = {}
    new_by_day: dict[date, frozenset[str]] = {}
    with timings.step("list_files"):
        for day in candidate_days(lake, run_date, previous, reprocess_dates):
            now = lake.event_files(day)
            before = folded.get(day, frozenset())
            if before - now:
                gone = sorted(before - now)[:3]
                raise LakeError(
                    f"event files of {day} that run {previous} folded are gone ({gone}...): the lake's "
                    "event history must be append-only; rebuild features from scratch (empty the "
                    "features/state folder) after restoring or rewriting history"
                )
            files_now[day] = now
            if now - before:
                new_by_day[day] = now - before
    # window days whose rollups were built from other files than the day holds now
    window = window_days(run_date)
    rebuild = []
    for day in window:
        built_from, now = lake.daily_files(day), files_now.get(day, frozenset())
        if built_from is not None and built_from - now:
            raise LakeError(f"event files of {day} that its rollups were built from are gone")
        if now and built_from != now:
            rebuild.append(day)

    # one scan of the events: the new files (for the state) and the rest of the rebuilt days'
    # files (for their rollups), aggregated once into blocks, and those once into (learner,
    # course, day) pairs: every output derives from these two cached frames. The blocks are
    # cached partitioned by learner: every later grouping has the learner in its key (pairs,
    # slices, learner rollup, both deltas), so this one shuffle replaces one per grouping (only
    # the course rollup and the fold with the previous state shuffle again)
    new_uris = [uri for day, files in sorted(new_by_day.items()) for uri in lake.event_file_uris(day, files)]
    old_uris = [
        uri for d in rebuild for uri in lake.event_file_uris(d, files_now[d] - new_by_day.get(d, frozenset()))
    ]
    events = read_events(spark, new_uris, old_uris)
    blocks = aggregates.blocks(events).repartition("learner_id").persist(StorageLevel.MEMORY_AND_DISK)
    pairs = aggregates.pairs(blocks, catalog_df).persist(StorageLevel.MEMORY_AND_DISK)

    # 1. lifetime state of run_date = previous snapshot + aggregates of the new files
    state_learner, state_pairs = empty_state_learner, empty_state_pairs
    if previous is not None:
        state_learner = spark.read.parquet(lake.uri(lake.state_path(aggregates.STATE_LEARNER, previous)))
        state_pairs = spark.read.parquet(lake.uri(lake.state_path(aggregates.STATE_LEARNER_COURSE, previous)))
    delta_learner, delta_pairs = aggregates.lifetime_deltas(pairs)
    state_learner = aggregates.fold_learner(state_learner, delta_learner)
    state_pairs = aggregates.fold_learner_course(state_pairs, delta_pairs)
    for table, frame in (
        (aggregates.STATE_LEARNER, state_learner),
        (aggregates.STATE_LEARNER_COURSE, state_pairs),
    ):
        with timings.step(f"state_{table}"):
            frame.write.mode("overwrite").parquet(lake.uri(lake.state_path(table, run_date)))
    lake.record_state(run_date, folded | {d: files for d, files in files_now.items() if files})

    # 2. rollups of the rebuilt days
    if rebuild:
        rebuilt = F.col("event_date").isin(*rebuild)
        learner_rollup, course_rollup = aggregates.daily_rollups(pairs.where(rebuilt), blocks.where(rebuilt))
        for table, frame in (
            (aggregates.DAILY_LEARNER, learner_rollup),
            (aggregates.DAILY_COURSE, course_rollup),
        ):
            with timings.step(f"rollup_{table}"):
                frame.write.mode("overwrite").partitionBy("event_date").parquet(
                    lake.uri(lake.rollup_root(table))
                )
        for d in rebuild:
            lake.record_daily(d, files_now[d])
    pairs.unpersist()
    blocks.unpersist()
    # a day without events has no rollup partition
    built = [d for d in window if lake.exists(lake.rollup_path(aggregates.DAILY_LEARNER, d))]
    removed = lake.prune(
        state_from=run_date - timedelta(days=STATE_KEEP_DAYS),
        rollups_from=window[0] - timedelta(days=ROLLUP_KEEP_EXTRA_DAYS),
        state_tables=(aggregates.STATE_LEARNER, aggregates.STATE_LEARNER_COURSE),
        rollup_tables=(aggregates.DAILY_LEARNER, aggregates.DAILY_COURSE),
    )
    log.info(
        "features %s: folded %d new event file(s) of %d day(s), rebuilt rollups of %d day(s), pruned %d",
        run_date,
        len(new_uris),
        len(new_by_day),
        len(rebuild),
        removed,
    )
    return PreparedInputs(
        run_date=run_date,
        catalog=catalog_df,
        n_skills=catalog.n_skills,
        state_learner=spark.read.parquet(lake.uri(lake.state_path(aggregates.STATE_LEARNER, run_date))),
        state_learner_course=spark.read.parquet(
            lake.uri(lake.state_path(aggregates.STATE_LEARNER_COURSE, run_date))
        ),
        daily_learner=_read_rollups(spark, lake, aggregates.DAILY_LEARNER, built, empty_learner_rollup),
        daily_course=_read_rollups(spark, lake, aggregates.DAILY_COURSE, built, empty_course_rollup),
        folded_days=sorted(new_by_day),
        rebuilt_days=rebuild,
        new_files=len(new_uris),
        timings=timings,
    )


def run_date_argument(argv: list[str] | None, description: str) -> date:
    """``--run-date YYYY-MM-DD`` of a job's ``main()`` under spark-submit."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--run-date", type=date.fromisoformat, required=True)
    return parser.parse_args(argv).run_date


def main(argv: list[str] | None = None) -> None:
    """spark-submit entry point: update state and rollups for ``--run-date``."""
    from learnrec.settings import get_settings
    from learnrec.warehouse import connect_warehouse
    from spark_jobs.catalog import load_catalog
    from spark_jobs.features import reprocess_dates
    from spark_jobs.session import build_spark

    run_date = run_date_argument(argv, "Update the feature state and daily rollups for a run date.")
    settings = get_settings()
    with connect_warehouse(settings, read_only=settings.warehouse == "duckdb") as warehouse:
        catalog = load_catalog(warehouse)
        marked = reprocess_dates(warehouse, run_date)
    prepare(build_spark(settings), Lake(settings.lake_root), catalog, run_date, marked)


if __name__ == "__main__":
    main()
