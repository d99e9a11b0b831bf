"""The demo's API step: events, a read with a token and feedback, then landed in the warehouse."""

from __future__ import annotations

from exports.api.demo import exercise_api
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots

from .conftest import Store


def test_the_demo_posts_events_reads_and_reports_back(world, store: Store, capsys):
    settings = world.settings
    with connect_warehouse(settings) as warehouse:
        load_source_snapshots(warehouse, settings.landing_path)
    exercise_api(settings)
    out = capsys.readouterr().out
    learner = store.learners[0]
    assert "POST /events/learner:batch -> 202" in out and "POST /feedback (shown, clicked) -> 202" in out
    assert f"GET /learners/{learner}/recommendations?n=3 -> 200" in out
    with connect_warehouse(settings) as warehouse:
        clicked = warehouse.scalar(
            "SELECT count(*) FROM raw.served_recommendations WHERE log_id = ? AND outcome = 'clicked'",
            [store.by_learner[learner][0]["log_id"]],
        )
        watched = warehouse.scalar(
            "SELECT count(*) FROM raw.learner_events WHERE learner_id = ? AND source_uri LIKE '%/api-%'",
            [learner],
        )
    assert clicked == 1 and watched == 3
