"""The demo's API step: an app's round trip through ``exports.api`` on loopback.

A local issuer signs a learner's token; three events are posted, the learner's recommendations
read with the token, an impression and a click on the first one posted back; then the hourly
ingest's two steps land them (events into ``raw.learner_events``, feedback into
``raw.served_recommendations``), to show that what the API accepted is in the warehouse.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from exports.api.app import create_app
from exports.api.devissuer import DevIssuer
from exports.api.feedback import land_feedback
from exports.api.server import serve_in_thread
from exports.api.settings import ApiSettings
from exports.api.store import ServingStore, StoreUnavailable
from learnrec.ingest import run_ingest
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse


def _events(learner: str, course: str, now: datetime) -> list[dict]:
    def at(minutes: int) -> str:
        return (now - timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    meta = {"watch_duration_seconds": 420, "module_id": f"{course}-M01"}
    return [
        {
            "learner_id": learner,
            "event_type": "search",
            "course_id": course,
            "timestamp": at(3),
            "metadata": {},
        },
        {
            "learner_id": learner,
            "event_type": "click",
            "course_id": course,
            "timestamp": at(2),
            "metadata": {},
        },
        {
            "learner_id": learner,
            "event_type": "watch",
            "course_id": course,
            "timestamp": at(1),
            "metadata": meta,
        },
    ]


def exercise_api(settings: Settings) -> None:
    """Print the round trip; nothing to show when no version is served yet."""
    try:
        with ServingStore(settings.serving_path).view() as view:
            learner = view.first_learner()
    except StoreUnavailable as exc:
        print(f"\napi: skipped ({exc})")
        return
    issuer = DevIssuer().start()
    try:
        api = ApiSettings(jwks_url=issuer.url, issuer=issuer.issuer, audience=issuer.audience)
        auth = {"Authorization": f"Bearer {issuer.token(learner, 'events:write recs:read feedback:write')}"}
        with (
            serve_in_thread(create_app(settings, api)) as url,
            httpx.Client(base_url=url, headers=auth) as app,
        ):
            print(f"\napi (learnrec api serve, here on {url}; a learner's token from a local issuer)")
            recs = app.get(f"/learners/{learner}/recommendations", params={"n": 3}).raise_for_status()
            top = recs.json()["items"]
            posted = app.post(
                "/events/learner:batch", json=_events(learner, top[0]["course_id"], datetime.now(UTC))
            )
            print(
                f"  POST /events/learner:batch -> {posted.status_code}, event ids {posted.json().get('event_ids')}"
            )
            print(
                f"  GET /learners/{learner}/recommendations?n=3 -> {recs.status_code}, ETag {recs.headers['ETag']}"
            )
            for item in top:
                print(
                    f"    {item['rank']}. {item['title'] or item['course_id']:<40} {item['model_version']:<24} {item['log_id']}"
                )
            shown = datetime.now(UTC)
            reports = [
                {"log_id": top[0]["log_id"], "action": "shown", "at": shown.isoformat()},
                {
                    "log_id": top[0]["log_id"],
                    "action": "clicked",
                    "at": (shown + timedelta(seconds=4)).isoformat(),
                },
            ]
            feedback = app.post("/feedback", json={"reports": reports})
            print(f"  POST /feedback (shown, clicked) -> {feedback.status_code}")
    finally:
        issuer.stop()
    report = run_ingest(settings)
    with connect_warehouse(settings) as warehouse:
        landed = land_feedback(warehouse, settings.landing_path)
    print(f"  landed by the hourly ingest's steps: events {report.summary()}; feedback rows {landed}")
