"""One writer per stage: the lock table on DuckDB and on Snowflake (fakesnow), and every stage
that writes shared state (ingest, delivery, publish, rollback, export) refusing a second run."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from learnrec.settings import Settings
from learnrec.warehouse import Warehouse, connect_warehouse
from learnrec.warehouse.duckdb import DuckDBWarehouse
from learnrec.warehouse.locks import LOCKS, StageLocked, stage_lock

HOLDER = r"another ingest run holds the lock since \S+ \(pid \d+ on \S+\)"


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return settings.model_copy(update={"stage_lock_timeout_seconds": 0.3})


@pytest.fixture(params=["duckdb", pytest.param("snowflake", marks=pytest.mark.integration)])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Warehouse]]:
    """Opens another connection to one warehouse each call: two runs, two connections."""
    opened: list[Warehouse] = []
    if request.param == "duckdb":

        def open_one() -> Warehouse:
            opened.append(DuckDBWarehouse(tmp_path / "locks.duckdb"))
            return opened[-1]
    else:
        from learnrec.warehouse.snowflake import SnowflakeWarehouse

        server: dict[str, Any] = request.getfixturevalue("fakesnow_server")
        database = request.getfixturevalue("snowflake_database")

        def open_one() -> Warehouse:
            opened.append(SnowflakeWarehouse(database=database, **server))
            return opened[-1]

    yield open_one
    for warehouse in opened:
        warehouse.close()


def test_a_second_run_waits_then_fails_naming_the_holder(connect, quick) -> None:
    first, second = connect(), connect()
    with stage_lock(first, "ingest", quick) as held:
        with pytest.raises(StageLocked, match=HOLDER) as info, stage_lock(second, "ingest", quick):
            pytest.fail("two ingest runs at once")
        assert f"pid {held.pid}" in str(info.value) and "waited 0." in str(info.value)
        with stage_lock(second, "delivery", quick):  # other stages are not held up
            pass
    with stage_lock(second, "ingest", quick):  # released at the end of the block
        pass


def test_a_waiting_run_takes_the_lock_once_it_is_released(connect, quick) -> None:
    first, second = connect(), connect()
    holding = stage_lock(first, "ingest", quick)
    holding.__enter__()
    waits: list[float] = []

    def the_first_run_finishes(seconds: float) -> None:
        waits.append(seconds)
        holding.__exit__(None, None, None)

    with stage_lock(second, "ingest", quick, sleep=the_first_run_finishes):
        assert len(waits) == 1


def test_the_lock_is_released_when_the_run_fails(connect, quick) -> None:
    first = connect()
    with pytest.raises(ZeroDivisionError), stage_lock(first, "ingest", quick):
        raise ZeroDivisionError
    with stage_lock(connect(), "ingest", quick):
        pass


def _plant(warehouse: Warehouse, settings: Settings, pid: int, host: str, at: datetime) -> None:
    """A lock row as a run that died holding it left it."""
    with stage_lock(warehouse, "ingest", settings):
        pass  # creates the table and the stage's row
    warehouse.execute(
        f"UPDATE {LOCKS} SET holder = 'gone', pid = ?, host = ?, acquired_at = ? WHERE stage = 'ingest'",
        [pid, host, at],
    )


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over(connect, quick) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    first = connect()
    _plant(first, quick, int(dead.stdout), socket.gethostname(), datetime.now(UTC))
    with stage_lock(connect(), "ingest", quick) as held:
        assert held.token != "gone"


def test_a_lock_from_another_host_is_stale_only_after_the_stale_limit(connect, quick) -> None:
    first = connect()
    _plant(first, quick, 1, "worker-7", datetime.now(UTC) - timedelta(minutes=30))
    with pytest.raises(StageLocked, match=r"pid 1 on worker-7"), stage_lock(connect(), "ingest", quick):
        pass
    with stage_lock(connect(), "ingest", quick.model_copy(update={"stage_lock_stale_minutes": 20})):
        pass


def _ingest(settings: Settings) -> None:
    from learnrec.ingest import run_ingest

    run_ingest(settings)


def _deliver(settings: Settings) -> None:
    from exports.nudges.pipeline import deliver

    deliver(settings)


def _publish(settings: Settings) -> None:
    from exports.recommendations.steps import publish_step

    publish_step(settings, "20260301-abcdef12")


def _rollback(settings: Settings) -> None:
    from exports.recommendations.steps import rollback_step

    rollback_step(settings)


def _export(settings: Settings) -> None:
    from exports.recommendations.steps import export_step

    export_step(settings)


@pytest.mark.parametrize(
    ("stage", "step"),
    [
        ("ingest", _ingest),
        ("delivery", _deliver),
        ("publish", _publish),
        ("publish", _rollback),
        ("export", _export),
    ],
    ids=["ingest", "delivery", "publish", "rollback", "export"],
)
def test_every_stage_refuses_a_second_writer(quick, stage: str, step: Callable[[Settings], None]) -> None:
    """The CLI beside the DAG's task: the step waits for the run holding its stage, then stops
    with who holds it, before touching any state."""
    locked = pytest.raises(StageLocked, match=f"another {stage} run holds the lock since")
    with connect_warehouse(quick) as other_run, stage_lock(other_run, stage, quick), locked:
        step(quick)
