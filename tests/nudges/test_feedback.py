"""Delivery events back in: SendGrid Event Webhook batches and FCM delivery records from the
landing folder into raw.notification_events, idempotently, with bounces blocking the address and
unattributable events quarantined."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from exports.nudges.delivery import deliver_due
from exports.nudges.feedback import ingest_notification_events
from exports.nudges.planning import plan_nudges
from learnrec.notify.file_sink import FileSink
from tests.nudges.conftest import DAY, NOON_UTC, add_learners, draft, learner, outbox

T0 = int(datetime(2026, 3, 10, 14, 5, tzinfo=UTC).timestamp())
LATER = NOON_UTC + timedelta(hours=1)


def sendgrid_event(kind: str, learner_id: str = "L1", offset: int = 0, **extra: object) -> dict:
    """An event as SendGrid's Event Webhook posts it, with our custom_args at top level."""
    event = {
        "email": f"{learner_id.lower()}@example.com",
        "timestamp": T0 + offset,
        "event": kind,
        "sg_event_id": f"evt-{kind}-{learner_id}-{offset}",
        "sg_message_id": f"sg-{learner_id}.filterdrecv-1234-5-6",
        "notification_id": f"{learner_id}:inactivity:2026-03-10",
        "learner_id": learner_id,
        "nudge_type": "inactivity",
        "course_id": "C1",
    }
    event.update(extra)
    return event


@pytest.fixture
def landing(settings):
    root = settings.landing_path / "notification_events"
    (root / "sendgrid").mkdir(parents=True)
    (root / "fcm").mkdir(parents=True)
    return root


def feedback_events(warehouse) -> list[tuple]:
    """Status events in a total order: same-moment events (two bounces at one second) tie on
    event_at and status, so notification_id breaks the tie rather than DuckDB's scan order."""
    return [
        (r["notification_id"], r["status"], r["provider"], r["provider_message_id"])
        for r in warehouse.query(
            "SELECT * FROM raw.notification_events WHERE status IN ('delivered', 'opened', 'clicked', 'bounced')"
            " OR provider_message_id LIKE 'projects/%' AND status <> 'sent' ORDER BY event_at, status, notification_id"
        ).to_pylist()
    ]


def webhook_batch() -> list[dict]:
    """One Event Webhook POST: ignored, status and unsubscribing events of four learners."""
    return [
        sendgrid_event("processed"),
        sendgrid_event("delivered", offset=1),
        sendgrid_event("open", offset=60),
        sendgrid_event("click", offset=90, url="https://learnrec.example/c/C1"),
        sendgrid_event("bounce", "L2", offset=2, type="bounce", reason="550 5.1.1 unknown user"),
        sendgrid_event("bounce", "L3", offset=2, type="blocked", reason="spam filter"),
        sendgrid_event("unsubscribe", "L4", offset=5),
        sendgrid_event("deferred", offset=3),
    ]


def test_sendgrid_webhook_batch_is_ingested_once(settings, warehouse, landing) -> None:
    batch = webhook_batch()
    (landing / "sendgrid" / "batch-0001.json").write_text(json.dumps(batch))
    report = ingest_notification_events(warehouse, landing, now=LATER)
    assert (report.files, report.events, report.quarantined) == (1, 5, 0)
    assert dict(report.ignored) == {"sendgrid:processed": 1, "sendgrid:deferred": 1}
    assert feedback_events(warehouse) == [
        ("L1:inactivity:2026-03-10", "delivered", "sendgrid", "sg-L1"),
        ("L2:inactivity:2026-03-10", "bounced", "sendgrid", "sg-L2"),
        ("L3:inactivity:2026-03-10", "bounced", "sendgrid", "sg-L3"),
        ("L1:inactivity:2026-03-10", "opened", "sendgrid", "sg-L1"),
        ("L1:inactivity:2026-03-10", "clicked", "sendgrid", "sg-L1"),
    ]
    # hard bounce and unsubscribe block e-mail; a block (type=blocked) does not
    assert warehouse.query(
        "SELECT learner_id, channel, reason FROM raw.nudge_unsubscribes ORDER BY learner_id"
    ).to_pylist() == [
        {"learner_id": "L2", "channel": "email", "reason": "hard_bounce"},
        {"learner_id": "L4", "channel": "email", "reason": "unsubscribe"},
    ]

    # the same file again, and SendGrid redelivering the batch as a new file: nothing new
    again = ingest_notification_events(warehouse, landing, now=LATER)
    assert (again.files, again.skipped_files, again.events) == (0, 1, 0)
    (landing / "sendgrid" / "batch-0002.json").write_text(json.dumps(batch[:4]))
    redelivered = ingest_notification_events(warehouse, landing, now=LATER)
    assert (redelivered.files, redelivered.events, redelivered.duplicates) == (1, 0, 3)
    assert warehouse.scalar("SELECT COUNT(*) FROM raw.notification_events") == 5
    assert warehouse.scalar("SELECT COUNT(*) FROM raw.nudge_unsubscribes") == 2


