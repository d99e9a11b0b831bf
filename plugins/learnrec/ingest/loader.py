"""Land one batch exactly once: validate, deduplicate, write events, quarantine and position in
one warehouse transaction, then acknowledge the source and write the lake copy.

Order of effects and what a crash at each point leaves:

1. validate + stage (no visible effect): the rerun takes the same slice again;
2. one transaction: events, quarantine, late-day marks, source position, batch record — all or
   nothing;
3. acknowledge the source (Kafka commit): if lost, the warehouse position still rules;
4. lake files, then ``lake_written``: if lost, :func:`recover_lake` rewrites the batch's files
   (named by batch, so a rewrite replaces rather than duplicates).

Deduplication is by event id within the batch (first arrival wins, in validation's SQL) and
against what has landed, looking only at the event dates the batch touches (an event's date is
part of its content). The latter is one semi-join in the warehouse over the batch's staged keys
(event date and id); the new events are then bulk-loaded from Arrow, so the warehouse joins once
and the duplicates are counted independently of the rows the load writes (the count identity
checks the load, it is not derived from it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from learnrec.contracts.events import raw_event_schema
from learnrec.ingest import lake
from learnrec.ingest.sources.base import EventSource, SourceBatch
from learnrec.ingest.tables import (
    BATCHES,
    EVENTS,
    QUARANTINE,
    QUARANTINE_SCHEMA,
    REPROCESS_DATES,
    STAGE_EVENTS,
)
from learnrec.ingest.validate import MAX_FIELD_CHARS, reason_counts, validate_payloads
from learnrec.privacy import ErasedLearners, erased_hashes
from learnrec.tables import COURSES, LEARNERS
from learnrec.warehouse import Warehouse

log = logging.getLogger(__name__)

#: Called with the name of each step as it completes: tests inject crashes here.
FaultHook = Callable[[str], None]
EVENT_COLUMNS = ", ".join(raw_event_schema().names)


class IngestError(RuntimeError):
    """Ingestion cannot proceed (missing reference data, broken accounting)."""


@dataclass(frozen=True)
class KnownIds:
    learners: pa.Array
    courses: pa.Array
    erased: ErasedLearners | None = None

    @classmethod
    def load(cls, warehouse: Warehouse, hash_key: str = "") -> KnownIds:
        """Learner and course ids of the operational snapshots (raw.learners, raw.courses), and the
        hashes of erased learners (ops.erasure_requests)."""
        for table in (LEARNERS, COURSES):
            if not warehouse.table_exists(table):
                raise IngestError(
                    f"{table} does not exist: load the operational snapshots first "
                    "(`learnrec load-sources`, or the load_source_snapshots task), so that events "
                    "of unknown learners and courses can be told apart"
                )
        return cls(
            learners=warehouse.query(f"SELECT learner_id FROM {LEARNERS}").column(0).combine_chunks(),
            courses=warehouse.query(f"SELECT course_id FROM {COURSES}").column(0).combine_chunks(),
            erased=ErasedLearners(erased_hashes(warehouse), hash_key),
        )


@dataclass
class BatchReport:
    batch_id: str
    source: str
    consumed: int
    loaded: int
    quarantined: int
    duplicates: int
    late: int
    reasons: dict[str, int] = field(default_factory=dict)
    min_event_date: date | None = None
    max_event_date: date | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.reasons.items())) or "none"
        return (
            f"batch {self.batch_id} ({self.source}): consumed={self.consumed} loaded={self.loaded} "
            f"quarantined={self.quarantined} duplicates={self.duplicates} late={self.late} "
            f"dates={self.min_event_date}..{self.max_event_date} in {self.seconds:.1f}s; "
            f"quarantine reasons: {reasons}"
        )


def _with_batch(table: pa.Table, schema: pa.Schema, batch_id: str, at: datetime, at_column: str) -> pa.Table:
    n = table.num_rows
    table = table.append_column("batch_id", pa.repeat(pa.scalar(batch_id, pa.string()), n))
    table = table.append_column(at_column, pa.repeat(pa.scalar(at, pa.timestamp("us", tz="UTC")), n))
    return table.select(schema.names).cast(schema)


def load_batch(
    warehouse: Warehouse,
    source: EventSource,
    batch: SourceBatch,
    *,
    known: KnownIds,
    lake_root: str,
    now: datetime,
    max_field_chars: int = MAX_FIELD_CHARS,
    fault: FaultHook | None = None,
) -> BatchReport:
    """Land ``batch``; see the module docstring for the order of effects."""
    step = fault or (lambda _name: None)
    started = time.perf_counter()
    batch_id = batch.batch_id
    consumed = batch.payloads.num_rows + batch.rejected.num_rows
    verdict = validate_payloads(
        batch.payloads, known.learners, known.courses, now, known.erased, max_field_chars=max_field_chars
    )
    to_quarantine = pa.concat_tables([verdict.quarantined, batch.rejected.cast(verdict.quarantined.schema)])
    step("validated")

    first = verdict.events
    staged = _with_batch(first, raw_event_schema(), batch_id, now, "ingested_at").append_column(
        "is_late", first.column("is_late")
    )
    quarantine = _with_batch(to_quarantine, QUARANTINE_SCHEMA, batch_id, now, "quarantined_at")
    # only the keys go to the warehouse for the dedup join (on Snowflake: a small upload)
    stage_keys = warehouse.stage_arrow(STAGE_EVENTS, staged.select(["event_date", "event_id"]))
    step("staged")

    dates = pc.min_max(first.column("event_date")).as_py() if first.num_rows else {"min": None, "max": None}
    with warehouse.transaction():
        # the batch's events that landed before (the date range lets the scan skip other days)
        already = warehouse.query(
            f"SELECT s.event_id FROM {stage_keys} s WHERE EXISTS (SELECT 1 FROM {EVENTS} e "
            "WHERE e.event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) "
            "AND e.event_date = s.event_date AND e.event_id = s.event_id)",
            [_iso(dates["min"]), _iso(dates["max"])],
        )
        new = staged.filter(pc.invert(pc.is_in(staged.column("event_id"), already.column(0))))
        warehouse.load_arrow(EVENTS, new.drop(["is_late"]))
        step("events_inserted")
        warehouse.load_arrow(QUARANTINE, quarantine)
        # bounded to the batch's dates: on a table of years of events the count prunes to them
        loaded = warehouse.scalar(
            f"SELECT count(*) FROM {EVENTS} WHERE batch_id = ? "
            "AND event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)",
            [batch_id, _iso(dates["min"]), _iso(dates["max"])],
        )
        quarantined = warehouse.scalar(f"SELECT count(*) FROM {QUARANTINE} WHERE batch_id = ?", [batch_id])
        duplicates = verdict.duplicates + already.num_rows
        if loaded + quarantined + duplicates != consumed:
            raise IngestError(
                f"batch {batch_id}: loaded {loaded} + quarantined {quarantined} + duplicates "
                f"{duplicates} != consumed {consumed}; nothing of it was committed"
            )
        late = _mark_late_dates(warehouse, new, batch_id, now)
        source.record_position(warehouse, batch, batch_id, now)
        warehouse.execute(
            f"INSERT INTO {BATCHES} VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS DATE), CAST(? AS DATE), "
            "CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), FALSE)",
            [
                batch_id,
                source.name,
                consumed,
                loaded,
                quarantined,
                duplicates,
                late,
                _iso(dates["min"]),
                _iso(dates["max"]),
                now.isoformat(),
                now.isoformat(),
            ],
        )
        step("in_transaction")
    step("committed")
    source.acknowledge(batch)
    step("acknowledged")

    _write_lake(warehouse, lake_root, new.drop(["is_late"]), batch_id)
    report = BatchReport(
        batch_id=batch_id,
        source=source.name,
        consumed=consumed,
        loaded=loaded,
        quarantined=quarantined,
        duplicates=duplicates,
        late=late,
        reasons=reason_counts(to_quarantine),
        min_event_date=dates["min"],
        max_event_date=dates["max"],
        seconds=time.perf_counter() - started,
    )
    log.info(report.summary())
    return report


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _mark_late_dates(warehouse: Warehouse, new: pa.Table, batch_id: str, now: datetime) -> int:
    """Record the closed days that received events, for downstream reprocessing; returns the count."""
    late = new.filter(new.column("is_late"))
    if not late.num_rows:
        return 0
    per_day = late.group_by("event_date").aggregate([("event_id", "count")]).to_pylist()
    values = ", ".join(["(CAST(? AS DATE), ?, ?, CAST(? AS TIMESTAMPTZ))"] * len(per_day))
    params: list[object] = []
    for row in per_day:
        params += [row["event_date"].isoformat(), row["event_id_count"], batch_id, now.isoformat()]
    warehouse.execute(
        f"INSERT INTO {REPROCESS_DATES} (event_date, late_events, batch_id, marked_at) VALUES {values}",
        params,
    )
    return late.num_rows


def _write_lake(warehouse: Warehouse, lake_root: str, events: pa.Table, batch_id: str) -> None:
    lake.write_batch(lake_root, events, batch_id)
    warehouse.execute(f"UPDATE {BATCHES} SET lake_written = TRUE WHERE batch_id = ?", [batch_id])


def recover_lake(warehouse: Warehouse, lake_root: str) -> list[str]:
    """Rewrite the lake files of committed batches whose lake write did not finish."""
    pending = warehouse.query(f"SELECT batch_id FROM {BATCHES} WHERE NOT lake_written ORDER BY committed_at")
    recovered = []
    for batch_id in pending.column(0).to_pylist():
        events = warehouse.query(f"SELECT {EVENT_COLUMNS} FROM {EVENTS} WHERE batch_id = ?", [batch_id])
        _write_lake(warehouse, lake_root, events.cast(raw_event_schema()), batch_id)
        log.warning("lake files of batch %s rewritten after an interrupted run", batch_id)
        recovered.append(batch_id)
    return recovered
