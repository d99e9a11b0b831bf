"""Kafka into the warehouse exactly once, against librdkafka's mock cluster (a real Kafka-protocol
broker on loopback): a 4-partition topic, one consumer group, duplicate deliveries, and a crash at
every step of a batch followed by a rerun."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from learnrec.ingest import run_ingest
from learnrec.ingest.sources.kafka import KafkaSource
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from learnrec.world.kafka import produce_landing_to_kafka
from tests.plugins.ingest.conftest import NOW, Expected, crash_at, landed_state

TOPIC = "learner-events"
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("loaded_sources")]


@pytest.fixture
def bootstrap() -> Iterator[str]:
    cluster = Producer({"test.mock.num.brokers": 1})  # the mock cluster lives as long as this object
    yield ",".join(f"{b.host}:{b.port}" for b in cluster.list_topics(timeout=10).brokers.values())
    del cluster


@pytest.fixture
def kafka_settings(settings: Settings, bootstrap: str) -> Settings:
    produce_landing_to_kafka(settings.landing_path, bootstrap, TOPIC)
    return settings.model_copy(
        update={
            "event_source": "kafka",
            "kafka_bootstrap_servers": bootstrap,
            "kafka_topic": TOPIC,
            "ingest_batch_events": 150,
        }
    )


def ingest(settings: Settings, **kwargs):
    return run_ingest(settings, now=lambda: NOW, **kwargs)


def high_watermarks(bootstrap: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        parts = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1] for p in parts}
    finally:
        consumer.close()


def test_all_partitions_land_exactly_once_and_offsets_follow(
    kafka_settings: Settings, expected: Expected, bootstrap: str
) -> None:
    report = ingest(kafka_settings)

    assert len(report.batches) > 2, "bounded micro-batches"
    assert report.total("consumed") == expected.lines
    assert report.total("loaded") == len(expected.event_ids)
    assert report.total("quarantined") == expected.rejected
    highs = high_watermarks(bootstrap)
    assert len(highs) > 1
    with connect_warehouse(kafka_settings) as warehouse:
        state = landed_state(warehouse)
        stored = warehouse.query(
            "SELECT kafka_partition, max(next_offset) AS n FROM raw.kafka_offsets GROUP BY 1"
        ).to_pylist()
        coordinates = warehouse.query(
            "SELECT source_partition, source_offset FROM raw.learner_events UNION ALL "
            "SELECT source_partition, source_offset FROM raw.quarantined_events"
        ).to_pylist()
    assert state["events"] == sorted(expected.event_ids)
    assert {r["kafka_partition"]: r["n"] for r in stored} == {p: h for p, h in highs.items() if h}
    assert all(c["source_partition"] is not None for c in coordinates)
    # the group's committed offsets follow the warehouse (after each commit)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": kafka_settings.kafka_group_id})
    committed = consumer.committed([TopicPartition(TOPIC, p) for p in highs], timeout=10)
    consumer.close()
    assert {tp.partition: tp.offset for tp in committed if tp.offset >= 0} == {
        p: h for p, h in highs.items() if h
    }


def test_new_messages_after_a_run_are_the_next_batch(
    kafka_settings: Settings, expected: Expected, bootstrap
) -> None:
    ingest(kafka_settings)
    redelivered = produce_landing_to_kafka(kafka_settings.landing_path, bootstrap, TOPIC)  # at-least-once
    report = ingest(kafka_settings)
    assert report.total("consumed") == redelivered
    assert report.total("loaded") == 0
    assert report.total("duplicates") + report.total("quarantined") == redelivered
    with connect_warehouse(kafka_settings) as warehouse:
        assert landed_state(warehouse)["events"] == sorted(expected.event_ids)


STEPS = ["validated", "staged", "events_inserted", "in_transaction", "committed", "acknowledged"]


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_then_a_rerun_gives_no_duplicate_and_no_gap(
    kafka_settings: Settings, expected: Expected, step: str
) -> None:
    crash = crash_at(step)

    with pytest.raises(RuntimeError, match="injected crash"):
        ingest(kafka_settings, fault=crash)
    ingest(kafka_settings)
    with connect_warehouse(kafka_settings) as warehouse:
        state = landed_state(warehouse)
    assert state["events"] == sorted(expected.event_ids)
    assert len(state["quarantine"]) == expected.rejected == len(set(state["quarantine"]))


def test_ranges_respect_the_batch_budget(kafka_settings: Settings) -> None:
    source = KafkaSource.from_settings(kafka_settings)
    try:
        with connect_warehouse(kafka_settings) as warehouse:
            from learnrec.ingest.tables import ensure_tables

            ensure_tables(warehouse)
            ranges = source.ranges(warehouse, 40, None)
    finally:
        source.close()
    assert sum(r.end - r.start for r in ranges) == 40
    assert all(r.start == 0 for r in ranges)


def test_a_stored_position_beyond_the_partitions_end_is_an_error_not_a_silent_skip(
    kafka_settings: Settings, bootstrap: str
) -> None:
    """The topic was recreated (or truncated by an unclean leader election): new messages take
    offsets below the stored position, and skipping to it would silently drop them."""
    ingest(kafka_settings)
    highs = high_watermarks(bootstrap)
    with connect_warehouse(kafka_settings) as warehouse:
        warehouse.execute(
            "INSERT INTO raw.kafka_offsets VALUES (?, 0, ?, 'recreated', CAST(? AS TIMESTAMPTZ))",
            [TOPIC, highs[0] + 1000, NOW.isoformat()],
        )
    with pytest.raises(KafkaException, match=r"partition 0: stored position \d+ is beyond"):
        ingest(kafka_settings)


class WithProducer:
    """The real consumer with a producer beside it, for tests that must produce at one exact
    moment of a batch (races that cannot be timed from outside)."""

    def __init__(self, consumer: Consumer, bootstrap: str) -> None:
        self.consumer = consumer
        self.producer = Producer({"bootstrap.servers": bootstrap})

    def __getattr__(self, name: str):
        return getattr(self.consumer, name)


def test_messages_arriving_while_a_batch_is_planned_after_until_are_left_for_later(
    kafka_settings: Settings, expected: Expected, bootstrap: str
) -> None:
    """Messages stamped after ``until`` that arrive while the batch looks up its bounds: the
    high watermark must be the one seen before ``until`` is resolved, or they are taken too. The
    real consumer is wrapped only to produce at that exact moment (the race cannot be timed)."""
    until = datetime.now(UTC) + timedelta(hours=1)  # after every message produced so far

    class ProducesDuringTheLookup(WithProducer):
        def offsets_for_times(self, *args, **kwargs):
            found = self.consumer.offsets_for_times(*args, **kwargs)
            later = int(until.timestamp() * 1000) + 60_000
            for p in high_watermarks(bootstrap):
                self.producer.produce(TOPIC, value=b'{"late":1}', partition=p, timestamp=later)
            self.producer.flush(10)
            return found

    whole = kafka_settings.model_copy(update={"ingest_batch_events": 1_000_000})
    source = KafkaSource.from_settings(whole)
    source.consumer = ProducesDuringTheLookup(source.consumer, bootstrap)
    report = ingest(whole, until=until, source=source, max_batches=1)
    del source  # and its producer, before the mock cluster goes
    assert report.total("consumed") == expected.lines
    with connect_warehouse(whole) as warehouse:
        assert not warehouse.scalar("SELECT count(*) FROM raw.quarantined_events WHERE payload LIKE '%late%'")


def test_a_run_stops_at_the_high_watermarks_seen_at_its_start_under_a_steady_stream(
    kafka_settings: Settings, expected: Expected, bootstrap: str
) -> None:
    """Without ``until`` (the CLI's default), a topic that keeps receiving messages must not keep
    a run going batch after batch. The real consumer is wrapped only to produce while it reads."""

    class SteadyStream(WithProducer):
        def consume(self, *args, **kwargs):
            self.producer.produce(TOPIC, value=b'{"later":1}', partition=0)
            self.producer.flush(10)
            return self.consumer.consume(*args, **kwargs)

    source = KafkaSource.from_settings(kafka_settings)
    source.consumer = SteadyStream(source.consumer, bootstrap)
    report = ingest(kafka_settings, source=source, max_batches=50)
    del source  # and its producer, before the mock cluster goes
    assert report.total("consumed") == expected.lines
    assert len(report.batches) < 50


@pytest.mark.integration
def test_a_message_over_the_size_limit_is_quarantined_too_large_with_its_head(
    kafka_settings: Settings, expected: Expected, bootstrap: str
) -> None:
    limit = kafka_settings.ingest_max_line_bytes
    big = b'{"learner_id": "' + b"x" * (limit + 10) + b'"}'
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(TOPIC, value=big)
    assert producer.flush(10) == 0
    report = ingest(kafka_settings)
    assert report.total("consumed") == expected.lines + 1
    assert report.total("loaded") == len(expected.event_ids)
    with connect_warehouse(kafka_settings) as warehouse:
        rows = warehouse.query(
            "SELECT payload, reason_detail, source_partition, source_offset FROM raw.quarantined_events "
            "WHERE reason = 'too_large'"
        ).to_pylist()
    assert len(rows) == 1
    assert len(rows[0]["payload"]) == 256 and rows[0]["payload"].startswith('{"learner_id": "xxx')
    assert f"{len(big):,} bytes" in rows[0]["reason_detail"]
    assert rows[0]["source_partition"] is not None and rows[0]["source_offset"] is not None
