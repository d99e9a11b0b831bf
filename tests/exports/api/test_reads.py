"""REST reads over the serving store: pages, filters, the version's ETag, courses, health."""

from __future__ import annotations

import sqlite3

from exports.api.store import ServingStore

from .conftest import Issuer, Running, Store, api_settings, serve


def test_recommendations_page_with_offsets_and_every_field(api: Running, issuer: Issuer, store: Store):
    learner = store.learners[0]
    token = issuer.token(learner, "recs:read")
    expected = store.by_learner[learner]
    first = api.get(f"/learners/{learner}/recommendations", token, params={"n": 5}).json()
    assert first["version"] == "v1" and first["total"] == len(expected) and first["next_offset"] == 5
    item = first["items"][0]
    assert {
        k: item[k]
        for k in ("rank", "course_id", "score", "reason", "model_version", "log_id", "signals_used")
    } == {
        k: expected[0][k]
        for k in ("rank", "course_id", "score", "reason", "model_version", "log_id", "signals_used")
    }
    pages, offset = [], 0
    while offset is not None:
        page = api.get(
            f"/learners/{learner}/recommendations", token, params={"n": 5, "offset": offset}
        ).json()
        pages += page["items"]
        offset = page["next_offset"]
    assert [r["rank"] for r in pages] == list(range(1, len(expected) + 1))
    assert api.get(f"/learners/{learner}/recommendations", token, params={"n": 10_000}).status_code == 422


def test_filters_by_skill_domain_and_format(api: Running, issuer: Issuer, store: Store, world):
    learner = store.learners[1]
    token = issuer.service_token("recs:read")
    every = api.get(f"/learners/{learner}/recommendations", token, params={"n": 100}).json()["items"]
    domain, fmt = every[0]["domain"], every[0]["format"]
    for params, keep in (
        ({"domain": domain}, lambda r: r["domain"] == domain),
        ({"format": fmt}, lambda r: r["format"] == fmt),
        ({"domain": domain, "format": fmt}, lambda r: r["domain"] == domain and r["format"] == fmt),
    ):
        got = api.get(f"/learners/{learner}/recommendations", token, params={"n": 100, **params}).json()
        assert [r["log_id"] for r in got["items"]] == [r["log_id"] for r in every if keep(r)]
        assert got["total"] == len(got["items"]) >= 1


def test_etag_is_the_version_and_an_unchanged_version_is_304(api: Running, issuer: Issuer, store: Store):
    learner = store.learners[0]
    token = issuer.token(learner, "recs:read")
    response = api.get(f"/learners/{learner}/recommendations", token)
    assert response.headers["ETag"] == 'W/"v1"'
    assert response.headers["Cache-Control"] == "private, max-age=60"
    again = api.get(f"/learners/{learner}/recommendations", token, headers={"If-None-Match": 'W/"v1"'})
    assert again.status_code == 304 and again.content == b""
    stale = api.get(f"/learners/{learner}/recommendations", token, headers={"If-None-Match": 'W/"v0"'})
    assert stale.status_code == 200
    course = api.get(f"/courses/{response.json()['items'][0]['course_id']}", token)
    assert course.headers["Cache-Control"] == "public, max-age=60"


def test_learning_path_course_metadata_and_similar_courses(api: Running, issuer: Issuer, store: Store, world):
    learner = store.learners[0]
    token = issuer.token(learner, "recs:read")
    path = api.get(f"/learners/{learner}/learning-path", token).json()
    assert [s["step"] for s in path["steps"]] == [1, 2] and path["steps"][0]["source"] == "static"
    course_id = store.by_learner[learner][0]["course_id"]
    course = api.get(f"/courses/{course_id}", token).json()["course"]
    assert course["course_id"] == course_id and isinstance(course["skill_tags"], list) and course["format"]
    similar = api.get(f"/courses/{course_id}/similar", token, params={"n": 3}).json()["items"]
    con = sqlite3.connect(world.settings.serving_path)
    expected = [r[0] for r in con.execute(
        "SELECT similar_course_id FROM similar_courses WHERE course_id = ? ORDER BY rank LIMIT 3", [course_id]
    )]  # fmt: skip
    con.close()
    assert [c["course_id"] for c in similar] == expected and len(expected) == 3 and course_id not in expected
    assert similar[0]["score"] >= similar[1]["score"] >= similar[2]["score"]
    assert api.get("/courses/C-none", token).status_code == 404
    assert api.get("/learners/L-none/recommendations", issuer.service_token("recs:read")).status_code == 404


def test_health(api: Running, world, issuer: Issuer):
    assert api.get("/health/live").json() == {"status": "live"}
    ready = api.get("/health/ready").json()
    assert ready["status"] == "ready" and ready["version"] == "v1" and ready["version_age_seconds"] >= 0
    assert (
        api.get("/docs").status_code == 200 and "/events/learner" in api.get("/openapi.json").json()["paths"]
    )
    empty = world.settings.model_copy(update={"home": world.settings.home / "nothing-exported"})
    with serve(empty, api_settings(issuer)) as bare:
        assert bare.get("/health/ready").status_code == 503
        response = bare.get("/courses/C1", issuer.service_token("recs:read"))
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def test_a_learner_whose_retention_ends_while_the_version_is_live_is_no_longer_served(
    world, store: Store, tmp_path
):
    """A version can outlive a learner's ``retention_expiry`` (gates failing for days): every read
    of theirs stops at that moment, from the store's own ``retention`` table."""
    copy = tmp_path / "serving.sqlite"
    copy.write_bytes(world.settings.serving_path.read_bytes())
    expired, kept = sorted(store.by_learner)[:2]
    with sqlite3.connect(copy) as con:
        con.execute(
            "UPDATE retention SET expires_at = '2000-01-01T00:00:00.000000+00:00' WHERE learner_id = ?",
            [expired],
        )
    with ServingStore(copy).view() as view:
        assert not view.has_learner(expired)
        assert view.recommendations(expired, 10, 0) == ([], 0)
        assert view.learning_path(expired) == []
        assert view.served(store.by_learner[expired][0]["log_id"]) is None
        assert view.has_learner(kept)
        assert view.recommendations(kept, 10, 0)[1] == len(store.by_learner[kept])
        assert view.learning_path(kept)
        assert view.served(store.by_learner[kept][0]["log_id"]) is not None
