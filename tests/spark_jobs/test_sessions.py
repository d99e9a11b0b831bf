"""Session counts of the daily learner rollup against a plain reference on random event streams.

The rollup counts sessions from 30-minute slices of the clock (``aggregates.session_starts``):
these streams put gaps right at the session gap (equal: same session; a microsecond more: a new
one), sessions across slice borders and across courses, and events of one slice in several
files (``new`` and folded), each compared with sorting a learner's events of a day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from spark_jobs import aggregates

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

GAP = timedelta(seconds=aggregates.SESSION_GAP_SECONDS)
DAY = date(2026, 10, 30)


def random_streams(seed: int, n_learners: int = 40) -> list[tuple[str, str, datetime, bool]]:
    """(learner, course, event_at, new) rows: bursts with gaps drawn around the session gap."""
    rng = np.random.default_rng(seed)
    gaps = [
        timedelta(0),
        timedelta(minutes=3),
        GAP,
        GAP + timedelta(microseconds=1),
        2 * GAP,
        timedelta(hours=3),
    ]
    rows = []
    for learner in range(n_learners):
        t = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(minutes=int(rng.integers(0, 600)))
        for _ in range(int(rng.integers(1, 25))):
            t += gaps[int(rng.integers(0, len(gaps)))] + timedelta(microseconds=int(rng.integers(0, 3)))
            if t.date() != DAY:
                break
            rows.append((f"L{learner}", f"C{int(rng.integers(0, 3))}", t, bool(rng.random() < 0.7)))
    return rows


def reference_sessions(rows: list[tuple[str, str, datetime, bool]]) -> dict[str, int]:
    by_learner: dict[str, list[datetime]] = {}
    for learner, _, at, _ in rows:
        by_learner.setdefault(learner, []).append(at)
    return {
        learner: 1 + sum(b - a > GAP for a, b in zip(sorted(ts), sorted(ts)[1:], strict=False))
        for learner, ts in by_learner.items()
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollup_sessions_match_sorting_each_learners_events(spark, seed: int) -> None:
    from pyspark.sql import functions as F

    rows = random_streams(seed)
    events = spark.createDataFrame(
        [(DAY, learner, "click", course, at, None, None, new) for learner, course, at, new in rows],
        "event_date date, learner_id string, event_type string, course_id string, event_at timestamp, "
        "watch_duration_seconds int, quiz_score double, new boolean",
    )
    catalog = spark.createDataFrame([(f"C{k}", "video") for k in range(3)], "course_id string, format string")
    blocks = aggregates.blocks(events)
    learner, _ = aggregates.daily_rollups(aggregates.pairs(blocks, catalog), blocks)
    counted = {r.learner_id: r.sessions for r in learner.select("learner_id", "sessions").collect()}
    assert counted == reference_sessions(rows)
    assert learner.schema["sessions"].dataType.simpleString() == "int"
    assert learner.where(F.col("n_events") <= 0).count() == 0
