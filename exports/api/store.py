"""Reads of the serving store: the published version only, one version per request.

The embedded store is the SQLite file the serving export swaps in by rename
(``exports.recommendations.serving.export_sqlite``). A :class:`StoreView` holds one read-only
connection, i.e. one file: whatever a request reads through it (recommendations, the version id
for the ETag, the path) comes from the same version even if the export swaps a new file in
meanwhile. Each thread keeps its connection while the path names the same file (inode and
modification time, one ``stat`` per request) and opens the new file once it is swapped in.
A learner whose retention ends while the version is still live is not served from that moment
(the store's ``retention`` table, :data:`~exports.recommendations.serving.RETAINED`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exports.recommendations.serving import RETAINED, sqlite_instant


class StoreUnavailable(RuntimeError):
    """No published version can be read (not exported yet, or the file is unreadable)."""


_COURSE_JSON = ("skill_tags", "prerequisites")


def _course(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for name in _COURSE_JSON:
        if out.get(name) is not None:
            out[name] = json.loads(out[name])
    return out


@dataclass(frozen=True)
class StoreView:
    con: sqlite3.Connection
    run_id: str
    #: the moment of the request, in the store's instant format: retention is judged at it
    now: str

    def recommendations(
        self,
        learner_id: str,
        n: int,
        offset: int,
        domain: str | None = None,
        course_format: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the learner's recommendations in rank order (filtered by the course's skill
        domain and format) and how many match in all."""
        where = f"r.learner_id = ? AND {RETAINED}"
        params: list[Any] = [learner_id, learner_id, self.now]
        for column, value in (("c.domain", domain), ("c.format", course_format)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        base = f"FROM recommendations r LEFT JOIN courses c ON c.course_id = r.course_id WHERE {where}"
        total = self.con.execute(f"SELECT count(*) {base}", params).fetchone()[0]
        rows = self.con.execute(
            "SELECT r.rank, r.course_id, r.title, r.score, r.reason, r.model_version, r.signals_used, "
            f"r.fallback, r.log_id, c.domain, c.format {base} ORDER BY r.rank LIMIT ? OFFSET ?",
            [*params, n, offset],
        ).fetchall()
        return [{**dict(r), "signals_used": json.loads(r["signals_used"])} for r in rows], total

    def first_learner(self) -> str:
        """A learner with recommendations (the demo's)."""
        return self.con.execute("SELECT min(learner_id) FROM recommendations").fetchone()[0]

    def has_learner(self, learner_id: str) -> bool:
        return (
            self.con.execute(
                f"SELECT 1 FROM recommendations WHERE learner_id = ? AND {RETAINED} LIMIT 1",
                [learner_id, learner_id, self.now],
            ).fetchone()
            is not None
        )

    def learning_path(self, learner_id: str) -> list[dict[str, Any]]:
        rows = self.con.execute(
            "SELECT step, course_id, title, reason, source FROM learning_paths "
            f"WHERE learner_id = ? AND {RETAINED} ORDER BY step",
            [learner_id, learner_id, self.now],
        )
        return [dict(r) for r in rows]

    def course(self, course_id: str) -> dict[str, Any] | None:
        row = self.con.execute("SELECT * FROM courses WHERE course_id = ?", [course_id]).fetchone()
        return _course(row) if row else None

    def similar_courses(self, course_id: str, n: int) -> list[dict[str, Any]]:
        rows = self.con.execute(
            "SELECT s.rank, s.score, c.* FROM similar_courses s JOIN courses c ON c.course_id = s.similar_course_id "
            "WHERE s.course_id = ? ORDER BY s.rank LIMIT ?",
            [course_id, n],
        )
        return [_course(r) for r in rows]

    def served(self, log_id: str) -> dict[str, Any] | None:
        """The served recommendation a ``log_id`` names, in this version."""
        row = self.con.execute(
            "SELECT learner_id, course_id, rank, model_version, signals_used FROM recommendations r "
            "WHERE log_id = ? AND NOT EXISTS (SELECT 1 FROM retention t WHERE t.learner_id = r.learner_id "
            "AND t.expires_at <= ?)",
            [log_id, self.now],
        ).fetchone()
        return {**dict(row), "signals_used": json.loads(row["signals_used"])} if row else None


class ServingStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()

    def _open(self) -> tuple[sqlite3.Connection, str]:
        try:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            con.row_factory = sqlite3.Row
            return con, con.execute("SELECT run_id FROM version").fetchone()[0]
        except (sqlite3.Error, TypeError) as exc:
            raise StoreUnavailable(f"serving store unreadable: {exc}") from exc

    @contextmanager
    def view(self) -> Iterator[StoreView]:
        """One version of the store for the duration of the block."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise StoreUnavailable(f"no serving store at {self.path}: nothing exported yet") from None
        key = (stat.st_dev, stat.st_ino, stat.st_mtime_ns)
        cached = getattr(self.local, "entry", None)
        if cached is None or cached[0] != key:
            if cached is not None:
                cached[1].close()
            self.local.entry = None
            con, run_id = self._open()
            self.local.entry = cached = (key, con, run_id)
        yield StoreView(cached[1], cached[2], sqlite_instant(datetime.now(UTC)))

    def age_seconds(self) -> float:
        """Seconds since the live version was exported (the file is built, then renamed in)."""
        return time.time() - self.path.stat().st_mtime
