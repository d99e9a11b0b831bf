"""A nightly feature run: aggregates, features, quality gate, publish (lake + warehouse).

``run_features(settings, run_date)`` is the one function the tests, ``learnrec features
--run-date`` and the nightly DAG call; ``main()`` is the same for spark-submit on a cluster.

1. ``incremental.prepare``: fold the new event files into the state, rebuild stale rollups;
2. the cores compute ``learner_features`` and ``course_features`` for the run date;
3. both are written once, to a staging folder of the lake; Spark reduces each to a one-row
   profile that the great-expectations checkpoint validates (``quality``); a failure stops the
   run with the reasons and publishes nothing;
4. publish: the staging folders replace ``features/<table>/run_date=D/`` in the lake, then the
   warehouse's ``features.<table>`` rows of that feature_date are replaced in one transaction
   in which the warehouse reads the partition's Parquet files itself (rerun = same rows, no
   duplicates).

The report carries seconds per step (``timings``): the profile of where a night goes.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

from learnrec.settings import Settings
from learnrec.tables import REPROCESS_DATES
from spark_jobs.lake import Lake
from spark_jobs.timings import Timings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from learnrec.warehouse import Warehouse
    from spark_jobs.catalog import CourseCatalog

log = logging.getLogger(__name__)

TABLES = ("learner_features", "course_features")


@dataclass(frozen=True)
class FeatureReport:
    run_date: date
    learners: int
    active_learners: int
    courses: int
    folded_days: tuple[date, ...]
    rebuilt_days: tuple[date, ...]
    new_files: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step (see Timings)


def reprocess_dates(warehouse: Warehouse, run_date: date) -> list[date]:
    """Days ingest marked as having received late events (``raw.reprocess_dates``), up to run_date."""
    if not warehouse.table_exists(REPROCESS_DATES):
        return []
    rows = warehouse.query(
        f"SELECT DISTINCT event_date FROM {REPROCESS_DATES} WHERE event_date <= DATE '{run_date.isoformat()}'"
    )
    return sorted(rows.column("event_date").to_pylist())


def _staging(table: str, run_date: date) -> str:
    return f"features/_staging/{table}/run_date={run_date.isoformat()}"


def publish_lake(lake: Lake, table: str, run_date: date) -> None:
    """Swap the validated staging folder in as the run date's partition."""
    fs = lake.fs
    _, final = lake._resolve(lake.output_path(table, run_date))
    _, staged = lake._resolve(_staging(table, run_date))
    if lake.exists(lake.output_path(table, run_date)):
        fs.delete_dir(final)
    fs.create_dir(final.rsplit("/", 1)[0], recursive=True)
    fs.move(staged, final)


def load_warehouse(warehouse: Warehouse, lake: Lake, table: str, run_date: date) -> int:
    """Replace the run date's rows of ``features.<table>`` with the lake partition, atomically.

    The warehouse reads the partition's Parquet files itself (``load_parquet``: DuckDB's
    ``read_parquet``, Snowflake's stage + ``COPY``) inside one transaction that first deletes
    the date's rows, so readers see the old or the new day, never a mix. The table is created
    (empty, from the files' schema) before the transaction: Snowflake commits on DDL.
    """
    import pyarrow.dataset as ds

    _, path = lake._resolve(lake.output_path(table, run_date))
    dataset = ds.dataset(path, format="parquet", filesystem=lake.fs)
    target = f"features.{table}"
    if not warehouse.table_exists(target):
        warehouse.load_arrow(target, dataset.schema.empty_table(), mode="replace")
    with warehouse.transaction():
        warehouse.execute(f"DELETE FROM {target} WHERE feature_date = DATE '{run_date.isoformat()}'")
        return warehouse.load_parquet(target, dataset.files, mode="append") if dataset.files else 0


