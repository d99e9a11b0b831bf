"""Erase every pending request's learner from every store, resumably (the privacy_retention DAG,
``learnrec privacy run``).

A run records the landing folder's requests and the learners whose retention expired, then
erases all pending learners together, store by store, in the order of :data:`STORES`, each in one
set-based pass (10k learners cost one rewrite of the files that hold any of them, not 10k). Each
store's completion is recorded per request (``ops.erasure_steps``); the warehouse's deletes and
their record commit in one transaction. A run that dies half-way is finished by the next: it skips
the stores done and redoes the one it was in (every store's erasure is idempotent). A request is
completed, and its identifiers cleared, only once every store is done.

Stores, and why each is handled as it is:

- ``landing``: the source snapshots (Parquet), the event files (their lines; ingest's record of
  how far each file was landed shrinks with it, so a file is not read again) and the delivery
  event files (their recorded content hash follows the rewrite, so they are not ingested again).
- ``warehouse``: every table the catalog lists with a learner column (:mod:`.warehouse`).
- ``lake``: every Parquet file that holds the learners (events, rollups, state, features),
  rewritten atomically under its own name: the feature jobs' manifests list files by name, so
  the rewritten file is not mistaken for a new one and nothing is folded twice.
- ``models``: the learners' rows are removed from the saved models (MLflow's artifacts and the
  local download cache) rather than the models retired: a factor row is used only to score its
  own learner, so removing it changes no one else's scores and keeps the champion serving; a
  retired champion would send everyone to the fallbacks until the next training.
- ``serving``: re-exported from the (erased) current version: the SQLite file is rebuilt and
  renamed over, Postgres swapped, so no deleted page of the old store lingers.
- ``outbox`` and ``llm_audit``: their JSON lines naming the learner are dropped.
- ``world``: the synthetic world's ground truth (evaluation only) under the state folder.

Weaviate holds course objects only (``Course``, ``CourseChunk``): no learner data, nothing to call.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

from exports.privacy import files, requests
from exports.privacy.files import Identifiers
from exports.privacy.requests import Pending
from exports.privacy.warehouse import ID_STAGE, erase_tables, learner_tables, stage_identifiers
from learnrec.ingest.sources.files import EVENTS_FOLDER
from learnrec.ingest.tables import LANDED_FILES
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse, connect_warehouse

log = logging.getLogger(__name__)

#: Called with each store's name once it is recorded: tests inject crashes here.
FaultHook = Callable[[str], None]


@dataclass
class ErasureReport:
    received: int = 0
    expired: int = 0
    erased: int = 0  # requests completed by this run
    removed: dict[str, int] = field(default_factory=dict)  # rows / lines / files per store

    def summary(self) -> str:
        stores = ", ".join(f"{k}={v}" for k, v in self.removed.items()) or "nothing"
        return f"{self.received} requests received, {self.expired} expired learners, {self.erased} erased: {stores}"


def _identifiers(pending: list[Pending]) -> Identifiers:
    return Identifiers(
        {value: p.request_id for p in pending for value in p.identifiers()},
        {p.learner_id: p.request_id for p in pending},
    )


def _landed_events(warehouse: Warehouse, settings: Settings, ids: Identifiers) -> Counter[str]:
    """Drop the learners' lines from the event files; what was landed of a file shrinks with it."""
    landing = settings.landing_path
    folder = landing / EVENTS_FOLDER
    if not warehouse.table_exists(LANDED_FILES):
        return files.erase_text_files(folder, ids)  # nothing landed yet: no record to follow
    landed = {
        r["path"]: int(r["size_bytes"])
        for r in warehouse.query(
            f"SELECT path, max(size_bytes) AS size_bytes FROM {LANDED_FILES} GROUP BY path"
        ).to_pylist()
    }
    removed: Counter[str] = Counter()
    for path in sorted(folder.rglob("*.jsonl")) if folder.exists() else []:
        relative = path.relative_to(landing).as_posix()
        data = path.read_bytes()
        cut = min(landed.get(relative, 0), len(data))
        head, head_removed, head_bytes = files.filter_lines(data[:cut], ids)
        tail, tail_removed, _ = files.filter_lines(data[cut:], ids)
        if not head_removed and not tail_removed:
            continue
        files.atomic_bytes(path, head + tail)
        if head_removed:
            warehouse.execute(
                f"UPDATE {LANDED_FILES} SET size_bytes = size_bytes - ?, lines = lines - ? "
                f"WHERE path = ? AND size_bytes = ?",
                [head_bytes, sum(head_removed.values()), relative, landed[relative]],
            )
        removed.update(head_removed)
        removed.update(tail_removed)
    return removed


