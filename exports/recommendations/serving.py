"""Serving export: the current version into the stores apps read, each swapped atomically.

* warehouse tables ``recs.serving_recommendations`` and ``recs.serving_learning_paths``
  (Snowflake in production), one ``CREATE OR REPLACE TABLE ... AS SELECT`` each: atomic on DuckDB
  and Snowflake;
* embedded default: a SQLite file (``settings.serving_path``) keyed by (learner_id, rank), built
  beside the live file and moved over it with ``os.replace`` (atomic rename): an app holding the
  old file keeps reading it, new connections see the new one;
* production: Postgres (psycopg): the new version is COPYed into a fresh table and swapped in by
  two renames inside one transaction.

Learning paths go along, exactly one per learner (``tables.SERVED_PATH``): the LLM path where
the agent wrote one, else the static one. The SQLite store also carries what the read API needs
beside them, of the same moment: the catalogue's metadata (``courses``) and each course's nearest
courses in the content index (``similar_courses``, :func:`ml.similar.nearest_courses`).

Retention: a version keeps serving for as long as no newer one passes the gate, which can outlast
a learner's ``retention_expiry``. So every export leaves out learners already expired at its
moment, and the SQLite store carries each served learner's expiry (``retention``) for its
readers to filter at read time (:data:`RETAINED`, :func:`lookup_sqlite`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from exports.recommendations import tables
from learnrec.tables import CURRENT_LEARNING_PATHS, CURRENT_RECOMMENDATIONS, DIM_COURSES, DIM_LEARNERS
from learnrec.warehouse import Warehouse
from ml.embeddings import VectorIndex
from ml.similar import nearest_courses

SERVING_TABLE = "recs.serving_recommendations"
SERVING_PATHS_TABLE = "recs.serving_learning_paths"
#: Learners per export batch: bounds the memory of the export whatever the learner count.
BATCH_LEARNERS = 50_000


def _not_expired(alias: str) -> str:
    """Leaves out rows of a learner whose retention ended by the export's moment (the last ``?``)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM {DIM_LEARNERS} d WHERE d.learner_id = {alias}.learner_id"
        " AND d.retention_expiry <= ?)"
    )


_RECS_SQL = f"""
    SELECT r.learner_id, r.rank, r.course_id, c.title, r.score, r.reason, r.model_version,
           r.signals_used, r.fallback, r.log_id, r.run_id
    FROM {tables.RECOMMENDATIONS} r LEFT JOIN {DIM_COURSES} c ON c.course_id = r.course_id
    WHERE r.run_id = ? AND r.learner_id BETWEEN ? AND ? AND {_not_expired("r")}
    ORDER BY r.learner_id, r.rank"""
_PATHS_SQL = f"""
    SELECT p.learner_id, p.step, p.course_id, c.title, p.reason, p.source
    FROM {tables.LEARNING_PATHS} p LEFT JOIN {DIM_COURSES} c ON c.course_id = p.course_id
    WHERE p.run_id = ? AND p.learner_id BETWEEN ? AND ? AND {tables.SERVED_PATH} AND {_not_expired("p")}
    ORDER BY p.learner_id, p.step"""
_RETENTION_SQL = f"""
    SELECT r.learner_id, d.retention_expiry
    FROM (SELECT DISTINCT learner_id FROM {tables.RECOMMENDATIONS}
          WHERE run_id = ? AND learner_id BETWEEN ? AND ?) r
    JOIN {DIM_LEARNERS} d ON d.learner_id = r.learner_id
    WHERE d.retention_expiry > ?"""
#: A reader's filter on the SQLite store: true for a learner (first ``?``) still retained at the
#: moment of the read (second ``?``, :func:`sqlite_instant`).
RETAINED = "NOT EXISTS (SELECT 1 FROM retention WHERE learner_id = ? AND expires_at <= ?)"

REC_COLUMNS = (
    "learner_id",
    "rank",
    "course_id",
    "title",
    "score",
    "reason",
    "model_version",
    "signals_used",
    "fallback",
    "log_id",
    "run_id",
)
PATH_COLUMNS = ("learner_id", "step", "course_id", "title", "reason", "source")
COURSE_COLUMNS = (
    "course_id",
    "title",
    "domain",
    "format",
    "difficulty_score",
    "duration_hours",
    "quality_score",
    "skill_tags",
    "prerequisites",
)
#: Neighbours kept per course in the store.
SIMILAR_K = 20


@dataclass(frozen=True)
class ExportReport:
    run_id: str
    store: str
    target: str
    recommendations: int
    path_steps: int


