"""Concurrent requests share validation passes, and each still gets its own verdict."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from exports.api.collector import GroupValidator
from exports.api.known import KnownIdsCache
from learnrec.contracts.events import LearnerEvent, event_id

from .conftest import event


def test_concurrent_requests_are_judged_together_each_on_its_own(world, ids):
    learner, other, course = ids
    validator = GroupValidator(KnownIdsCache(world.landing, 60))
    requests = []
    for r in range(24):
        batch = [event(learner if r % 2 else other, course, seconds=r * 10 + i) for i in range(5)]
        payloads = [json.dumps(e) for e in batch]
        if r % 6 == 0:
            payloads[r % 5] = json.dumps({**batch[0], "event_type": "like"})
        requests.append(payloads)
    start = threading.Barrier(len(requests))

    def submit(payloads):
        start.wait()
        return validator.check(payloads)

    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(submit, requests))
    for r, (payloads, checked) in enumerate(zip(requests, results, strict=True)):
        if r % 6 == 0:
            assert [(p.index, p.reason) for p in checked.problems] == [(r % 5, "unknown_event_type")]
            assert not checked.event_ids
        else:
            assert not checked.problems
            assert checked.event_ids == [event_id(LearnerEvent.model_validate_json(p)) for p in payloads]
    assert validator.passes < len(requests)  # grouped