def _landing(warehouse: Warehouse, settings: Settings, ids: Identifiers) -> Counter[str]:
    from exports.nudges.feedback import NOTIFICATION_LANDING
    from exports.nudges.outbox import WEBHOOK_FILES

    removed = files.erase_parquet(str(settings.landing_path / "sources"), ids)
    removed.update(_landed_events(warehouse, settings, ids))
    notifications = settings.landing_path / NOTIFICATION_LANDING
    removed.update(files.erase_text_files(notifications, ids))
    for path, (content, found) in files.erase_json_arrays(notifications, ids).items():
        removed.update(found)
        if warehouse.table_exists(WEBHOOK_FILES):
            warehouse.execute(
                f"UPDATE {WEBHOOK_FILES} SET content_sha256 = ? WHERE source_uri = ?",
                [hashlib.sha256(content).hexdigest(), str(path)],
            )
    return removed


def _warehouse(warehouse: Warehouse, settings: Settings, ids: Identifiers) -> Counter[str]:
    removed: Counter[str] = Counter()
    for counts in erase_tables(warehouse, learner_tables(warehouse)).values():
        removed.update(counts)
    return removed


def _lake(warehouse: Warehouse, settings: Settings, ids: Identifiers) -> Counter[str]:
    return files.erase_parquet(settings.lake_root, ids)


def _models(warehouse: Warehouse, settings: Settings, ids: Identifiers) -> Counter[str]:
    removed = files.erase_model_arrays(settings.mlflow_artifact_path, ids)
    removed.update(files.erase_model_arrays(settings.home / "ml" / "cache", ids))
    return removed


def _serving(warehouse: Warehouse, settings: Settings, ids: Identifiers) -> Counter[str]:
    from exports.recommendations.steps import export_current

    export_current(warehouse, settings)
    return Counter()  # rebuilt from the erased warehouse: its rows went with the warehouse's


def _outbox(warehouse: Warehouse, settings: Settings, ids: Identifiers) -> Counter[str]:
    return files.erase_text_files(settings.outbox_path, ids)


def _llm_audit(warehouse: Warehouse, settings: Settings, ids: Identifiers) -> Counter[str]:
    return files.erase_text_files(settings.home / "llm", ids)


def _world(warehouse: Warehouse, settings: Settings, ids: Identifiers) -> Counter[str]:
    return files.erase_parquet(str(settings.world_path), ids)


Eraser = Callable[[Warehouse, Settings, Identifiers], Counter[str]]
#: In order: the warehouse before the serving stores exported from it.
STORES: tuple[tuple[str, Eraser], ...] = (
    ("landing", _landing),
    ("warehouse", _warehouse),
    ("lake", _lake),
    ("models", _models),
    ("serving", _serving),
    ("outbox", _outbox),
    ("llm_audit", _llm_audit),
    ("world", _world),
)


def run_erasure(
    settings: Settings, *, now: datetime | None = None, fault: FaultHook | None = None
) -> ErasureReport:
    """Record new requests and expired learners, then erase every pending request everywhere."""
    at = now or datetime.now(UTC)
    step = fault or (lambda _store: None)
    report = ErasureReport()
    with connect_warehouse(settings) as warehouse:
        requests.ensure_tables(warehouse)
        if not warehouse.table_exists(ID_STAGE):
            stage_identifiers(warehouse, [])  # DDL before the transactions (Snowflake)
        report.received = requests.land_requests(warehouse, settings, at)
        report.expired = requests.record_expired(warehouse, settings, at)
        pending = requests.pending_requests(warehouse)
        done = requests.done_stores(warehouse)
        for store, erase in STORES:
            todo = [p for p in pending if store not in done.get(p.request_id, set())]
            if not todo:
                continue
            stage_identifiers(warehouse, todo)
            # the warehouse's deletes commit with their record; a file store is recorded once
            # rewritten (a crash in between redoes it, finding nothing left to remove)
            with warehouse.transaction() if store == "warehouse" else nullcontext():
                removed = erase(warehouse, settings, _identifiers(todo))
                requests.record_step(
                    warehouse, store, {p.request_id: removed[p.request_id] for p in todo}, at
                )
            report.removed[store] = sum(removed.values())
            step(store)
        stage_identifiers(warehouse, [])
        requests.complete(warehouse, [p.request_id for p in pending], at)
        report.erased = len(pending)
        if warehouse.dialect == "duckdb":
            warehouse.execute("CHECKPOINT")  # deleted rows leave the file's blocks too
    log.info("privacy erasure: %s", report.summary())
    return report
