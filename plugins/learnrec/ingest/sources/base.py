"""What a source of learner events must do for exactly-once landing.

A run repeats: ``poll`` a bounded batch starting at the position stored in the warehouse;
the loader writes the events and calls ``record_position`` *inside the same warehouse
transaction*; after the commit, ``acknowledge`` tells the source (Kafka's committed offsets).
The warehouse is the source of truth for positions, so a crash after the commit and before the
acknowledgement re-reads nothing, and a crash before the commit re-reads the whole batch.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from learnrec.ingest.tables import REJECTED_SCHEMA
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse


@dataclass(frozen=True)
class SourceBatch:
    """A bounded slice of a source: its payloads and the position after it."""

    payloads: pa.Table  # learnrec.ingest.payloads.PAYLOAD_SCHEMA
    position_key: str  # describes the slice exactly (files, or offset ranges per partition)
    position: Any = field(default=None, compare=False)  # source-specific, for record/acknowledge
    #: entries or payloads rejected before validation (tables.REJECTED_SCHEMA), quarantined as they are
    rejected: pa.Table = field(default_factory=REJECTED_SCHEMA.empty_table, compare=False)

    @property
    def batch_id(self) -> str:
        """Derived from the slice, so a retried batch over the same slice has the same id."""
        return hashlib.sha1(self.position_key.encode(), usedforsecurity=False).hexdigest()[:20]


class EventSource(abc.ABC):
    name: str

    @abc.abstractmethod
    def poll(self, warehouse: Warehouse, max_events: int, until: datetime | None) -> SourceBatch | None:
        """The next batch after the warehouse's stored position (None: nothing new).

        ``until`` bounds what a run may take to what had arrived by the end of its interval, so
        that a rerun or backfill of an interval does not reach into later ones.
        """

    @abc.abstractmethod
    def record_position(self, warehouse: Warehouse, batch: SourceBatch, batch_id: str, at: datetime) -> None:
        """Store the position after ``batch`` (DML only: runs inside the loader's transaction)."""

    def acknowledge(self, batch: SourceBatch) -> None:  # noqa: B027 - optional hook
        """Tell the source the batch is safely in the warehouse (after the commit)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def open_source(settings: Settings) -> EventSource:
    """The configured source (``LEARNREC_EVENT_SOURCE``)."""
    if settings.event_source == "kafka":
        from learnrec.ingest.sources.kafka import KafkaSource

        return KafkaSource.from_settings(settings)
    from learnrec.ingest.sources.files import FileSource

    return FileSource(settings.landing_path, max_line_bytes=settings.ingest_max_line_bytes)
