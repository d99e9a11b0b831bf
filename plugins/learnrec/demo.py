"""``make demo``: a small world through the real pipeline, run by Airflow, then a summary.

The DAGs run with ``airflow dags test`` (in-process, SQLite metadata, no scheduler), exactly as
they are deployed. Their output (every task's log) goes to files under ``<home>/demo/``; the
terminal gets one line per stage (task, seconds, what it returned) and the summary. Each stage that lands adds its DAG to ``DEMO_DAGS`` and, where useful, its
tables to ``SUMMARY_TABLES``. What the demo ends with (each stage's showcase) is passed in by the
``learnrec demo`` command, which may read what ``exports`` writes: this base module may not.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from learnrec import tables
from learnrec.airflow_env import metadata_db, run_airflow
from learnrec.airflow_runs import format_stage, latest_run_stages
from learnrec.dag_defaults import RETRIES_ENV
from learnrec.settings import Settings, env_name
from learnrec.transform.dbt_runner import docs_path, parse_project
from learnrec.warehouse import connect_warehouse
from learnrec.world.config import preset
from learnrec.world.generate import WorldSummary, generate_world

#: DAGs in the order the demo runs them for the run date (the day after the world's last day).
DEMO_DAGS: tuple[str, ...] = (
    "learner_events_ingest",
    "nightly_recommendations",
    "learner_nudges",
    "privacy_retention",
)
#: The demo shows the A/B control group that production leaves off by default (settings.control_share).
DEMO_ENV = {env_name("control_share"): "0.05"}
#: Warehouse tables whose row counts the summary prints (missing ones are skipped).
SUMMARY_TABLES: tuple[str, ...] = (
    tables.LEARNERS,
    tables.COURSES,
    "raw.course_ratings",
    tables.SKILLS,
    tables.CAREER_GOALS,
    tables.LEARNER_EVENTS,
    tables.QUARANTINED_EVENTS,
    tables.INGEST_BATCHES,
    tables.REPROCESS_DATES,
    tables.DIM_LEARNERS,
    tables.DIM_COURSES,
    tables.LEARNER_EVENTS_MART,
    tables.LEARNER_COURSE_INTERACTIONS,
    tables.POPULAR_BY_CAREER,
    tables.TOP_RATED_BY_INTEREST,
    tables.LEARNER_FEATURES,
    "features.course_features",
    tables.DROPOUT_SCORES,
    tables.RECOMMENDATIONS,
    tables.LEARNING_PATHS,
    tables.SERVED_LOG,
    tables.NUDGE_OUTBOX,
    tables.NOTIFICATION_EVENTS,
    tables.ERASURE_REQUESTS,
)


def demo_logs(settings: Settings) -> Path:
    """Where the demo writes the full output of what it runs (reset with the rest of the state)."""
    return settings.home / "demo"


def reset_embedded_state(settings: Settings) -> None:
    """Start from an empty embedded pipeline (a new world must not land on top of an old one).

    Everything under the state folder goes except Airflow's home (its metadata DB is reused). Only
    the embedded defaults are ever reset: the demo refuses to run against a production warehouse.
    """
    if settings.warehouse != "duckdb" or settings.event_source != "files" or settings.lake_uri:
        raise ValueError("the demo runs on the embedded defaults only (DuckDB, landing files, local lake)")
    if not settings.home.exists():
        return
    for entry in settings.home.iterdir():
        if entry == settings.airflow_home:
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def run_demo(
    settings: Settings,
    size: str = "small",
    end_date: date | None = None,
    endings: Sequence[Callable[[Settings], None]] = (),
) -> WorldSummary:
    """Generate a world, run ``DEMO_DAGS`` for the day after it, print the summary, then ``endings``."""
    end = end_date or datetime.now(UTC).date() - timedelta(days=1)
    reset_embedded_state(settings)
    world = generate_world(preset(size, end, seed=settings.seed), settings)
    print(
        f"generated {world.events:,} events for {world.learners:,} learners and {world.courses:,} courses "
        f"({world.window_start}..{world.window_end}) in {world.seconds:.1f}s"
    )
    run_date = (end + timedelta(days=1)).isoformat()
    logs = demo_logs(settings)
    logs.mkdir(parents=True, exist_ok=True)
    # the nightly DAG renders one task per dbt model from dbt's manifest (learnrec.transform.airflow_dbt)
    started = time.perf_counter()
    with (logs / "dbt_parse.log").open("w") as log, redirect_stdout(log):
        parse_project(settings)
    print(f"dbt parse (one Airflow task per model) in {time.perf_counter() - started:.1f}s", flush=True)
    for dag_id in DEMO_DAGS:
        log = logs / f"{dag_id}.log"
        print(f"airflow dags test {dag_id} {run_date} (task logs: {log})", flush=True)
        # fail fast: under `dags test` a retry only waits out its delay (learnrec.dag_defaults)
        code = run_airflow(
            settings,
            ["dags", "test", dag_id, run_date],
            extra_env={RETRIES_ENV: "0", **DEMO_ENV},
            check=False,
            output=log,
        )
        for stage in latest_run_stages(metadata_db(settings), dag_id):
            print(format_stage(stage), flush=True)
        if code:
            raise RuntimeError(f"airflow dags test {dag_id} failed with exit code {code}: see {log}")
    print_summary(settings, world)
    for ending in endings:
        ending(settings)
    return world


def print_summary(settings: Settings, world: WorldSummary) -> None:
    print("\nlearnrec demo: what was produced and where")
    print(f"  landing files   {world.landing} ({world.files:,} files, {world.lines:,} lines)")
    print(f"  ground truth    {world.ground_truth} (evaluation only)")
    print(f"  warehouse       {settings.warehouse_path}")
    print(f"  lake            {settings.lake_root}/events/event_date=YYYY-MM-DD/hour=HH/")
    with connect_warehouse(settings, read_only=True) as warehouse:
        for table in SUMMARY_TABLES:
            if warehouse.table_exists(table):
                rows = warehouse.scalar(f"SELECT count(*) FROM {table}")
                print(f"    {table:<40} {rows:>12,} rows")
    docs = docs_path(settings) / "static_index.html"
    if docs.exists():
        print(f"  dbt docs        {docs} (open in a browser)")
    print(f"  demo logs       {demo_logs(settings)} (each DAG's full Airflow output, task logs included)")
    print(f"  airflow home    {settings.airflow_home} (logs, metadata DB; `make airflow` for the UI)")
