"""The learner event contract: ``POST /events/learner`` of the product document.

This module is the one definition of a learner event. The synthetic world writes it, ingestion
validates it (in bulk, column by column, with the rules spelled out here), dbt and Spark read its
typed form, and the docs quote it. A payload on the wire (a Kafka message value or one line of a
landing file) is a JSON object::

    {"learner_id": "L0000042", "event_type": "watch", "course_id": "C00017",
     "timestamp": "2026-11-01T18:04:11.250Z",
     "metadata": {"watch_duration_seconds": 540, "module_id": "C00017-M03"}}

Rules beyond the field types (``EVENT_RULES``):

* ``watch`` carries ``metadata.watch_duration_seconds`` and ``metadata.module_id``;
  ``quiz_score`` carries ``metadata.quiz_score``; the other types need no metadata.
* ``quiz_score`` lies in [0, 100] (a percentage); ``watch_duration_seconds`` in
  [0, ``MAX_WATCH_DURATION_SECONDS``].
* ``timestamp`` is ISO 8601 with a UTC offset; it may not lie more than ``FUTURE_TOLERANCE``
  after the moment the batch is validated (clock skew of devices is tolerated up to that).
* No field name appears twice in the payload or its metadata (:func:`parse_payload`): JSON
  parsers disagree on which of the values wins, so such a payload has no single meaning.

Event identity: the contract has no event id, so one is derived from the content
(:func:`event_id`): identical payloads delivered twice (Kafka's at-least-once delivery, a
re-uploaded file) get the same id and are deduplicated; two genuinely different events never
share one. The bulk SQL implementations must agree with this reference function (tested).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class EventType(StrEnum):
    CLICK = "click"
    WATCH = "watch"
    SKIP = "skip"
    COMPLETE = "complete"
    SEARCH = "search"
    QUIZ_SCORE = "quiz_score"


QUIZ_SCORE_MIN = 0.0
QUIZ_SCORE_MAX = 100.0
#: One watch event covers at most one sitting; longer values are client bugs.
MAX_WATCH_DURATION_SECONDS = 6 * 3600
#: How far in the future (relative to validation time) a timestamp may lie.
FUTURE_TOLERANCE = timedelta(minutes=15)

#: Metadata fields that an event type must carry.
EVENT_RULES: dict[EventType, tuple[str, ...]] = {
    EventType.CLICK: (),
    EventType.WATCH: ("watch_duration_seconds", "module_id"),
    EventType.SKIP: (),
    EventType.COMPLETE: (),
    EventType.SEARCH: (),
    EventType.QUIZ_SCORE: ("quiz_score",),
}

#: The payload's top-level and metadata field names, in wire order.
PAYLOAD_FIELDS = ("learner_id", "event_type", "course_id", "timestamp", "metadata")
METADATA_FIELDS = ("watch_duration_seconds", "quiz_score", "module_id")

#: Separator of the identity string (ASCII unit separator: cannot occur in ids).
IDENTITY_SEPARATOR = "\x1f"


class EventMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    watch_duration_seconds: int | None = Field(None, ge=0, le=MAX_WATCH_DURATION_SECONDS, strict=True)
    quiz_score: float | None = Field(None, ge=QUIZ_SCORE_MIN, le=QUIZ_SCORE_MAX, strict=True)
    module_id: str | None = Field(None, min_length=1, strict=True)


class LearnerEvent(BaseModel):
    """One learner event as posted by an app. Validates a single payload (tests, docs, APIs);
    ingestion applies the same rules to whole batches in SQL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learner_id: str = Field(min_length=1, strict=True)
    event_type: EventType
    course_id: str = Field(min_length=1, strict=True)
    timestamp: datetime
    metadata: EventMetadata = EventMetadata()

    @field_validator("timestamp", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        # On the wire a timestamp is ISO 8601 text; epoch numbers are a client bug, not a format.
        if not isinstance(value, str | datetime):
            raise ValueError("timestamp must be an ISO 8601 string")
        return value

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp needs a UTC offset (ISO 8601, e.g. 2026-11-01T18:04:11Z)")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _metadata_for_type(self) -> LearnerEvent:
        missing = [name for name in EVENT_RULES[self.event_type] if getattr(self.metadata, name) is None]
        if missing:
            raise ValueError(f"{self.event_type} event needs metadata.{', metadata.'.join(missing)}")
        return self

    def check_not_future(self, now: datetime) -> None:
        if self.timestamp > now + FUTURE_TOLERANCE:
            raise ValueError(f"timestamp {self.timestamp.isoformat()} lies in the future")

    def to_payload(self) -> dict[str, Any]:
        meta = {k: v for k, v in self.metadata.model_dump().items() if v is not None}
        return {
            "learner_id": self.learner_id,
            "event_type": str(self.event_type),
            "course_id": self.course_id,
            "timestamp": format_timestamp(self.timestamp),
            "metadata": meta,
        }


class DuplicateFieldError(ValueError):
    """A JSON object of the payload names a field more than once."""


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DuplicateFieldError(f"field(s) given more than once: {', '.join(repeated)}")
    return dict(pairs)


def parse_payload(text: str | bytes) -> Any:
    """A payload's JSON, rejecting an object that repeats a field name.

    Python's ``json`` keeps the last of the repeated values and DuckDB's reader the first, so the
    same bytes would otherwise validate to different events (and event ids) in the reference and
    in the bulk validation; the contract makes such payloads invalid instead.
    """
    return json.loads(text, object_pairs_hook=_unique_fields)


def format_timestamp(value: datetime) -> str:
    """Wire format of a timestamp: UTC, millisecond precision, ``Z`` suffix."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch_microseconds(value: datetime) -> int:
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def identity_string(
    learner_id: str,
    event_type: str,
    course_id: str,
    timestamp: datetime,
    watch_duration_seconds: int | None,
    quiz_score: float | None,
    module_id: str | None,
) -> str:
    """The canonical content of an event that its id hashes.

    Fields in contract order, joined by ``IDENTITY_SEPARATOR``; the timestamp as integer epoch
    microseconds (UTC), quiz_score with four decimals, absent values as empty strings. Every
    engine can build this string in bulk (DuckDB ``epoch_us``/``printf``, Snowflake
    ``DATE_PART(epoch_microsecond, ...)``/``TO_VARCHAR``, Spark ``unix_micros``/``format_string``).
    """
    parts = (
        learner_id,
        event_type,
        course_id,
        str(epoch_microseconds(timestamp)),
        "" if watch_duration_seconds is None else str(watch_duration_seconds),
        "" if quiz_score is None else f"{quiz_score:.4f}",
        module_id or "",
    )
    return IDENTITY_SEPARATOR.join(parts)


def event_id(event: LearnerEvent) -> str:
    """Content-derived id of an event: md5 (hex) of :func:`identity_string`."""
    meta = event.metadata
    text = identity_string(
        event.learner_id,
        str(event.event_type),
        event.course_id,
        event.timestamp,
        meta.watch_duration_seconds,
        meta.quiz_score,
        meta.module_id,
    )
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


# --- the landed, typed form ------------------------------------------------------------------
# One row per distinct valid event (unique on event_id) in the warehouse's raw.learner_events and
# in the lake at <lake>/events/event_date=YYYY-MM-DD/hour=HH/<batch_id>.parquet. Timestamps are
# UTC. dbt's sources and Spark's readers rely on exactly these names and types.
RAW_EVENT_COLUMNS: dict[str, str] = {
    "event_id": "md5 hex of identity_string(): the deduplication key",
    "learner_id": "learner the event belongs to",
    "event_type": "one of EventType",
    "course_id": "course the event concerns",
    "event_at": "when it happened (UTC timestamp, microseconds)",
    "event_date": "UTC date of event_at: the partition it lands in, even when it arrives late",
    "watch_duration_seconds": "metadata.watch_duration_seconds (watch events)",
    "quiz_score": "metadata.quiz_score in [0, 100] (quiz_score events)",
    "module_id": "metadata.module_id",
    "metadata": "the original metadata object as JSON (VARIANT on Snowflake)",
    "source": "files | kafka",
    "source_uri": "landing file path, or kafka topic",
    "source_partition": "kafka partition (null for files)",
    "source_offset": "kafka offset, or 1-based line number in the file",
    "batch_id": "ingest batch that loaded it",
    "ingested_at": "when the batch loaded it (UTC)",
}


def raw_event_schema() -> pa.Schema:
    """Arrow schema of raw.learner_events and of the lake's event Parquet."""
    return pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("learner_id", pa.string(), nullable=False),
            pa.field("event_type", pa.string(), nullable=False),
            pa.field("course_id", pa.string(), nullable=False),
            pa.field("event_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("event_date", pa.date32(), nullable=False),
            pa.field("watch_duration_seconds", pa.int32()),
            pa.field("quiz_score", pa.float64()),
            pa.field("module_id", pa.string()),
            pa.field("metadata", pa.string()),
            pa.field("source", pa.string(), nullable=False),
            pa.field("source_uri", pa.string(), nullable=False),
            pa.field("source_partition", pa.int32()),
            pa.field("source_offset", pa.int64(), nullable=False),
            pa.field("batch_id", pa.string(), nullable=False),
            pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )
