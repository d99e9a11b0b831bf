"""The warehouse tables ingestion owns, with their Arrow schemas.

Created (empty) before a batch opens its transaction: Snowflake commits implicitly on DDL, so the
transaction itself holds only inserts. ``raw.learner_events`` follows the event contract
(:func:`learnrec.contracts.events.raw_event_schema`); the others are ingestion's bookkeeping.
"""

from __future__ import annotations

import pyarrow as pa

from learnrec.contracts.events import raw_event_schema
from learnrec.tables import INGEST_BATCHES as BATCHES
from learnrec.tables import LEARNER_EVENTS as EVENTS
from learnrec.tables import QUARANTINED_EVENTS as QUARANTINE
from learnrec.tables import REPROCESS_DATES
from learnrec.warehouse import Warehouse

LANDED_FILES = "raw.ingest_files"
KAFKA_OFFSETS = "raw.kafka_offsets"
#: The keys (event date and id) of a batch's events, staged for the dedup join against what has
#: landed; replaced before each batch (single writer: the ingest DAG runs one batch at a time).
STAGE_EVENTS = "raw.ingest_stage_events"

_UTC = pa.timestamp("us", tz="UTC")

#: Where a payload came from: enough to find it again (file + line, or topic + partition + offset).
SOURCE_FIELDS = [
    pa.field("source", pa.string(), nullable=False),
    pa.field("source_uri", pa.string(), nullable=False),
    pa.field("source_partition", pa.int32()),
    pa.field("source_offset", pa.int64(), nullable=False),
]

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("payload", pa.string(), nullable=False),  # the original bytes as text, unchanged
        pa.field("reason", pa.string(), nullable=False),  # validate.REASONS or landing.LANDING_REASONS
        pa.field("reason_detail", pa.string(), nullable=False),  # readable: what was wrong
        *SOURCE_FIELDS,
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("quarantined_at", _UTC, nullable=False),
    ]
)

#: What a source rejects before validation (landing entries that are not event files, lines over
#: the size limit): quarantine rows without the batch's columns.
REJECTED_SCHEMA = pa.schema([f for f in QUARANTINE_SCHEMA if f.name not in ("batch_id", "quarantined_at")])

BATCH_SCHEMA = pa.schema(
    [
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("consumed", pa.int64(), nullable=False),  # payloads (and rejected entries) read
        pa.field("loaded", pa.int64(), nullable=False),  # new events in raw.learner_events
        pa.field("quarantined", pa.int64(), nullable=False),
        pa.field("duplicates", pa.int64(), nullable=False),  # in the batch or already landed
        pa.field("late", pa.int64(), nullable=False),  # loaded events of an already closed day
        pa.field("min_event_date", pa.date32()),
        pa.field("max_event_date", pa.date32()),
        pa.field("started_at", _UTC, nullable=False),
        pa.field("committed_at", _UTC, nullable=False),
        pa.field("lake_written", pa.bool_(), nullable=False),
    ]
)

LANDED_FILES_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),  # relative to the landing folder
        pa.field("size_bytes", pa.int64(), nullable=False),  # landed up to here (a grown file's tail:
        pa.field("lines", pa.int64(), nullable=False),  # one more row of the path, with its lines)
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("landed_at", _UTC, nullable=False),
    ]
)

KAFKA_OFFSETS_SCHEMA = pa.schema(
    [
        pa.field("topic", pa.string(), nullable=False),
        pa.field("kafka_partition", pa.int32(), nullable=False),
        pa.field("next_offset", pa.int64(), nullable=False),  # first offset not yet loaded
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("committed_at", _UTC, nullable=False),
    ]
)

REPROCESS_SCHEMA = pa.schema(
    [
        pa.field("event_date", pa.date32(), nullable=False),  # a closed day that received events
        pa.field("late_events", pa.int64(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("marked_at", _UTC, nullable=False),
    ]
)

TABLES: dict[str, pa.Schema] = {
    EVENTS: raw_event_schema(),
    QUARANTINE: QUARANTINE_SCHEMA,
    BATCHES: BATCH_SCHEMA,
    LANDED_FILES: LANDED_FILES_SCHEMA,
    KAFKA_OFFSETS: KAFKA_OFFSETS_SCHEMA,
    REPROCESS_DATES: REPROCESS_SCHEMA,
}


def ensure_tables(warehouse: Warehouse) -> None:
    """Create ingestion's tables if missing (outside any transaction)."""
    for name, schema in TABLES.items():
        if not warehouse.table_exists(name):
            warehouse.load_arrow(name, schema.empty_table(), mode="append")
