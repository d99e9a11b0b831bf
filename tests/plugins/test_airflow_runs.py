"""The demo's stage lines: one per task or task group, with what the task returned; and Airflow's
own output sent to a file instead of the terminal.

The metadata DB here holds only the columns the reader uses, in Airflow 3's table and column
names; the demo test reads a real one written by `airflow dags test`.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from learnrec.airflow_env import metadata_db, run_airflow
from learnrec.airflow_runs import Stage, describe_result, format_stage, latest_run_stages
from learnrec.settings import Settings

SCHEMA = """
CREATE TABLE dag_run (id INTEGER PRIMARY KEY, dag_id TEXT, run_id TEXT);
CREATE TABLE task_instance (task_id TEXT, dag_id TEXT, run_id TEXT, map_index INTEGER, state TEXT,
    start_date TEXT, end_date TEXT);
CREATE TABLE xcom (dag_id TEXT, run_id TEXT, task_id TEXT, map_index INTEGER, key TEXT, value);
"""


def _db(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.executemany(
            "INSERT INTO dag_run (id, dag_id, run_id) VALUES (?, ?, ?)",
            [(1, "nightly", "yesterday"), (2, "nightly", "today")],
        )
        db.executemany(
            "INSERT INTO task_instance VALUES (?, 'nightly', ?, -1, ?, ?, ?)",
            [
                ("old_task", "yesterday", "success", "2026-11-01 01:00:00", "2026-11-01 01:00:09"),
                ("load", "today", "success", "2026-11-02 01:00:00", "2026-11-02 01:00:03.5"),
                ("dbt.a_model_build", "today", "success", "2026-11-02 01:00:04", "2026-11-02 01:00:10"),
                ("dbt.b_model_build", "today", "failed", "2026-11-02 01:00:06", "2026-11-02 01:00:20"),
                ("count", "today", "upstream_failed", None, None),
                ("never_ran", "today", None, None, None),
            ],
        )
        db.executemany(
            "INSERT INTO xcom VALUES ('nightly', 'today', ?, -1, ?, ?)",
            [("load", "return_value", '{"learners": 1200, "late": 7}'), ("load", "learners", 1200)],
        )
    return path


def test_a_run_is_read_as_stages_in_start_order_groups_summed(tmp_path: Path) -> None:
    stages = latest_run_stages(_db(tmp_path / "airflow.db"), "nightly")
    assert [s.name for s in stages] == ["load", "dbt", "count"]  # the newest run only; started first
    load, dbt, count = stages
    assert load == Stage("load", 3.5, Counter(success=1), {"learners": 1200, "late": 7})
    assert dbt.tasks == 2 and dbt.seconds == 16.0 and dbt.result is None  # first start to last end
    assert count.seconds == 0.0 and count.states == Counter(upstream_failed=1)
    assert latest_run_stages(tmp_path / "airflow.db", "no_such_dag") == []


def test_stage_lines_say_task_seconds_and_counts() -> None:
    line = format_stage(Stage("ingest_events", 12.345, Counter(success=1), {"loaded": 489_000, "late": 7}))
    assert line.split() == ["ingest_events", "12.3s", "loaded=489,000", "late=7"]
    group = format_stage(Stage("dbt", 61.0, Counter(success=38, failed=1)))
    assert group.split(maxsplit=3) == ["dbt", "(39", "tasks)", "61.0s  1 FAILED, 38 SUCCESS"]
    assert format_stage(Stage("gate", 0.2, Counter(failed=1), "run-1")).split() == [
        "gate",
        "0.2s",
        "FAILED",
        "run-1",
    ]


@pytest.mark.parametrize(
    ("result", "shown"),
    [
        ({"auc": 0.81234, "ok": True, "doc": "x" * 200, "nested": {"a": 1}}, "auc=0.8123 ok=true"),
        ("20261205-00040eb1", "20261205-00040eb1"),
        (14, "14"),
        ([1, 2, 3], "3 items"),
        (None, ""),
        ("/a/long/path/" + "x" * 100, ""),
    ],
)
def test_results_are_shown_as_counts_and_short_values(result, shown: str) -> None:
    assert describe_result(result) == shown


@pytest.mark.integration
def test_airflow_output_goes_to_the_file(settings: Settings, tmp_path: Path, capfd) -> None:
    settings.airflow_home.mkdir(parents=True)
    metadata_db(settings).touch()  # `airflow version` needs no schema: skip the migration
    log = tmp_path / "logs" / "airflow.log"
    assert run_airflow(settings, ["version"], output=log) == 0
    assert capfd.readouterr().out == ""
    assert log.read_text().strip().startswith("3.")