def _learner_ranges(warehouse: Warehouse, run_id: str) -> Iterator[tuple[str, str]]:
    learners = (
        warehouse.query(
            f"SELECT DISTINCT learner_id FROM {tables.RECOMMENDATIONS} WHERE run_id = ? ORDER BY learner_id",
            [run_id],
        )
        .column("learner_id")
        .to_pylist()
    )
    for lo in range(0, len(learners), BATCH_LEARNERS):
        part = learners[lo : lo + BATCH_LEARNERS]
        yield part[0], part[-1]


def _batches(warehouse: Warehouse, run_id: str, sql: str, now: datetime) -> Iterator[pa.Table]:
    for first, last in _learner_ranges(warehouse, run_id):
        yield warehouse.query(sql, [run_id, first, last, now])


def sqlite_instant(moment: datetime) -> str:
    """The SQLite store's instants: ISO-8601 in UTC, microseconds, so that text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _rec_rows(batch: pa.Table) -> list[tuple]:
    rows = batch.to_pylist()
    return [tuple(json.dumps(r[c]) if c == "signals_used" else r[c] for c in REC_COLUMNS) for r in rows]


def export_warehouse_table(warehouse: Warehouse, *, now: datetime | None = None) -> int:
    """``recs.serving_recommendations`` and ``recs.serving_learning_paths`` (one path per learner)
    = the current version less the learners expired by ``now``, each replaced in one statement."""
    for table, view in (
        (SERVING_TABLE, CURRENT_RECOMMENDATIONS),
        (SERVING_PATHS_TABLE, CURRENT_LEARNING_PATHS),
    ):
        warehouse.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT r.*, c.title FROM {view} r "
            f"LEFT JOIN {DIM_COURSES} c ON c.course_id = r.course_id WHERE {_not_expired('r')}",
            [now or datetime.now(UTC)],
        )
    return int(warehouse.scalar(f"SELECT count(*) FROM {SERVING_TABLE}"))


def _course_rows(warehouse: Warehouse, index: VectorIndex | None) -> tuple[list[tuple], list[tuple]]:
    """The catalogue's rows and, with an index, every course's nearest courses."""
    courses = warehouse.query(
        f"SELECT {', '.join(COURSE_COLUMNS)} FROM {DIM_COURSES} ORDER BY course_id"
    ).to_pylist()
    rows = [
        tuple(json.dumps(r[c]) if c in ("skill_tags", "prerequisites") else r[c] for c in COURSE_COLUMNS)
        for r in courses
    ]
    if index is None:
        return rows, []
    ids = [r["course_id"] for r in courses]
    return rows, list(nearest_courses(ids, index.vectors(ids), SIMILAR_K))


def export_sqlite(
    warehouse: Warehouse,
    run_id: str,
    path: Path,
    index: VectorIndex | None = None,
    *,
    now: datetime | None = None,
) -> ExportReport:
    """Build the store beside the live file, then rename it over; a failed build removes its
    staged file (named per version, a later version's export would never overwrite it)."""
    now = now or datetime.now(UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{run_id}.tmp")
    staged.unlink(missing_ok=True)
    con = sqlite3.connect(staged)
    try:
        con.executescript(
            """
            CREATE TABLE recommendations (
                learner_id TEXT NOT NULL, rank INTEGER NOT NULL, course_id TEXT NOT NULL, title TEXT,
                score REAL NOT NULL, reason TEXT NOT NULL, model_version TEXT NOT NULL,
                signals_used TEXT NOT NULL, fallback TEXT, log_id TEXT NOT NULL, run_id TEXT NOT NULL,
                PRIMARY KEY (learner_id, rank)) WITHOUT ROWID;
            CREATE TABLE learning_paths (
                learner_id TEXT NOT NULL, step INTEGER NOT NULL, course_id TEXT NOT NULL, title TEXT,
                reason TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (learner_id, step)) WITHOUT ROWID;
            CREATE TABLE retention (learner_id TEXT PRIMARY KEY, expires_at TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE courses (
                course_id TEXT PRIMARY KEY, title TEXT, domain TEXT, format TEXT, difficulty_score REAL,
                duration_hours REAL, quality_score REAL, skill_tags TEXT, prerequisites TEXT) WITHOUT ROWID;
            CREATE TABLE similar_courses (
                course_id TEXT NOT NULL, rank INTEGER NOT NULL, similar_course_id TEXT NOT NULL,
                score REAL NOT NULL, PRIMARY KEY (course_id, rank)) WITHOUT ROWID;
            CREATE TABLE version (run_id TEXT NOT NULL);
            """
        )
        courses, similar = _course_rows(warehouse, index)
        con.executemany(f"INSERT INTO courses VALUES ({', '.join('?' * len(COURSE_COLUMNS))})", courses)
        con.executemany("INSERT INTO similar_courses VALUES (?, ?, ?, ?)", similar)
        n_recs = n_steps = 0
        for batch in _batches(warehouse, run_id, _RECS_SQL, now):
            rows = _rec_rows(batch)
            con.executemany(f"INSERT INTO recommendations VALUES ({', '.join('?' * len(REC_COLUMNS))})", rows)
            n_recs += len(rows)
        for batch in _batches(warehouse, run_id, _PATHS_SQL, now):
            rows = [tuple(r[c] for c in PATH_COLUMNS) for r in batch.to_pylist()]
            con.executemany(f"INSERT INTO learning_paths VALUES ({', '.join('?' * len(PATH_COLUMNS))})", rows)
            n_steps += len(rows)
        for batch in _batches(warehouse, run_id, _RETENTION_SQL, now):
            con.executemany(
                "INSERT INTO retention VALUES (?, ?)",
                [(r["learner_id"], sqlite_instant(r["retention_expiry"])) for r in batch.to_pylist()],
            )
        con.execute("INSERT INTO version VALUES (?)", [run_id])
        con.commit()
    except BaseException:
        con.close()
        staged.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(staged, path)
    return ExportReport(run_id, "sqlite", str(path), n_recs, n_steps)


def export_postgres(
    warehouse: Warehouse, run_id: str, dsn: str, *, now: datetime | None = None
) -> ExportReport:
    import psycopg

    now = now or datetime.now(UTC)
    suffix = re.sub(r"[^a-z0-9]", "_", run_id.lower())
    with psycopg.connect(dsn) as con:
        with con.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS recommendations_next_{suffix}, learning_paths_next_{suffix}")
            cur.execute(
                f"""CREATE TABLE recommendations_next_{suffix} (
                    learner_id TEXT NOT NULL, rank INTEGER NOT NULL, course_id TEXT NOT NULL, title TEXT,
                    score DOUBLE PRECISION NOT NULL, reason TEXT NOT NULL, model_version TEXT NOT NULL,
                    signals_used JSONB NOT NULL, fallback TEXT, log_id TEXT NOT NULL, run_id TEXT NOT NULL,
                    CONSTRAINT recommendations_pk_{suffix} PRIMARY KEY (learner_id, rank))"""
            )
            cur.execute(
                f"""CREATE TABLE learning_paths_next_{suffix} (
                    learner_id TEXT NOT NULL, step INTEGER NOT NULL, course_id TEXT NOT NULL, title TEXT,
                    reason TEXT NOT NULL, source TEXT NOT NULL,
                    CONSTRAINT learning_paths_pk_{suffix} PRIMARY KEY (learner_id, step))"""
            )
            n_recs = n_steps = 0
            with cur.copy(
                f"COPY recommendations_next_{suffix} ({', '.join(REC_COLUMNS)}) FROM STDIN"
            ) as copy:
                for batch in _batches(warehouse, run_id, _RECS_SQL, now):
                    for row in _rec_rows(batch):
                        copy.write_row(row)
                        n_recs += 1
            with cur.copy(
                f"COPY learning_paths_next_{suffix} ({', '.join(PATH_COLUMNS)}) FROM STDIN"
            ) as copy:
                for batch in _batches(warehouse, run_id, _PATHS_SQL, now):
                    for r in batch.to_pylist():
                        copy.write_row(tuple(r[c] for c in PATH_COLUMNS))
                        n_steps += 1
        con.commit()
        with con.transaction(), con.cursor() as cur:  # the swap: readers see old or new, never neither
            for name in ("recommendations", "learning_paths"):
                cur.execute(f"DROP TABLE IF EXISTS {name}_previous")
                cur.execute(f"ALTER TABLE IF EXISTS {name} RENAME TO {name}_previous")
                cur.execute(f"ALTER TABLE {name}_next_{suffix} RENAME TO {name}")
                cur.execute(f"DROP TABLE IF EXISTS {name}_previous")
                # the key's index is a schema-wide name: left per version, re-exporting the live
                # version (a retried task, a rollback's re-export) could not create its next table
                cur.execute(f"ALTER TABLE {name} RENAME CONSTRAINT {name}_pk_{suffix} TO {name}_pk")
    return ExportReport(run_id, "postgres", "recommendations", n_recs, n_steps)


def lookup_sqlite(
    path: Path, learner_id: str, *, now: datetime | None = None
) -> tuple[list[dict], list[dict]]:
    """What an app gets for one learner from the embedded store at ``now``: (recommendations,
    path), nothing once their retention has ended."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    params = [learner_id, learner_id, sqlite_instant(now or datetime.now(UTC))]
    try:
        recs = [
            dict(r)
            for r in con.execute(
                f"SELECT * FROM recommendations WHERE learner_id = ? AND {RETAINED} ORDER BY rank", params
            )
        ]
        steps = [
            dict(r)
            for r in con.execute(
                f"SELECT * FROM learning_paths WHERE learner_id = ? AND {RETAINED} ORDER BY step", params
            )
        ]
    finally:
        con.close()
    return recs, steps
