"""Version switching: publish a validated version, roll back one, keep the last K.

Apps read ``recs.current_*`` views, which follow the one-row ``recs.current_version``. Publishing
is one warehouse transaction: the pointer moves, the registry is updated and every newly served
recommendation is written to the Recommendation Log (``raw.served_recommendations``, the
product's contract) under its ``log_id``, so readers see either the old version or the new one
with its log, never a mix. ``served_at`` is the moment the version became current (precomputed
recommendations are served from then on); apps report impressions and outcomes with the same
``log_id`` through ingestion.

What a rerun logs: the log key is ``<run_date>:<learner_id>:<course_id>``
(``precompute.log_ids``), so every version of one run date (a rerun, a retried task, a backfill)
shares the keys of the courses it serves again. Each key is logged once, by the first
publication that served it, with that publication's ``served_at``, rank and model version; a
rerun logs only the courses it newly serves to a learner that day. Outcomes therefore count each
recommendation of a day once however often the day was published.

Only an operator moves the pointer backwards: a version rolled back, or one whose run date is
older than the current one's (a backfill, a retried task of an earlier night), is published only
with ``force``; without it a rolled-back version is refused and an older one stays ``validated``
(non-current), so a retry cannot undo a rollback and a backfill cannot replace a newer night.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from exports.recommendations import tables
from learnrec.warehouse import Warehouse


class PublicationError(RuntimeError):
    """A version cannot be published or rolled back to (it failed the gate, is gone, ...)."""


@dataclass(frozen=True)
class Switch:
    run_id: str
    previous_run_id: str | None
    logged: int
    expired: tuple[str, ...]
    held_back_by: str | None = None  # the newer current version that kept an older one from serving


def _status(warehouse: Warehouse, run_id: str) -> str | None:
    return warehouse.scalar(f"SELECT status FROM {tables.RUNS} WHERE run_id = ?", [run_id])


def _log_key_range(warehouse: Warehouse, run_id: str) -> tuple[str, str]:
    """The log keys a version of ``run_id``'s date can have (``<date>:...``): a range the log's
    row-group statistics prune by, so the anti-join reads that date's rows, not the history."""
    day = warehouse.scalar(f"SELECT run_date FROM {tables.RUNS} WHERE run_id = ?", [run_id])
    return f"{day.isoformat()}:", f"{day.isoformat()};"


def _switch(warehouse: Warehouse, run_id: str, now: datetime) -> str | None:
    previous = tables.current_run_id(warehouse)
    warehouse.execute(f"DELETE FROM {tables.CURRENT}")
    warehouse.execute(
        f"INSERT INTO {tables.CURRENT} (run_id, switched_at, previous_run_id) VALUES (?, ?, ?)",
        [run_id, now, previous],
    )
    return previous


def _newer_current(warehouse: Warehouse, run_id: str) -> str | None:
    """The current version if it is newer than ``run_id`` (later run date, or the same run date
    precomputed later)."""
    return warehouse.scalar(
        f"""SELECT c.run_id FROM {tables.CURRENT} c JOIN {tables.RUNS} cur ON cur.run_id = c.run_id
        JOIN {tables.RUNS} r ON r.run_id = ?
        WHERE cur.run_date > r.run_date OR (cur.run_date = r.run_date AND cur.created_at > r.created_at)""",
        [run_id],
    )


