"""One writer at a time per stage: a lock row per stage in ``ops.stage_locks``.

Why in the warehouse: it is the state the stages share, whichever process or host runs them (an
Airflow task beside a CLI call), and it works alike on DuckDB and Snowflake. Taking the lock is
one conditional ``UPDATE`` (``holder IS NULL``), which either backend applies to one writer only;
the holder then reads its own token back. A second run waits up to
``LEARNREC_STAGE_LOCK_TIMEOUT_SECONDS`` and then fails with who holds it and since when. A lock
left by a dead process is taken over: at once if it was held on this host by a pid that no longer
exists, else once it is older than ``LEARNREC_STAGE_LOCK_STALE_MINUTES``.

On DuckDB the file itself also admits one writing process, so the lock matters there between
runs in one process (threads, in-process task runners); on Snowflake between all of them.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from learnrec.settings import Settings
from learnrec.warehouse.base import Warehouse

log = logging.getLogger(__name__)

LOCKS = "ops.stage_locks"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {LOCKS} (stage VARCHAR, holder VARCHAR, pid BIGINT, host VARCHAR,"
    " acquired_at TIMESTAMPTZ)"
)


class StageLocked(RuntimeError):
    """Another run of the stage held its lock for longer than the wait allowed."""


@dataclass(frozen=True)
class Holder:
    token: str
    pid: int
    host: str
    acquired_at: datetime

    def describe(self) -> str:
        return f"since {self.acquired_at.isoformat()} (pid {self.pid} on {self.host})"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _is_stale(holder: Holder, now: datetime, stale_after: timedelta) -> bool:
    if holder.host == socket.gethostname():
        return not _pid_alive(holder.pid)
    return now - holder.acquired_at > stale_after


def _holder(warehouse: Warehouse, stage: str) -> Holder | None:
    rows = warehouse.query(
        f"SELECT holder, pid, host, acquired_at FROM {LOCKS} WHERE stage = ? AND holder IS NOT NULL", [stage]
    ).to_pylist()
    if not rows:
        return None
    row = rows[0]
    at = row["acquired_at"]
    return Holder(row["holder"], int(row["pid"]), row["host"], at.replace(tzinfo=at.tzinfo or UTC))


def _try_take(warehouse: Warehouse, stage: str, me: Holder) -> bool:
    """One attempt; a write conflict with a concurrent attempt (DuckDB) counts as not taken."""
    try:
        warehouse.execute(
            f"UPDATE {LOCKS} SET holder = ?, pid = ?, host = ?, acquired_at = ? WHERE stage = ? AND holder IS NULL",
            [me.token, me.pid, me.host, me.acquired_at, stage],
        )
    except Exception as exc:
        if "conflict" not in str(exc).lower():
            raise
        return False
    found = _holder(warehouse, stage)
    return found is not None and found.token == me.token


def _release(warehouse: Warehouse, stage: str, token: str) -> None:
    warehouse.execute(
        f"UPDATE {LOCKS} SET holder = NULL, pid = NULL, host = NULL, acquired_at = NULL"
        " WHERE stage = ? AND holder = ?",
        [stage, token],
    )


@contextmanager
def stage_lock(
    warehouse: Warehouse,
    stage: str,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Holder]:
    """Hold ``stage``'s lock for the block (call it outside any transaction: each step commits)."""
    warehouse.execute(_DDL)
    warehouse.execute(
        f"INSERT INTO {LOCKS} (stage) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM {LOCKS} WHERE stage = ?)",
        [stage, stage],
    )
    timeout = settings.stage_lock_timeout_seconds
    stale_after = timedelta(minutes=settings.stage_lock_stale_minutes)
    started = time.monotonic()
    while True:
        me = Holder(uuid.uuid4().hex, os.getpid(), socket.gethostname(), clock())
        if _try_take(warehouse, stage, me):
            break
        other = _holder(warehouse, stage)
        if other is not None and _is_stale(other, me.acquired_at, stale_after):
            log.warning("taking over the %s lock held %s: that process is gone", stage, other.describe())
            _release(warehouse, stage, other.token)
            continue
        waited = time.monotonic() - started
        if waited >= timeout:
            held = other.describe() if other else "(released just now)"
            raise StageLocked(
                f"another {stage} run holds the lock {held}; waited {waited:.1f} s"
                " (LEARNREC_STAGE_LOCK_TIMEOUT_SECONDS)"
            )
        sleep(min(1.0, max(timeout - waited, 0.05)))
    try:
        yield me
    finally:
        _release(warehouse, stage, me.token)
