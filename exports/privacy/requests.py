"""Erasure requests: recorded from the CLI, the landing folder and retention expiry; completed by
the eraser (:mod:`exports.privacy.eraser`).

``ops.erasure_requests`` keeps one row per request under the learner's keyed hash. The learner's
identifiers (id, e-mail, push token) are held only while the request is pending, because the
eraser needs them to find the data; the transaction that completes the request clears them, so a
done request says who (as a hash), when and how many rows each store lost, and nothing more.
``ops.erasure_steps`` records each store a request was erased from, which makes a run that dies
half-way resumable: the next run skips the stores already done.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from learnrec.privacy import learner_hash
from learnrec.settings import Settings
from learnrec.tables import ERASURE_REQUESTS, LEARNERS
from learnrec.warehouse import Warehouse, connect_warehouse

STEPS = "ops.erasure_steps"
#: The counts of the requests a run completes, staged for one update.
COMPLETIONS = "ops.erasure_completions"
#: Where apps and support drop requests: JSON lines ``{"learner_id": ..., "reason": ...}``.
LANDING_FOLDER = "erasure_requests"

_DDL = {
    ERASURE_REQUESTS: """
        request_id VARCHAR NOT NULL PRIMARY KEY,
        learner_hash VARCHAR NOT NULL,
        learner_id VARCHAR,
        email VARCHAR,
        push_token VARCHAR,
        kind VARCHAR NOT NULL,
        reason VARCHAR,
        source VARCHAR NOT NULL,
        received_at TIMESTAMPTZ NOT NULL,
        completed_at TIMESTAMPTZ,
        removed VARCHAR""",
    STEPS: """
        request_id VARCHAR NOT NULL,
        store VARCHAR NOT NULL,
        removed BIGINT NOT NULL,
        completed_at TIMESTAMPTZ NOT NULL""",
    COMPLETIONS: """
        request_id VARCHAR NOT NULL,
        removed VARCHAR NOT NULL""",
}


@dataclass(frozen=True)
class Pending:
    """A request being worked on, with the identifiers the stores are searched for."""

    request_id: str
    learner_id: str
    email: str | None
    push_token: str | None

    def identifiers(self) -> tuple[str, ...]:
        return tuple(v for v in (self.learner_id, self.email, self.push_token) if v)


def ensure_tables(warehouse: Warehouse) -> None:
    """Create the request tables if missing (outside any transaction: Snowflake commits on DDL)."""
    for table, columns in _DDL.items():
        warehouse.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")


def _key(settings: Settings) -> str:
    return settings.privacy_hash_key.get_secret_value()


def record_requests(
    warehouse: Warehouse,
    settings: Settings,
    learner_ids: list[str],
    *,
    kind: str,
    source: str,
    reason: str | None,
    now: datetime,
) -> list[str]:
    """Record a request per learner without one pending (idempotent); returns the new request ids."""
    pending = {
        r["learner_hash"]
        for r in warehouse.query(
            f"SELECT learner_hash FROM {ERASURE_REQUESTS} WHERE completed_at IS NULL"
        ).to_pylist()
    }
    rows, created = [], []
    for learner_id in dict.fromkeys(learner_ids):
        hashed = learner_hash(_key(settings), learner_id)
        if hashed in pending:
            continue
        pending.add(hashed)
        request_id = uuid.uuid4().hex
        created.append(request_id)
        rows.append([request_id, hashed, learner_id, kind, reason, source, now])
    if rows:
        warehouse.execute(
            f"INSERT INTO {ERASURE_REQUESTS} (request_id, learner_hash, learner_id, kind, reason, source, "
            f"received_at) VALUES {', '.join(['(?, ?, ?, ?, ?, ?, ?)'] * len(rows))}",
            [value for row in rows for value in row],
        )
    return created


def record_cli_request(settings: Settings, learner_id: str, reason: str | None) -> list[str]:
    """``learnrec privacy erase``: one request (none if one is pending for the learner)."""
    with connect_warehouse(settings) as warehouse:
        ensure_tables(warehouse)
        return record_requests(
            warehouse, settings, [learner_id], kind="request", source="cli", reason=reason,
            now=datetime.now(UTC),
        )  # fmt: skip


def list_requests(settings: Settings) -> list[dict[str, object]]:
    """Every request as recorded: hash, kind, times, rows removed per store (never identifiers)."""
    with connect_warehouse(settings, read_only=True) as warehouse:
        if not warehouse.table_exists(ERASURE_REQUESTS):
            return []
        return warehouse.query(
            f"SELECT request_id, learner_hash, kind, reason, source, received_at, completed_at, removed "
            f"FROM {ERASURE_REQUESTS} ORDER BY received_at, request_id"
        ).to_pylist()


def land_requests(warehouse: Warehouse, settings: Settings, now: datetime) -> int:
    """Record the requests of the landing folder, then delete its files (they name the learner).

    A crash between the insert and the deletion re-reads a file: its learners already have a
    pending request, so nothing is recorded twice.
    """
    folder = landing_folder(settings)
    files = sorted(folder.glob("*.jsonl")) if folder.exists() else []
    recorded = 0
    for path in files:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        by_reason: dict[str | None, list[str]] = {}
        for line in lines:
            by_reason.setdefault(line.get("reason"), []).append(str(line["learner_id"]))
        with warehouse.transaction():
            for reason, learners in by_reason.items():
                recorded += len(
                    record_requests(
                        warehouse,
                        settings,
                        learners,
                        kind="request",
                        source="landing",
                        reason=reason,
                        now=now,
                    )
                )
        path.unlink()
    return recorded


def record_expired(warehouse: Warehouse, settings: Settings, now: datetime) -> int:
    """A retention request for every learner of raw.learners whose retention_expiry has passed."""
    if not warehouse.table_exists(LEARNERS):
        return 0
    expired = warehouse.query(
        f"SELECT learner_id FROM {LEARNERS} WHERE retention_expiry <= ? ORDER BY learner_id", [now]
    ).column(0)
    return len(
        record_requests(
            warehouse,
            settings,
            expired.to_pylist(),
            kind="retention",
            source="retention",
            reason="retention_expiry passed",
            now=now,
        )
    )


def pending_requests(warehouse: Warehouse) -> list[Pending]:
    """Pending requests, with e-mail and push token captured from raw.learners on first sight
    (kept on the request, so a run that already erased raw.learners can still scrub the files)."""
    if warehouse.table_exists(LEARNERS):
        warehouse.execute(
            f"UPDATE {ERASURE_REQUESTS} SET email = l.email, push_token = l.push_token FROM {LEARNERS} l "
            f"WHERE {ERASURE_REQUESTS}.learner_id = l.learner_id AND {ERASURE_REQUESTS}.completed_at IS NULL "
            f"AND {ERASURE_REQUESTS}.email IS NULL AND {ERASURE_REQUESTS}.push_token IS NULL"
        )
    rows = warehouse.query(
        f"SELECT request_id, learner_id, email, push_token FROM {ERASURE_REQUESTS} "
        "WHERE completed_at IS NULL ORDER BY received_at, request_id"
    ).to_pylist()
    return [Pending(**row) for row in rows]


def done_stores(warehouse: Warehouse) -> dict[str, set[str]]:
    """Stores already erased, per pending request."""
    rows = warehouse.query(
        f"SELECT s.request_id, s.store FROM {STEPS} s JOIN {ERASURE_REQUESTS} r ON r.request_id = s.request_id "
        "WHERE r.completed_at IS NULL"
    ).to_pylist()
    done: dict[str, set[str]] = {}
    for row in rows:
        done.setdefault(row["request_id"], set()).add(row["store"])
    return done


def record_step(warehouse: Warehouse, store: str, removed: dict[str, int], now: datetime) -> None:
    """Mark ``store`` done for each request id of ``removed`` (rows removed for that request)."""
    if not removed:
        return
    warehouse.execute(
        f"INSERT INTO {STEPS} (request_id, store, removed, completed_at) VALUES "
        + ", ".join(["(?, ?, ?, ?)"] * len(removed)),
        [value for request_id, n in removed.items() for value in (request_id, store, n, now)],
    )


def complete(warehouse: Warehouse, request_ids: list[str], now: datetime) -> None:
    """Close requests whose every store is done: counts per store kept, identifiers cleared
    (one staged update, however many requests)."""
    if not request_ids:
        return
    marks = ", ".join("?" for _ in request_ids)
    steps = warehouse.query(
        f"SELECT request_id, store, removed FROM {STEPS} WHERE request_id IN ({marks})", request_ids
    ).to_pylist()
    removed: dict[str, dict[str, int]] = {r: {} for r in request_ids}
    for step in steps:
        removed[step["request_id"]][step["store"]] = int(step["removed"])
    counts = pa.table(
        {
            "request_id": pa.array(list(removed), pa.string()),
            "removed": pa.array([json.dumps(c, sort_keys=True) for c in removed.values()], pa.string()),
        }
    )
    with warehouse.transaction():
        warehouse.load_arrow(COMPLETIONS, counts, mode="replace")
        warehouse.execute(
            f"UPDATE {ERASURE_REQUESTS} SET completed_at = ?, removed = c.removed, learner_id = NULL, email = NULL, "
            f"push_token = NULL FROM {COMPLETIONS} c WHERE {ERASURE_REQUESTS}.request_id = c.request_id",
            [now],
        )
        warehouse.load_arrow(COMPLETIONS, counts.schema.empty_table(), mode="replace")


def landing_folder(settings: Settings) -> Path:
    return settings.landing_path / LANDING_FOLDER
