"""POST /feedback: impressions and outcomes by log_id land once into the Recommendation Log."""

from __future__ import annotations

from exports.api.feedback import land_feedback
from learnrec.warehouse import connect_warehouse

from .conftest import Issuer, Running, Store, api_settings, serve

AT = "2026-12-06T18:00:00Z"


def test_feedback_is_checked_against_the_served_version_and_the_token(
    api: Running, issuer: Issuer, store: Store
):
    me, other = store.learners[:2]
    mine, theirs = store.by_learner[me][0]["log_id"], store.by_learner[other][0]["log_id"]
    token = issuer.token(me, "feedback:write")

    def post(reports, with_token=token):
        return api.post("/feedback", with_token, json={"reports": reports})

    assert post([{"log_id": mine, "action": "shown", "at": AT}]).status_code == 202
    assert post([{"log_id": theirs, "action": "clicked", "at": AT}]).status_code == 403
    assert (
        post([{"log_id": mine, "action": "clicked", "at": AT}], issuer.token(me, "recs:read")).status_code
        == 403
    )
    assert post([{"log_id": "v0:nobody:1", "action": "clicked", "at": AT}]).status_code == 422
    assert post([{"log_id": mine, "action": "liked", "at": AT}]).status_code == 422
    assert post([{"log_id": mine, "action": "clicked", "at": "2026-12-06T18:00:00"}]).status_code == 422
    assert post([{"log_id": mine, "action": "clicked", "at": "2099-01-01T00:00:00Z"}]).status_code == 422
    assert post([]).status_code == 422


def test_reports_land_once_into_raw_served_recommendations(world, store: Store, issuer: Issuer):
    learner = store.learners[2]
    served = store.by_learner[learner]
    reports = [
        {"log_id": served[0]["log_id"], "action": "shown", "at": "2026-12-06T18:00:00Z"},
        {"log_id": served[0]["log_id"], "action": "clicked", "at": "2026-12-06T18:01:00Z"},
        {"log_id": served[1]["log_id"], "action": "enrolled", "at": "2026-12-06T18:02:00Z"},
        {"log_id": served[2]["log_id"], "action": "dismissed", "at": "2026-12-06T18:03:00Z"},
    ]
    with connect_warehouse(world.settings) as warehouse:
        land_feedback(warehouse, world.settings.landing_path)  # what earlier tests posted
    with serve(world.settings, api_settings(issuer)) as api:
        response = api.post("/feedback", issuer.service_token("feedback:write"), json={"reports": reports})
        assert response.status_code == 202, response.text
    with connect_warehouse(world.settings) as warehouse:
        before = warehouse.scalar("SELECT count(*) FROM raw.served_recommendations")
        assert land_feedback(warehouse, world.settings.landing_path) == 4
        assert land_feedback(warehouse, world.settings.landing_path) == 0  # each file once
        rows = warehouse.query(
            "SELECT log_id, learner_id, course_id, model_version, rank_at_serve, outcome, "
            "strftime(served_at, '%H:%M') AS shown, outcome_recorded_at IS NULL AS no_outcome_time "
            "FROM raw.served_recommendations WHERE learner_id = ? ORDER BY served_at",
            [learner],
        ).to_pylist()
        assert warehouse.scalar("SELECT count(*) FROM raw.served_recommendations") == before + 4
    assert [(r["log_id"], r["outcome"], r["shown"], r["no_outcome_time"]) for r in rows] == [
        (served[0]["log_id"], None, "18:00", True),
        (served[0]["log_id"], "clicked", "18:01", False),
        (served[1]["log_id"], "enrolled", "18:02", False),
        (served[2]["log_id"], "ignored", "18:03", False),
    ]
    assert [(r["course_id"], r["rank_at_serve"], r["model_version"]) for r in rows[2:]] == [
        (s["course_id"], s["rank"], s["model_version"]) for s in served[1:3]
    ]
