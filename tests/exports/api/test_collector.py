"""POST /events/learner and :batch: ingestion's verdict, the sinks, and exactly-once landing."""

from __future__ import annotations

import json
import time
from pathlib import Path

from learnrec.contracts.events import LearnerEvent, event_id, parse_payload
from learnrec.ingest import run_ingest
from learnrec.ingest.validate import REASONS
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots

from .conftest import Issuer, Running, api_settings, event, serve

ONE = "/events/learner"
BATCH = "/events/learner:batch"


def bad_payloads(learner: str, course: str) -> dict[str, str]:
    """One payload per quarantine reason, each failing only that check."""
    good = event(learner, course)
    dump = json.dumps
    return {
        "malformed_json": '{"learner_id": "x",',
        "not_an_object": "[1, 2]",
        "duplicate_field": dump(good)[:-1] + f', "learner_id": "{learner}"}}',
        "unexpected_field": dump({**good, "device": "ios"}),
        "missing_field": dump({k: v for k, v in good.items() if k != "course_id"}),
        "wrong_type": dump({**good, "learner_id": 42}),
        "invalid_timestamp": dump({**good, "timestamp": "2026-11-01T10:00:00"}),
        "unknown_event_type": dump({**good, "event_type": "like"}),
        "missing_metadata": dump({**good, "metadata": {}}),
        "out_of_range": dump({**good, "metadata": {"watch_duration_seconds": 10**6, "module_id": "m"}}),
        "future_timestamp": dump({**good, "timestamp": "2099-01-01T00:00:00Z"}),
        "unknown_learner": dump({**good, "learner_id": "L-nobody"}),
        "unknown_course": dump({**good, "course_id": "C-nothing"}),
        "too_large": dump({**good, "metadata": {**good["metadata"], "module_id": "m" * 100_000}}),
    }


def test_every_quarantine_reason_is_refused_with_its_code(api: Running, issuer: Issuer, ids):
    learner, _, course = ids
    token = issuer.service_token("events:write")
    cases = bad_payloads(learner, course)
    # erasure requests live in the warehouse, which the API never opens: ingestion quarantines
    # an erased learner's events (by hash); every other reason is the API's to refuse
    assert set(cases) == set(REASONS) - {"erased_learner"}
    for reason, payload in cases.items():
        response = api.post(ONE, token, content=payload, headers={"Content-Type": "application/json"})
        expected = 400 if reason in ("malformed_json", "not_an_object", "duplicate_field") else 422
        assert response.status_code == expected, (reason, response.text)
        assert [e["reason"] for e in response.json()["errors"]] == [reason]
    # and a batch of all of them lists every one, by index; nothing of it is accepted
    body = "[" + ", ".join([json.dumps(event(learner, course)), *cases.values()]) + "]"
    body = body.replace('{"learner_id": "x",', '"not an event"')  # the array itself must parse
    response = api.post(BATCH, token, content=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["index"] for e in errors] == list(range(1, len(cases) + 1))
    assert [e["reason"] for e in errors] == ["not_an_object", *list(cases)[1:]]


def _landed_lines(folder: Path) -> list[str]:
    return [line for p in sorted(folder.rglob("api-*.jsonl")) for line in p.read_text().splitlines()]


def test_a_valid_event_is_fsynced_answered_with_its_id_and_published_on_rotation(
    world, store, issuer: Issuer, ids
):
    learner, other, course = ids
    folder = world.landing / "learner_events"
    with serve(world.settings, api_settings(issuer, landing_rotate_seconds=0.5)) as api:
        before = _landed_lines(folder)
        good = event(learner, course, seconds=1)
        response = api.post(ONE, issuer.token(learner, "events:write"), json=good)
        assert response.status_code == 202, response.text
        expected_id = event_id(LearnerEvent.model_validate(good))
        assert response.json()["event_ids"] == [expected_id]
        assert list(folder.rglob("api-*.jsonl.tmp"))  # written before the answer, not yet published
        # a learner's token posts only that learner's events
        assert (
            api.post(ONE, issuer.token(learner, "events:write"), json=event(other, course)).status_code == 403
        )
        assert api.post(ONE, issuer.token(learner, "recs:read"), json=good).status_code == 403
        deadline = time.monotonic() + 10
        while len(_landed_lines(folder)) == len(before) and time.monotonic() < deadline:
            time.sleep(0.1)
    new = _landed_lines(folder)[len(before) :]
    assert [event_id(LearnerEvent.model_validate(parse_payload(line))) for line in new] == [expected_id]
    assert not list(folder.rglob("api-*.jsonl.tmp"))