def publish(
    warehouse: Warehouse,
    run_id: str,
    *,
    keep_versions: int,
    now: datetime | None = None,
    force: bool = False,
) -> Switch:
    """Make ``run_id`` current (it must have passed the gate) and log what it serves; an older or
    rolled-back version only with ``force`` (see the module docstring)."""
    now = now or datetime.now(UTC)
    tables.ensure_tables(warehouse)
    status = _status(warehouse, run_id)
    if status == "published" and tables.current_run_id(warehouse) == run_id:
        return Switch(run_id, None, 0, ())  # a retried task: already done
    if status not in ("validated", "superseded", "rolled_back"):
        raise PublicationError(
            f"version {run_id!r} is {status or 'unknown'}; only a validated version is published"
        )
    if status == "rolled_back" and not force:
        raise PublicationError(
            f"version {run_id!r} was rolled back by an operator; only an explicit publish (force) serves it again"
        )
    newer = None if force else _newer_current(warehouse, run_id)
    if newer is not None:
        return Switch(run_id, None, 0, (), held_back_by=newer)
    with warehouse.transaction():
        previous = _switch(warehouse, run_id, now)
        warehouse.execute(
            f"UPDATE {tables.RUNS} SET status = 'superseded' WHERE run_id = ? AND run_id <> ?",
            [previous, run_id],
        )
        warehouse.execute(
            f"UPDATE {tables.RUNS} SET status = 'published', published_at = ? WHERE run_id = ?", [now, run_id]
        )
        before = warehouse.scalar(f"SELECT count(*) FROM {tables.SERVED_LOG}")
        warehouse.execute(
            f"""INSERT INTO {tables.SERVED_LOG}
            (log_id, learner_id, course_id, model_version, signals_used, rank_at_serve, served_at,
             outcome, outcome_recorded_at, received_at, is_control)
            SELECT r.log_id, r.learner_id, r.course_id, r.model_version, r.signals_used, r.rank, ?,
                   NULL, NULL, ?, r.is_control
            FROM {tables.RECOMMENDATIONS} r
            WHERE r.run_id = ?
              AND NOT EXISTS (SELECT 1 FROM {tables.SERVED_LOG} s
                              WHERE s.log_id = r.log_id AND s.log_id >= ? AND s.log_id < ?)""",
            [now, now, run_id, *_log_key_range(warehouse, run_id)],
        )
        logged = warehouse.scalar(f"SELECT count(*) FROM {tables.SERVED_LOG}") - before
    expired = expire_versions(warehouse, keep_versions)
    return Switch(run_id, previous, int(logged), expired)


def rollback(warehouse: Warehouse, *, now: datetime | None = None) -> Switch:
    """Go back one version: the most recent superseded version whose rows are still kept."""
    now = now or datetime.now(UTC)
    tables.ensure_tables(warehouse)
    current = tables.current_run_id(warehouse)
    if current is None:
        raise PublicationError("nothing is published, nothing to roll back")
    target = warehouse.scalar(
        f"SELECT run_id FROM {tables.RUNS} WHERE status = 'superseded' AND published_at IS NOT NULL "
        f"AND published_at <= (SELECT published_at FROM {tables.RUNS} WHERE run_id = ?) "
        "ORDER BY published_at DESC LIMIT 1",
        [current],
    )
    if target is None:
        raise PublicationError(f"no earlier version kept to roll back to from {current}")
    with warehouse.transaction():
        _switch(warehouse, target, now)
        warehouse.execute(f"UPDATE {tables.RUNS} SET status = 'rolled_back' WHERE run_id = ?", [current])
        warehouse.execute(f"UPDATE {tables.RUNS} SET status = 'published' WHERE run_id = ?", [target])
    return Switch(target, current, 0, ())


def expire_versions(warehouse: Warehouse, keep_versions: int) -> tuple[str, ...]:
    """Delete the rows of every version older than the newest ``keep_versions`` published ones
    (never the current one). Only published versions count: failed or crashed nights in between
    are kept alongside, so they cannot push the version that served before them (the rollback
    target) out. The registry row stays, with status ``expired``."""
    current = tables.current_run_id(warehouse)
    runs = warehouse.query(
        f"SELECT run_id, published_at IS NOT NULL AS served FROM {tables.RUNS} WHERE status <> 'expired' "
        "ORDER BY created_at DESC, run_id DESC"
    ).to_pylist()
    doomed: list[str] = []
    served = 0
    for run in runs:
        if served >= keep_versions and run["run_id"] != current:
            doomed.append(run["run_id"])
        served += bool(run["served"])
    if not doomed:
        return ()
    marks = ", ".join("?" * len(doomed))
    with warehouse.transaction():
        for table in (tables.RECOMMENDATIONS, tables.LEARNING_PATHS, tables.CAREER_PATHS):
            if warehouse.table_exists(table):
                warehouse.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", doomed)
        warehouse.execute(f"UPDATE {tables.RUNS} SET status = 'expired' WHERE run_id IN ({marks})", doomed)
    return tuple(doomed)
