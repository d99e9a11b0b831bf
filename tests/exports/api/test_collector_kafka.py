"""The collector with the Kafka event source, against librdkafka's mock cluster (a real
Kafka-protocol broker on loopback): accepted events land exactly once through ingestion, and a
broker that dies while a request waits for its acknowledgement makes the API answer 503 with
Retry-After."""

from __future__ import annotations

import gc
import threading
import time

import httpx
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
    del cluster


def test_a_broker_dying_mid_request_is_503_with_retry_after(world, store, issuer: Issuer, ids):
    learner, _, course = ids
    # every round trip to this broker takes 0.4 s: connecting, the idempotent producer's id and the
    # produce take several, so the request is still waiting for its acknowledgement when it dies
    cluster = Producer({"test.mock.num.brokers": 1, "test.mock.broker.rtt": 400})
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in cluster.list_topics(timeout=10).brokers.values())
    settings = world.settings.model_copy(
        update={"event_source": "kafka", "kafka_bootstrap_servers": bootstrap, "kafka_topic": "api-slow"}
    )
    answer: list[httpx.Response] = []
    with serve(settings, api_settings(issuer, kafka_delivery_timeout_seconds=3.0)) as api:
        started = time.monotonic()
        request = threading.Thread(
            target=lambda: answer.append(
                api.post(
                    BATCH, issuer.service_token("events:write"), json=[event(learner, course, seconds=600)]
                )
            )
        )
        request.start()
        time.sleep(0.6)
        assert request.is_alive(), "the request must still be waiting for Kafka"
        del cluster  # the broker goes away mid-request
        gc.collect()
        request.join(30)
    assert answer and answer[0].status_code == 503, answer and answer[0].text
    assert answer[0].headers["Retry-After"] == "5" and time.monotonic() - started > 0.6
    assert "did not acknowledge" in answer[0].json()["detail"]
