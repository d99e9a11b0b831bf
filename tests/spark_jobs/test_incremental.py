"""Incremental runs equal a recomputation from the whole history, late events included.

Lake A is fed day by day: a first run bootstraps from 40 days of history, the next run sees one
new day plus late files for a day inside the window and for a day long before it (marked in
raw.reprocess_dates, as ingest does), and the last run date has no events at all. Lake B gets
the same events in one go and computes the last date from scratch. Both must agree.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from learnrec.warehouse import connect_warehouse
from spark_jobs.features import run_features
from tests.spark_jobs.conftest import COURSE_ROWS, RUN_DATE, Ev, at, fresh_settings, write_events

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("spark")]

LAST = RUN_DATE  # no events on this day
FIRST_RUN = LAST - timedelta(days=2)
LATE_IN_WINDOW = LAST - timedelta(days=4)
LATE_OLD = LAST - timedelta(days=40)
START = LAST - timedelta(days=45)
TYPES = ["click", "watch", "skip", "complete", "search", "quiz_score"]


def history(seed: int = 5) -> dict[date, list[Ev]]:
    rng = np.random.default_rng(seed)
    by_day: dict[date, list[Ev]] = {}
    day = START
    while day < LAST:
        for learner in ("L1", "L2", "L3", "L4", "L5", "L6"):
            if rng.random() < 0.5:
                continue
            hour = int(rng.integers(6, 22))
            for k in range(int(rng.integers(1, 7))):
                kind = TYPES[int(rng.integers(0, len(TYPES)))]
                course = list(COURSE_ROWS)[int(rng.integers(0, 3))]
                minute = int(rng.integers(0, 60)) if k else 0
                by_day.setdefault(day, []).append(
                    Ev(
                        learner,
                        kind,
                        course,
                        at(day, hour, minute) + timedelta(hours=int(k > 3) * 2),
                        watch=int(rng.integers(30, 1800)) if kind == "watch" else None,
                        quiz=float(rng.integers(0, 101)) if kind == "quiz_score" else None,
                    )
                )
        day += timedelta(days=1)
    # something that must show: a late completion with a top quiz long ago, and late activity
    by_day.setdefault(LATE_OLD, []).extend(
        [
            Ev("L6", "complete", "C2", at(LATE_OLD, 23, 0)),
            Ev("L6", "quiz_score", "C2", at(LATE_OLD, 23, 5), quiz=100.0),
        ]
    )
    by_day.setdefault(LATE_IN_WINDOW, []).extend(
        [
            Ev("L1", "watch", "C1", at(LATE_IN_WINDOW, 23, 30), watch=900),
            Ev("L1", "skip", "C3", at(LATE_IN_WINDOW, 23, 40)),
        ]
    )
    return by_day


def late_part(by_day: dict[date, list[Ev]], day: date) -> list[Ev]:
    """The events of ``day`` that arrive late: its last hour."""
    return [e for e in by_day[day] if e.event_at.hour == max(x.event_at.hour for x in by_day[day])]


def output(settings, table: str, day: date) -> pd.DataFrame:
    frame = pq.read_table(f"{settings.lake_root}/features/{table}/run_date={day.isoformat()}").to_pandas()
    key = "learner_id" if table == "learner_features" else "course_id"
    return frame.sort_values(key).reset_index(drop=True)


def assert_same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if column == "skill_vector":
            np.testing.assert_allclose(np.vstack(a), np.vstack(b), rtol=1e-9, atol=1e-12)
        elif pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(
                a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=column
            )
        else:
            assert a.tolist() == b.tolist(), column


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    by_day = history()
    late = {LATE_IN_WINDOW: late_part(by_day, LATE_IN_WINDOW), LATE_OLD: late_part(by_day, LATE_OLD)}
    incremental = fresh_settings(tmp_path_factory, "incremental")
    first_days = set()
    for day, events in by_day.items():
        on_time = [e for e in events if e not in late.get(day, [])]
        if day <= FIRST_RUN and on_time:
            write_events(incremental.lake_root, on_time, f"day-{day.isoformat()}")
            first_days.add(day)
    reports = {"first": run_features(incremental, FIRST_RUN, spark=spark)}
    before_late = output(incremental, "learner_features", FIRST_RUN)

    next_day = FIRST_RUN + timedelta(days=1)
    write_events(incremental.lake_root, by_day[next_day], f"day-{next_day.isoformat()}")
    for day, events in late.items():
        write_events(incremental.lake_root, events, f"late-{day.isoformat()}")
    with connect_warehouse(incremental) as warehouse:  # ingest marks days closed before
        warehouse.load_arrow(
            "raw.reprocess_dates",
            pa.table({"event_date": [LATE_OLD], "batch_id": ["late"], "marked_at": [at(LAST, 1)]}),
        )
    reports["late"] = run_features(incremental, next_day, spark=spark)
    reports["empty"] = run_features(incremental, LAST, spark=spark)

    full = fresh_settings(tmp_path_factory, "full")
    write_events(full.lake_root, [e for events in by_day.values() for e in events], "everything")
    reports["full"] = run_features(full, LAST, spark=spark)
    return incremental, full, reports | {"first_days": first_days}, before_late


def test_incremental_equals_full_recomputation(runs) -> None:
    incremental, full, _, _ = runs
    for table in ("learner_features", "course_features"):
        assert_same(output(incremental, table, LAST), output(full, table, LAST))


def test_runs_read_only_new_files(runs) -> None:
    _, _, reports, _ = runs
    assert set(reports["first"].folded_days) == reports["first_days"]  # bootstrap: every day once
    # the new day, plus the late files of a window day (found by listing the window) and of an
    # old day (found through raw.reprocess_dates); only the window day's rollups are rebuilt
    assert set(reports["late"].folded_days) == {FIRST_RUN + timedelta(days=1), LATE_IN_WINDOW, LATE_OLD}
    assert set(reports["late"].rebuilt_days) == {FIRST_RUN + timedelta(days=1), LATE_IN_WINDOW}
    assert reports["empty"].new_files == 0 and reports["empty"].rebuilt_days == ()


def test_late_events_are_folded_in(runs) -> None:
    incremental, _, _, before_late = runs
    after = output(incremental, "learner_features", LAST).set_index("learner_id")
    before = before_late.set_index("learner_id")
    # L6's late completion of C2 (skill S03, index 2) with a perfect quiz raised that skill
    assert after.loc["L6", "skill_vector"][2] > before.loc["L6", "skill_vector"][2]


def test_empty_day_keeps_every_learner(runs) -> None:
    incremental, _, reports, _ = runs
    empty = output(incremental, "learner_features", LAST)
    assert reports["empty"].active_learners == 0
    assert len(empty) == reports["empty"].learners == 6
    assert (empty["feature_date"] == LAST).all()
    with connect_warehouse(incremental) as warehouse:
        dates = warehouse.query(
            "SELECT feature_date, count(*) AS n FROM features.learner_features GROUP BY 1 ORDER BY 1"
        ).to_pylist()
    assert [r["n"] for r in dates] == [6, 6, 6]