def test_bad_events_and_files_are_quarantined_with_a_reason(settings, warehouse, landing) -> None:
    good = sendgrid_event("delivered")
    foreign = {k: v for k, v in sendgrid_event("open").items() if k not in ("notification_id", "learner_id")}
    (landing / "sendgrid" / "a.json").write_text(
        json.dumps(
            [
                good,
                foreign,
                sendgrid_event("delivered", timestamp="not a time"),
                sendgrid_event("teleport"),
                7,
            ]
        )
    )
    (landing / "sendgrid" / "b.json").write_text("{not json")
    (landing / "fcm" / "c.jsonl").write_text(
        '{"event": "MESSAGE_DELIVERED", "message_id": "999", "event_timestamp": "2026-03-10T14:00:00Z"}\nnot json\n'
    )
    report = ingest_notification_events(warehouse, landing, now=LATER)
    assert report.events == 1
    reasons = sorted(
        r["reason"]
        for r in warehouse.query("SELECT reason FROM raw.quarantined_notification_events").to_pylist()
    )
    assert len(reasons) == report.quarantined == 7
    assert any("no learner_id" in r for r in reasons)
    assert any("unknown SendGrid event type 'teleport'" in r for r in reasons)
    assert any("unreadable file" in r for r in reasons)
    assert any("unknown FCM message_id" in r for r in reasons)
    assert any("not a JSON object" in r for r in reasons)
    assert any("invalid JSON" in r for r in reasons)
    assert any("bad timestamp 'not a time'" in r for r in reasons)


def test_fcm_delivery_records_join_the_outbox_by_message_id(settings, warehouse, landing) -> None:
    add_learners(warehouse, learner("P1", email=None))
    plan_nudges(warehouse, [draft("P1")], DAY, settings, now=NOON_UTC)
    key = "P1:inactivity:2026-03-10"
    message_id = "projects/learnrec-test/messages/77"
    warehouse.execute(
        "UPDATE recs.nudge_outbox SET status = 'sent', provider = 'firebase', provider_message_id = ?",
        [message_id],
    )
    records = [
        {"event": "MESSAGE_ACCEPTED", "message_id": "77", "event_timestamp": "2026-03-10T14:00:01Z"},
        {"event": "MESSAGE_DELIVERED", "message_id": "77", "event_timestamp": "2026-03-10T14:00:03Z"},
        {"event": "NOTIFICATION_OPEN", "message_id": message_id, "event_timestamp": "2026-03-10T15:20:00Z"},
    ]
    (landing / "fcm" / "export-1.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    report = ingest_notification_events(warehouse, landing, now=LATER)
    assert (report.events, dict(report.ignored)) == (2, {"fcm:MESSAGE_ACCEPTED": 1})
    assert feedback_events(warehouse) == [
        (key, "delivered", "firebase", message_id),
        (key, "opened", "firebase", message_id),
    ]


def test_delivery_events_settle_a_nudge_left_unconfirmed_by_a_crash(settings, warehouse, landing) -> None:
    add_learners(warehouse, learner("L1"))
    plan_nudges(warehouse, [draft("L1")], DAY, settings, now=NOON_UTC)

    class Crash(BaseException):
        pass

    class Blind:
        name = "file"

        def send(self, notification):
            raise Crash

        def lookup(self, notification):
            return None

    with pytest.raises(Crash):
        deliver_due(warehouse, {"email": Blind(), "push": Blind()}, settings, now=NOON_UTC)
    sink = FileSink(settings.outbox_path)
    deliver_due(warehouse, {"email": sink, "push": sink}, settings, now=NOON_UTC + timedelta(hours=1))
    assert outbox(warehouse)["L1:inactivity:2026-03-10"]["status"] == "unconfirmed"

    (landing / "sendgrid" / "late.json").write_text(json.dumps([sendgrid_event("delivered")]))
    report = ingest_notification_events(warehouse, landing, now=NOON_UTC + timedelta(hours=2))
    assert report.reconciled == 1
    row = outbox(warehouse)["L1:inactivity:2026-03-10"]
    assert (row["status"], row["provider_message_id"]) == ("sent", "sg-L1")
