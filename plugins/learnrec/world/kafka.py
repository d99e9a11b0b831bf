"""Replay landing files onto a Kafka topic, in arrival order, as the apps' event collector would."""

from __future__ import annotations

import re
from pathlib import Path

from learnrec.world.landing import EVENTS_FOLDER

_LEARNER = re.compile(rb'"learner_id":"([^"]*)"')


def landing_files(landing: Path) -> list[Path]:
    """Complete landing files in arrival order (the folder names sort by date and hour)."""
    return sorted((landing / EVENTS_FOLDER).glob("date=*/hour=*/*.jsonl"))


def produce_landing_to_kafka(
    landing: Path,
    bootstrap_servers: str,
    topic: str,
    extra_config: dict[str, str] | None = None,
    flush_seconds: float = 60,
) -> int:
    """Produce every landing line as one message keyed by learner id (so a learner's events stay
    ordered within a partition); malformed lines are produced too, unkeyed. Returns the count.
    Messages still undelivered after ``flush_seconds`` (a broker nobody answers on) are a
    ``KafkaException``, which the CLI tells the operator in one sentence."""
    from confluent_kafka import KafkaException, Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "linger.ms": 50,
            "enable.idempotence": True,
            **(extra_config or {}),
        }
    )
    sent = 0
    for path in landing_files(landing):
        with path.open("rb") as lines:
            for line in lines:
                payload = line.rstrip(b"\n")
                match = _LEARNER.search(payload)
                while True:
                    try:
                        producer.produce(topic, value=payload, key=match.group(1) if match else None)
                        break
                    except BufferError:
                        producer.poll(0.5)
                sent += 1
                if sent % 10_000 == 0:
                    producer.poll(0)
    remaining = producer.flush(flush_seconds)
    if remaining:
        raise KafkaException(f"{remaining} messages were not delivered to {topic} at {bootstrap_servers}")
    return sent
