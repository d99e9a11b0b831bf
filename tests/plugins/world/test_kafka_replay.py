"""`learnrec generate --kafka`: landing lines replayed onto a topic of librdkafka's mock broker."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from learnrec.world.kafka import landing_files, produce_landing_to_kafka
from tests.plugins.world.conftest import make_world


@pytest.mark.integration
def test_every_landing_line_reaches_the_topic_keyed_by_learner(tmp_path) -> None:
    world = make_world(tmp_path, n_learners=80, n_courses=60, days=3)
    cluster = Producer({"test.mock.num.brokers": 1})  # the mock broker lives as long as this object
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in cluster.list_topics(timeout=10).brokers.values())
    sent = produce_landing_to_kafka(world.landing, bootstrap, "learner-events")
    lines = [line for path in landing_files(world.landing) for line in path.read_bytes().splitlines()]
    assert sent == len(lines) == world.summary.lines

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "t", "auto.offset.reset": "earliest"})
    partitions = cluster.list_topics("learner-events", timeout=10).topics["learner-events"].partitions
    consumer.assign([TopicPartition("learner-events", p, 0) for p in partitions])
    received, keys_by_learner = [], {}
    while len(received) < sent:
        message = consumer.poll(5)
        assert message is not None, f"only {len(received)} of {sent} messages arrived"
        assert message.error() is None
        received.append(message.value())
        if message.key():
            keys_by_learner.setdefault(message.key(), set()).add(message.partition())
    consumer.close()
    assert sorted(received) == sorted(lines)
    assert all(len(parts) == 1 for parts in keys_by_learner.values()), "a learner's events share a partition"