def test_batches_are_all_or_nothing_and_bounded(world, store, issuer: Issuer, ids):
    learner, other, course = ids
    token = issuer.service_token("events:write")
    with serve(world.settings, api_settings(issuer, batch_max_events=3)) as api:
        good = [event(learner, course, seconds=10 + i) for i in range(3)]
        response = api.post(BATCH, token, json=good)
        assert response.status_code == 202
        assert response.json()["event_ids"] == [event_id(LearnerEvent.model_validate(e)) for e in good]
        assert (
            api.post(BATCH, token, json=[*good, good[0]]).json()["errors"][0]["reason"] == "too_many_events"
        )
        assert api.post(BATCH, token, content='{"not": "an array"}').status_code == 400
        assert api.post(BATCH, token, content="[").json()["errors"][0]["reason"] == "malformed_json"
        assert api.post(BATCH, token, json=[]).status_code == 400
        # a learner's batch with another learner's event: refused whole
        mixed = [event(learner, course, seconds=20), event(other, course, seconds=21)]
        assert api.post(BATCH, issuer.token(learner, "events:write"), json=mixed).status_code == 403
        lines = [json.loads(line) for line in _landed_lines(world.landing / "learner_events")]
        lines += [
            json.loads(line)
            for p in (world.landing / "learner_events").rglob("api-*.tmp")
            for line in p.read_text().splitlines()
        ]
    assert not [e for e in lines if e["timestamp"] in {m["timestamp"] for m in mixed}]


def test_an_event_accepted_twice_lands_exactly_once_through_ingestion_files(
    world, store, issuer: Issuer, ids
):
    learner, _, course = ids
    settings = world.settings
    with connect_warehouse(settings) as warehouse:
        load_source_snapshots(warehouse, settings.landing_path)
    posted = [event(learner, course, seconds=100 + i) for i in range(4)]
    token = issuer.service_token("events:write")
    with serve(settings, api_settings(issuer)) as api:
        first = api.post(BATCH, token, json=posted).json()["event_ids"]
        again = api.post(BATCH, token, json=posted[:2]).json()["event_ids"]  # a client's retry
    assert again == first[:2]
    run_ingest(settings)  # the shutdown published the files
    with connect_warehouse(settings) as warehouse:
        rows = warehouse.query(
            "SELECT event_id, count(*) AS n FROM raw.learner_events WHERE event_id IN (SELECT unnest(?)) GROUP BY 1",
            [first],
        ).to_pylist()
    assert sorted(r["event_id"] for r in rows) == sorted(first) and {r["n"] for r in rows} == {1}


def test_a_payload_spanning_lines_is_handed_on_as_one_line_of_the_same_event(
    world, store, issuer: Issuer, ids
):
    learner, _, course = ids
    pretty = json.dumps(event(learner, course, seconds=900), indent=2)
    with serve(world.settings, api_settings(issuer)) as api:
        response = api.post(ONE, issuer.token(learner, "events:write"), content=pretty)
        assert response.status_code == 202
    (accepted,) = response.json()["event_ids"]
    landed = _landed_lines(world.landing / "learner_events")
    matching = [
        line for line in landed if event_id(LearnerEvent.model_validate(parse_payload(line))) == accepted
    ]
    assert matching == [json.dumps(json.loads(pretty), separators=(",", ":"))]


def test_an_oversized_body_is_413_and_unreachable_keys_are_503(world, store, issuer: Issuer, ids):
    learner, _, course = ids
    with serve(world.settings, api_settings(issuer, max_body_bytes=2048)) as api:
        big = [event(learner, course, seconds=950 + i) for i in range(30)]
        response = api.post(BATCH, issuer.service_token("events:write"), json=big)
        assert response.status_code == 413 and response.json()["errors"][0]["reason"] == "too_large"
    unreachable = api_settings(issuer).model_copy(update={"jwks_url": "http://127.0.0.1:9/jwks.json"})
    with serve(world.settings, unreachable) as api:
        response = api.post(ONE, issuer.service_token("events:write"), json=event(learner, course))
        assert response.status_code == 503 and response.headers["Retry-After"]
