"""The collector with the Kafka event source, against librdkafka's mock cluster (a real
Kafka-protocol broker on loopback): accepted events land exactly once through ingestion, and a
broker that is gone makes the API answer 503 with Retry-After."""

from __future__ import annotations

import gc

import pytest
from confluent_kafka import Producer

from learnrec.ingest import run_ingest
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots

from .conftest import Issuer, api_settings, event, serve
from .test_collector import BATCH

pytestmark = pytest.mark.integration


def test_kafka_accepted_events_land_exactly_once_and_a_dead_broker_is_503(world, store, issuer: Issuer, ids):
    learner, _, course = ids
    cluster = Producer({"test.mock.num.brokers": 1})  # the mock cluster lives as long as this object
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in cluster.list_topics(timeout=10).brokers.values())
    settings = world.settings.model_copy(
        update={"event_source": "kafka", "kafka_bootstrap_servers": bootstrap, "kafka_topic": "api-events"}
    )
    with connect_warehouse(settings) as warehouse:
        load_source_snapshots(warehouse, settings.landing_path)
    token = issuer.service_token("events:write")
    posted = [event(learner, course, seconds=500 + i) for i in range(5)]
    with serve(settings, api_settings(issuer, kafka_delivery_timeout_seconds=1.0)) as api:
        first = api.post(BATCH, token, json=posted)
        assert first.status_code == 202, first.text
        assert api.post(BATCH, token, json=posted[:2]).status_code == 202  # a retry: same ids
        run_ingest(settings)
        with connect_warehouse(settings) as warehouse:
            counts = warehouse.query(
                "SELECT event_id, count(*) AS n FROM raw.learner_events GROUP BY 1 ORDER BY 1"
            ).to_pylist()
        assert {r["event_id"] for r in counts} == set(first.json()["event_ids"])
        assert {r["n"] for r in counts} == {1}
        del cluster  # the broker goes away
        gc.collect()
        down = api.post(BATCH, token, json=[event(learner, course, seconds=600)])
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"] == "5"
    assert "did not acknowledge" in down.json()["detail"]