def compute(
    spark: SparkSession,
    lake: Lake,
    catalog: CourseCatalog,
    run_date: date,
    reprocess: list[date],
    tables: tuple[str, ...] = TABLES,
) -> tuple[dict[str, DataFrame], FeatureReport]:
    """Steps 1-3: prepare, compute, stage and validate. Publishes nothing."""
    from pyspark.sql import functions as F

    from spark_jobs.course_features import course_features
    from spark_jobs.incremental import prepare
    from spark_jobs.learner_features import learner_features
    from spark_jobs.quality import Expected, profile, run_checkpoint

    start = time.perf_counter()
    inputs = prepare(spark, lake, catalog, run_date, reprocess)
    timings = inputs.timings
    builders = {
        "learner_features": lambda: learner_features(inputs),
        "course_features": lambda: course_features(inputs.daily_course, inputs.catalog, run_date),
    }
    staged: dict[str, DataFrame] = {}
    for table in tables:
        with timings.step(f"write_{table}"):
            builders[table]().write.mode("overwrite").parquet(lake.uri(_staging(table, run_date)))
        staged[table] = spark.read.parquet(lake.uri(_staging(table, run_date)))
    with timings.step("quality_profile"):
        expected = Expected(
            n_learners=inputs.state_learner.count(),
            # one rollup row per learner and day
            n_active_learners=inputs.daily_learner.where(F.col("event_date") == F.lit(run_date)).count(),
            n_courses=catalog.courses.num_rows,
            n_skills=catalog.n_skills,
        )
        profiles = {table: profile(table, frame, expected) for table, frame in staged.items()}
    with timings.step("quality_checkpoint"):
        run_checkpoint(profiles, expected, f"run date {run_date}")
    report = FeatureReport(
        run_date=run_date,
        learners=expected.n_learners,
        active_learners=expected.n_active_learners,
        courses=expected.n_courses,
        folded_days=tuple(inputs.folded_days),
        rebuilt_days=tuple(inputs.rebuilt_days),
        new_files=inputs.new_files,
        seconds=time.perf_counter() - start,
        timings=timings,
    )
    return staged, report


def run_features(
    settings: Settings,
    run_date: date,
    spark: SparkSession | None = None,
    tables: tuple[str, ...] = TABLES,
    load: bool = True,
) -> FeatureReport:
    """Compute, gate and publish the features of ``run_date`` (idempotent for the date)."""
    from learnrec.warehouse import connect_warehouse
    from spark_jobs.catalog import load_catalog
    from spark_jobs.session import build_spark

    start = time.perf_counter()
    # pyspark first, in this thread: great_expectations imports it too, and two threads
    # initialising pyspark at once fail on its circular imports (seen in the demo's DAG run)
    import pyspark.sql  # noqa: F401

    _import_in_background("great_expectations")  # ~20 s of imports, overlapped with Spark's work
    lake = Lake(settings.lake_root)
    # catalogue first: a missing catalogue fails before a JVM starts
    with connect_warehouse(settings) as warehouse:
        catalog = load_catalog(warehouse)
        marked = reprocess_dates(warehouse, run_date)
    spark = spark or build_spark(settings)
    _, report = compute(spark, lake, catalog, run_date, marked, tables)
    timings = Timings(report.timings)
    with timings.step("publish_lake"):
        for table in tables:
            publish_lake(lake, table, run_date)
    if load:
        with timings.step("load_warehouse"), connect_warehouse(settings) as warehouse:
            for table in tables:
                load_warehouse(warehouse, lake, table, run_date)
    report = replace(report, seconds=time.perf_counter() - start, timings=dict(timings))
    log.info("features %s: %s", run_date, report)
    return report


def _import_in_background(module: str) -> None:
    """Start importing ``module`` in a thread: the later ``import`` waits for it (import lock)."""
    import importlib
    import threading

    if module not in sys.modules:
        threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """spark-submit entry point: ``features.py --run-date YYYY-MM-DD [--table T]``."""
    import argparse

    from learnrec.settings import get_settings

    parser = argparse.ArgumentParser(description="Compute, gate and publish the features of a run date.")
    parser.add_argument("--run-date", type=date.fromisoformat, required=True)
    parser.add_argument("--table", choices=TABLES, action="append", help="only this table (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    print(run_features(get_settings(), args.run_date, tables=tuple(args.table or TABLES)))


if __name__ == "__main__":
    main()
