"""The lake bookkeeping behind incremental runs: listings, manifests, pruning (no Spark needed)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from spark_jobs.lake import Lake

DAY = date(2026, 10, 30)


def test_event_files_are_relative_and_skip_temporary_files(tmp_path: Path) -> None:
    day = tmp_path / "events" / "event_date=2026-10-30"
    for name in ("hour=01/b1.parquet", "hour=02/b1.parquet", "hour=02/_tmp.parquet", "hour=02/.b2.parquet"):
        (day / name).parent.mkdir(parents=True, exist_ok=True)
        (day / name).write_bytes(b"x")
    lake = Lake(str(tmp_path))
    assert lake.event_files(DAY) == {"hour=01/b1.parquet", "hour=02/b1.parquet"}
    assert lake.event_files(DAY - timedelta(days=1)) == frozenset()
    assert lake.event_days() == [DAY]


def test_state_manifests_pick_the_newest_snapshot_before_a_date(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert lake.latest_state_before(DAY) is None
    for back in (1, 3):
        lake.record_state(
            DAY - timedelta(days=back), {DAY - timedelta(days=back): frozenset({"hour=00/a.parquet"})}
        )
    lake.record_state(DAY, {})
    assert lake.latest_state_before(DAY) == DAY - timedelta(days=1)
    assert lake.state_files(DAY - timedelta(days=3)) == {DAY - timedelta(days=3): {"hour=00/a.parquet"}}


def test_prune_bounds_storage_by_date(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    for back in range(12):
        day = DAY - timedelta(days=back)
        (tmp_path / lake.state_path("learner", day)).mkdir(parents=True)
        (tmp_path / lake.rollup_path("daily_learner", day)).mkdir(parents=True)
        lake.record_state(day, {})
        lake.record_daily(day, frozenset())
    removed = lake.prune(DAY - timedelta(days=7), DAY - timedelta(days=10), ("learner",), ("daily_learner",))
    assert removed == 4 * 2 + 1 * 2  # 4 older snapshots (+ manifests), 1 older rollup day (+ manifest)
    assert lake.latest_state_before(DAY - timedelta(days=7)) is None
    assert lake.latest_state_before(DAY) == DAY - timedelta(days=1)
    assert not (tmp_path / lake.rollup_path("daily_learner", DAY - timedelta(days=11))).exists()
    assert lake.daily_files(DAY - timedelta(days=10)) == frozenset()
