"""Ingestion: learner events from Kafka or landing files into the lake and ``raw.learner_events``,
exactly once, with every bad payload quarantined with its reason.

:func:`run_ingest` is the one entry point of the CLI (``learnrec ingest``), the
``learner_events_ingest`` DAG and the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime

from learnrec.ingest.loader import BatchReport, FaultHook, IngestError, KnownIds, load_batch, recover_lake
from learnrec.ingest.sources import EventSource, open_source
from learnrec.ingest.tables import ensure_tables
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.locks import stage_lock

__all__ = ["BatchReport", "IngestError", "IngestReport", "run_ingest"]

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    batches: list[BatchReport] = field(default_factory=list)
    recovered_lake_batches: list[str] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(b, name) for b in self.batches)

    def summary(self) -> str:
        return (
            f"{len(self.batches)} batches: consumed={self.total('consumed')} loaded={self.total('loaded')} "
            f"quarantined={self.total('quarantined')} duplicates={self.total('duplicates')} "
            f"late={self.total('late')}"
        )


def run_ingest(
    settings: Settings,
    *,
    until: datetime | None = None,
    max_batches: int | None = None,
    now: Callable[[], datetime] | None = None,
    source: EventSource | None = None,
    fault: FaultHook | None = None,
) -> IngestReport:
    """Land everything the source has (up to ``until``), one bounded batch per transaction.

    ``until`` is the end of the run's interval (the DAG's data interval end): what arrived later is
    left for later runs, so reruns and backfills of an interval stay within it.
    """
    clock = now or (lambda: datetime.now(UTC))
    report = IngestReport()
    with (
        connect_warehouse(settings) as warehouse,
        stage_lock(warehouse, "ingest", settings),
        closing(source or open_source(settings)) as events,
    ):
        ensure_tables(warehouse)
        report.recovered_lake_batches = recover_lake(warehouse, settings.lake_root)
        known = KnownIds.load(warehouse, settings.privacy_hash_key.get_secret_value())
        while max_batches is None or len(report.batches) < max_batches:
            batch = events.poll(warehouse, settings.ingest_batch_events, until)
            if batch is None:
                break
            report.batches.append(
                load_batch(
                    warehouse,
                    events,
                    batch,
                    known=known,
                    lake_root=settings.lake_root,
                    now=clock(),
                    max_field_chars=settings.ingest_max_field_chars,
                    fault=fault,
                )
            )
    log.info("ingest %s", report.summary())
    return report
