"""Kafka: a bounded micro-batch per run, exactly once into the warehouse.

Each batch reads every partition of the topic from the stored position up to the high watermark
seen when the run started (or the offset of the run's interval end, whichever is lower), as one
consumer group with explicit assignment (no rebalances mid-batch). The positions are stored in
``raw.kafka_offsets`` in the same warehouse transaction as the events: the warehouse is the truth,
and Kafka's committed offsets are updated afterwards for lag monitoring and for tools that read
them. A position missing from the warehouse (first run) falls back to the group's committed
offset, then to the earliest offset still retained.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, TopicPartition

from learnrec.ingest.landing import HEAD_BYTES
from learnrec.ingest.payloads import payload_table
from learnrec.ingest.sources.base import EventSource, SourceBatch
from learnrec.ingest.sources.files import DEFAULT_MAX_LINE_BYTES
from learnrec.ingest.tables import KAFKA_OFFSETS, REJECTED_SCHEMA
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse

log = logging.getLogger(__name__)

#: How long a batch may go without receiving a message it still expects before it gives up.
STALL_SECONDS = 60.0


@dataclass(frozen=True)
class PartitionRange:
    partition: int
    start: int  # first offset of the batch
    end: int  # first offset after the batch


def kafka_config(settings: Settings) -> dict[str, object]:
    """Consumer configuration from settings (credentials from the environment only)."""
    config: dict[str, object] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "group.id": settings.kafka_group_id,
        "security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_username:
        config["sasl.mechanisms"] = "PLAIN"
        config["sasl.username"] = settings.kafka_sasl_username
        config["sasl.password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        )
    return config


class KafkaSource(EventSource):
    name = "kafka"

    def __init__(
        self,
        config: dict[str, object],
        topic: str,
        timeout: float = 10.0,
        *,
        max_message_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.topic = topic
        self.timeout = timeout
        #: a message over this is quarantined ``too_large`` (its head kept), as a landing line is
        self.max_message_bytes = max_message_bytes
        #: high watermark of each partition when the run first saw it: a run ends there, so a
        #: topic that keeps receiving messages does not keep it going batch after batch
        self.ceiling: dict[int, int] = {}
        self.consumer = Consumer(
            {
                **config,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSource:
        return cls(
            kafka_config(settings), settings.kafka_topic, max_message_bytes=settings.ingest_max_line_bytes
        )

    # --- positions ------------------------------------------------------------------------------
    def _partitions(self) -> list[int]:
        meta = self.consumer.list_topics(self.topic, timeout=self.timeout).topics.get(self.topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise KafkaException(
                f"topic {self.topic!r} not found or has no partitions ({meta and meta.error})"
            )
        return sorted(meta.partitions)

    def _stored(self, warehouse: Warehouse) -> dict[int, int]:
        rows = warehouse.query(
            f"SELECT kafka_partition, max(next_offset) AS next_offset FROM {KAFKA_OFFSETS} "
            "WHERE topic = ? GROUP BY kafka_partition",
            [self.topic],
        ).to_pylist()
        return {r["kafka_partition"]: r["next_offset"] for r in rows}

    def ranges(self, warehouse: Warehouse, max_events: int, until: datetime | None) -> list[PartitionRange]:
        """Offset ranges of the next batch, at most ``max_events`` messages in all."""
        partitions = self._partitions()
        stored = self._stored(warehouse)
        committed = (
            {
                tp.partition: tp.offset
                for tp in self.consumer.committed(
                    [TopicPartition(self.topic, p) for p in partitions if p not in stored],
                    timeout=self.timeout,
                )
            }
            if len(stored) < len(partitions)
            else {}
        )
        # the watermarks before ``until`` is resolved: a message arriving in between, stamped
        # after ``until``, is then below neither (read after them, it would be taken)
        watermarks = {
            p: self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=self.timeout)
            for p in partitions
        }
        bounds = {}
        if until is not None:
            stamp = int(until.timestamp() * 1000)
            found = self.consumer.offsets_for_times(
                [TopicPartition(self.topic, p, stamp) for p in partitions], timeout=self.timeout
            )
            bounds = {tp.partition: tp.offset for tp in found if tp.offset >= 0}
        ranges, budget = [], max_events
        for p in partitions:
            low, high = watermarks[p]
            ceiling = self.ceiling.setdefault(p, high)
            start = stored.get(p, committed.get(p, OFFSET_INVALID))
            start = low if start < 0 else start
            if start < low:
                log.error("partition %d: offsets %d..%d expired before they were landed", p, start, low - 1)
                start = low
            if start > high:
                # the topic was recreated or truncated: its new messages take offsets below the
                # stored position and skipping to it would drop them without a word
                raise KafkaException(
                    f"partition {p}: stored position {start} is beyond the partition's end {high} "
                    f"(topic {self.topic!r} recreated or truncated?): check what landed, then "
                    f"correct {KAFKA_OFFSETS}"
                )
            end = min(ceiling, bounds.get(p, high), start + budget)
            if end > start:
                ranges.append(PartitionRange(p, start, end))
                budget -= end - start
            if budget <= 0:
                break
        return ranges

    # --- EventSource ----------------------------------------------------------------------------
    def poll(self, warehouse: Warehouse, max_events: int, until: datetime | None) -> SourceBatch | None:
        ranges = self.ranges(warehouse, max_events, until)
        if not ranges:
            return None
        payloads, partitions, offsets, stamps, rejected = self._consume(ranges)
        table = payload_table(
            pa.array(payloads, pa.large_string()),
            source=self.name,
            source_uri=self.topic,
            offsets=pa.array(offsets, pa.int64()),
            partitions=pa.array(partitions, pa.int32()),
            arrived_at=pa.array(stamps, pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("us", tz="UTC")),
        )
        key = f"kafka:{self.topic}:" + ",".join(f"{r.partition}:{r.start}-{r.end}" for r in ranges)
        return SourceBatch(
            payloads=table,
            position_key=key,
            position=ranges,
            rejected=pa.Table.from_pylist(rejected, REJECTED_SCHEMA),
        )

    def _consume(
        self, ranges: list[PartitionRange]
    ) -> tuple[list[str], list[int], list[int], list[int], list[dict]]:
        """Read exactly the offsets of ``ranges`` (a Python loop per message: the client's API);
        messages over the size limit become rejected rows instead of payloads."""
        wanted = {r.partition: r for r in ranges}
        # a partition is done when its consumer position reaches the range's end (offsets of
        # transaction markers are never delivered, so counting messages would wait forever)
        pending = {r.partition for r in ranges}
        self.consumer.assign([TopicPartition(self.topic, r.partition, r.start) for r in ranges])
        payloads: list[str] = []
        partitions: list[int] = []
        offsets: list[int] = []
        stamps: list[int] = []
        rejected: list[dict] = []
        last_progress = time.monotonic()
        try:
            while pending:
                messages = self.consumer.consume(num_messages=10_000, timeout=1.0)
                if messages:
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > STALL_SECONDS:
                    raise KafkaException(
                        f"no messages for {STALL_SECONDS:.0f}s; still expecting partitions {sorted(pending)}"
                    )
                for message in messages:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise KafkaException(error)
                    p, offset = message.partition(), message.offset()
                    r = wanted[p]
                    if not r.start <= offset < r.end:
                        continue
                    value = message.value() or b""
                    if len(value) > self.max_message_bytes:
                        rejected.append(self._too_large(value, p, offset))
                        continue
                    payloads.append(value.decode("utf-8", errors="backslashreplace"))
                    partitions.append(p)
                    offsets.append(offset)
                    stamps.append(message.timestamp()[1])
                positions = self.consumer.position([TopicPartition(self.topic, p) for p in pending])
                pending -= {tp.partition for tp in positions if tp.offset >= wanted[tp.partition].end}
        finally:
            self.consumer.unassign()
        return payloads, partitions, offsets, stamps, rejected

    def _too_large(self, value: bytes, partition: int, offset: int) -> dict:
        return {
            "payload": value[:HEAD_BYTES].decode("utf-8", errors="backslashreplace"),
            "reason": "too_large",
            "reason_detail": (
                f"message of {len(value):,} bytes, over LEARNREC_INGEST_MAX_LINE_BYTES={self.max_message_bytes:,}"
            ),
            "source": self.name,
            "source_uri": self.topic,
            "source_partition": partition,
            "source_offset": offset,
        }

    def record_position(self, warehouse: Warehouse, batch: SourceBatch, batch_id: str, at: datetime) -> None:
        ranges: list[PartitionRange] = batch.position
        values = ", ".join(["(?, ?, ?, ?, CAST(? AS TIMESTAMPTZ))"] * len(ranges))
        params: list[object] = []
        for r in ranges:
            params += [self.topic, r.partition, r.end, batch_id, at.astimezone(UTC).isoformat()]
        warehouse.execute(
            f"INSERT INTO {KAFKA_OFFSETS} (topic, kafka_partition, next_offset, batch_id, committed_at) "
            f"VALUES {values}",
            params,
        )

    def acknowledge(self, batch: SourceBatch) -> None:
        ranges: list[PartitionRange] = batch.position
        self.consumer.commit(
            offsets=[TopicPartition(self.topic, r.partition, r.end) for r in ranges], asynchronous=False
        )

    def close(self) -> None:
        self.consumer.close()
