"""A version swap while apps read: each response is one version, old or new, never a mix."""

from __future__ import annotations

import threading

from .conftest import Issuer, Running, Store, export_store


def test_reads_during_swaps_see_one_version_each(api: Running, issuer: Issuer, store: Store, world):
    token = issuer.service_token("recs:read")
    seen: list[tuple[str, set[str], str]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for learner in store.learners:
                response = api.get(f"/learners/{learner}/recommendations", token, params={"n": 12})
                body = response.json()
                prefixes = {item["log_id"].split(":")[0] for item in body["items"]}
                seen.append((body["version"], prefixes, response.headers["ETag"]))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for run_id in ("v2", "v1-again", "v3"):
            export_store(world.settings, run_id, store.learners)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    versions = {version for version, _, _ in seen}
    assert len(versions) >= 2, versions  # the swaps happened while reading
    assert all(prefixes == {version} and etag == f'W/"{version}"' for version, prefixes, etag in seen)
