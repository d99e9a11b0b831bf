"""What a DAG run did, one line per stage, read from the embedded Airflow metadata DB.

``airflow dags test`` prints every task's log (thousands of lines for one night); the demo sends
that to a file and prints these lines instead. A stage is a task, or a task group summed into one
line (cosmos renders one task per dbt model in the group ``dbt``); its key counts are what the task
returned (XComs carry ids and counts, never data). Only the embedded SQLite metadata DB is read:
the demo runs on the embedded defaults only.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

#: Longest text value shown from a task's result (run ids and short paths fit; documents do not).
MAX_TEXT = 48


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float
    states: Counter[str]
    result: Any = None

    @property
    def tasks(self) -> int:
        return sum(self.states.values())


_TASKS = """
SELECT t.task_id, t.state, t.start_date, t.end_date, x.value
FROM task_instance t
LEFT JOIN xcom x ON x.dag_id = t.dag_id AND x.run_id = t.run_id AND x.task_id = t.task_id
    AND x.map_index = t.map_index AND x.key = 'return_value'
WHERE t.dag_id = ? AND t.run_id = ? AND t.state IS NOT NULL
ORDER BY t.start_date IS NULL, t.start_date, t.task_id
"""


def latest_run_stages(metadata_db: Path, dag_id: str) -> list[Stage]:
    """The stages of ``dag_id``'s newest run, in the order they started."""
    with closing(sqlite3.connect(metadata_db)) as db:
        run = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", [dag_id]
        ).fetchone()
        rows = db.execute(_TASKS, [dag_id, run[0]]).fetchall() if run else []
    groups: dict[str, list[tuple]] = {}
    for row in rows:
        groups.setdefault(row[0].split(".")[0], []).append(row)
    return [_stage(name, members) for name, members in groups.items()]


def _stage(name: str, rows: list[tuple]) -> Stage:
    starts = [datetime.fromisoformat(r[2]) for r in rows if r[2]]
    ends = [datetime.fromisoformat(r[3]) for r in rows if r[3]]
    seconds = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    result = _xcom(rows[0][4]) if len(rows) == 1 else None
    return Stage(name, seconds, Counter(r[1] for r in rows), result)


def _xcom(stored: Any) -> Any:
    """A stored XCom value: JSON text, or a bare number (SQLite keeps JSON numbers as numbers)."""
    return json.loads(stored) if isinstance(stored, str) else stored


def _value(value: Any) -> str | None:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    return None


def describe_result(result: Any) -> str:
    """A task's returned counts as ``key=value`` (dicts), or the value itself when short."""
    if isinstance(result, dict):
        shown = ((key, _value(value)) for key, value in result.items())
        return " ".join(f"{key}={text}" for key, text in shown if text is not None)
    if isinstance(result, list):
        return f"{len(result):,} items"
    return _value(result) or ""


def format_stage(stage: Stage) -> str:
    """``  task  seconds  [states when not all succeeded]  counts`` on one line."""
    label = stage.name if stage.tasks == 1 else f"{stage.name} ({stage.tasks} tasks)"
    states = (
        ""
        if set(stage.states) == {"success"}
        else ", ".join(
            state if stage.tasks == 1 else f"{n} {state}" for state, n in sorted(stage.states.items())
        )
    )
    details = "  ".join(part for part in (states.upper(), describe_result(stage.result)) if part)
    return f"  {label:<32} {stage.seconds:>7.1f}s  {details}".rstrip()
