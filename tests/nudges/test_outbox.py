"""Plan and deliver through the outbox with the embedded file sink: idempotency across reruns and
crashes, frequency caps, quiet hours, opt-out and unsubscribe, channel choice. Real DuckDB."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from exports.nudges.delivery import deliver_due
from exports.nudges.outbox import add_unsubscribe, ensure_tables
from exports.nudges.planning import plan_nudges
from learnrec.contracts.nudges import NudgeType
from learnrec.notify import TransientDeliveryError, build_providers
from learnrec.notify.file_sink import FileSink
from tests.nudges.conftest import DAY, NOON_UTC, add_learners, draft, events, learner, outbox


def sink_lines(settings, channel: str = "email", day=DAY) -> list[dict]:
    path = settings.outbox_path / channel / f"{day.isoformat()}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_plan_and_deliver_once_then_reruns_change_nothing(settings, warehouse) -> None:
    add_learners(warehouse, learner("L1"), learner("L2", email=None))
    drafts = [draft("L1"), draft("L2")]
    providers = build_providers(settings)

    report = plan_nudges(warehouse, drafts, DAY, settings, now=NOON_UTC)
    assert (report.pending, report.already_planned) == (2, 0)
    sent = deliver_due(warehouse, providers, settings, now=NOON_UTC)
    assert sent.sent == 2 and dict(sent.by_channel) == {"email": 1, "push": 1}

    # rerun of plan (same drafts) and of delivery, and a retried task an hour later
    assert plan_nudges(warehouse, drafts, DAY, settings, now=NOON_UTC).already_planned == 2
    assert deliver_due(warehouse, providers, settings, now=NOON_UTC).sent == 0
    assert deliver_due(warehouse, providers, settings, now=NOON_UTC + timedelta(hours=1)).sent == 0

    rows = outbox(warehouse)
    assert {k: (r["status"], r["channel"]) for k, r in rows.items()} == {
        "L1:inactivity:2026-03-10": ("sent", "email"),
        "L2:inactivity:2026-03-10": ("sent", "push"),
    }
    assert len(sink_lines(settings, "email")) == 1 and len(sink_lines(settings, "push")) == 1
    line = sink_lines(settings, "email")[0]
    assert line["to"] == "l1@example.com" and line["notification_id"] == "L1:inactivity:2026-03-10"
    assert rows["L1:inactivity:2026-03-10"]["provider_message_id"] == line["message_id"]
    assert events(warehouse, "L1:inactivity:2026-03-10") == [
        ("L1:inactivity:2026-03-10", "queued"),
        ("L1:inactivity:2026-03-10", "sent"),
    ]


def test_crash_between_send_and_record_never_resends(settings, warehouse) -> None:
    """The provider accepted the message, then the process died before the outbox recorded it."""
    add_learners(warehouse, learner("L1"))
    plan_nudges(warehouse, [draft("L1")], DAY, settings, now=NOON_UTC)
    sink = FileSink(settings.outbox_path)

    class Crash(BaseException):
        pass

    class CrashingAfterSend:
        name = "file"

        def send(self, notification):
            sink.send(notification)
            raise Crash  # e.g. the worker is killed

        def lookup(self, notification):
            return sink.lookup(notification)

    with pytest.raises(Crash):
        deliver_due(warehouse, {"email": CrashingAfterSend(), "push": sink}, settings, now=NOON_UTC)
    key = "L1:inactivity:2026-03-10"
    assert outbox(warehouse)[key]["status"] == "sending"  # the claim was committed before the send

    # a retry within the lease leaves the claim alone (it could be a live run): nothing sent
    assert (
        deliver_due(
            warehouse, {"email": sink, "push": sink}, settings, now=NOON_UTC + timedelta(minutes=5)
        ).sent
        == 0
    )
    # after the lease, the file sink confirms it was written: recorded as sent, not sent again
    later = NOON_UTC + timedelta(minutes=settings.nudge_claim_lease_minutes + 1)
    report = deliver_due(warehouse, {"email": sink, "push": sink}, settings, now=later)
    assert (report.sent, report.reconciled) == (0, 1)
    assert len(sink_lines(settings)) == 1
    row = outbox(warehouse)[key]
    assert row["status"] == "sent" and row["provider_message_id"] == sink_lines(settings)[0]["message_id"]
    assert row["attempts"] == 1


def test_crash_after_claim_with_a_provider_that_cannot_tell_is_unconfirmed_not_resent(
    settings, warehouse
) -> None:
    add_learners(warehouse, learner("L1"))
    plan_nudges(warehouse, [draft("L1")], DAY, settings, now=NOON_UTC)
    calls = []

    class Crash(BaseException):
        pass

    class Blind:
        name = "file"

        def send(self, notification):
            calls.append(notification.notification_id)
            raise Crash

        def lookup(self, notification):
            return None

    with pytest.raises(Crash):
        deliver_due(warehouse, {"email": Blind(), "push": Blind()}, settings, now=NOON_UTC)
    later = NOON_UTC + timedelta(hours=2)
    for _ in range(2):
        report = deliver_due(warehouse, {"email": Blind(), "push": Blind()}, settings, now=later)
    assert calls == ["L1:inactivity:2026-03-10"]
    row = outbox(warehouse)["L1:inactivity:2026-03-10"]
    assert row["status"] == "unconfirmed" and "not resent" in row["status_reason"]
    assert report.sent == 0


def test_frequency_caps_per_day_and_week_most_urgent_type_wins(settings, warehouse) -> None:
    add_learners(warehouse, learner("L1"))
    providers = build_providers(settings)
    same_day = [draft("L1", NudgeType.NEW_RECOMMENDATIONS), draft("L1", NudgeType.DROPOUT_RISK)]
    report = plan_nudges(warehouse, same_day, DAY, settings, now=NOON_UTC)
    assert report.pending == 1 and report.suppressed == {"frequency_cap": 1}
    rows = outbox(warehouse)
    assert rows["L1:dropout_risk:2026-03-10"]["status"] == "pending"
    assert rows["L1:new_recommendations:2026-03-10"]["status_reason"] == "frequency_cap: 1 per day reached"

    # days 2 and 3 of the week fill the weekly cap of 3; day 4 is capped; day 8 is free again
    for offset in (1, 2, 3, 7):
        day = DAY + timedelta(days=offset)
        plan_nudges(warehouse, [draft("L1", day=day)], day, settings, now=NOON_UTC + timedelta(days=offset))
    statuses = {
        k.split(":")[-1]: (r["status"], r["status_reason"])
        for k, r in outbox(warehouse).items()
        if ":inactivity:" in k
    }
    assert statuses["2026-03-11"][0] == statuses["2026-03-12"][0] == "pending"
    assert statuses["2026-03-13"] == ("suppressed", "frequency_cap: 3 per 7 days reached")
    assert statuses["2026-03-17"][0] == "pending"
    # a suppressed nudge is recorded as such, never sent
    deliver_due(warehouse, providers, settings, now=NOON_UTC + timedelta(days=8))
    assert ("L1:new_recommendations:2026-03-10", "suppressed") in events(warehouse)
    assert outbox(warehouse)["L1:new_recommendations:2026-03-10"]["status"] == "suppressed"


def test_failed_and_suppressed_nudges_do_not_count_toward_caps(settings, warehouse) -> None:
    add_learners(warehouse, learner("L1", email_opt_in=False, push_opt_in=False))
    plan_nudges(warehouse, [draft("L1")], DAY, settings, now=NOON_UTC)
    warehouse.execute("UPDATE raw.learners SET email_opt_in = true")
    report = plan_nudges(warehouse, [draft("L1", NudgeType.DROPOUT_RISK)], DAY, settings, now=NOON_UTC)
    assert report.pending == 1


def test_opt_out_and_unsubscribe_suppress_with_reason(settings, warehouse) -> None:
    add_learners(
        warehouse,
        learner("OPTOUT", email_opt_in=False, push_opt_in=False),
        learner("UNSUB", push_token=None),
        learner("NOCONTACT", email=None, push_token=None),
    )
    ensure_tables(warehouse)
    add_unsubscribe(warehouse, "UNSUB", "email", "unsubscribe", "app", at=NOON_UTC, now=NOON_UTC)
    drafts = [draft("OPTOUT"), draft("UNSUB"), draft("NOCONTACT"), draft("GHOST")]
    report = plan_nudges(warehouse, drafts, DAY, settings, now=NOON_UTC)
    assert report.pending == 0 and report.suppressed == {"no_channel": 3, "unknown_learner": 1}
    reasons = {k.split(":")[0]: r["status_reason"] for k, r in outbox(warehouse).items()}
    assert reasons == {
        "OPTOUT": "no_channel: email=not_opted_in, push=not_opted_in",
        "UNSUB": "no_channel: email=unsubscribed, push=no_push_token",
        "NOCONTACT": "no_channel: email=no_email, push=no_push_token",
        "GHOST": "unknown_learner",
    }
    assert sorted(s for _, s in events(warehouse)) == ["suppressed"] * 4
    assert deliver_due(warehouse, build_providers(settings), settings, now=NOON_UTC).sent == 0


def test_unsubscribe_between_plan_and_send_is_honoured_at_send_time(settings, warehouse) -> None:
    add_learners(warehouse, learner("L1", push_token=None))
    plan_nudges(warehouse, [draft("L1")], DAY, settings, now=NOON_UTC)
    add_unsubscribe(warehouse, "L1", "all", "unsubscribe", "app", at=NOON_UTC, now=NOON_UTC)
    report = deliver_due(warehouse, build_providers(settings), settings, now=NOON_UTC)
    assert report.sent == 0 and report.suppressed == {"no_channel": 1}
    assert sink_lines(settings) == []


def test_quiet_hours_defer_to_local_morning_then_send(settings, warehouse) -> None:
    add_learners(warehouse, learner("TOKYO", timezone="Asia/Tokyo"), learner("BERLIN"))
    plan_nudges(warehouse, [draft("TOKYO"), draft("BERLIN")], DAY, settings, now=NOON_UTC)
    providers = build_providers(settings)

    first = deliver_due(warehouse, providers, settings, now=NOON_UTC)  # 23:00 in Tokyo
    assert (first.sent, first.deferred) == (1, 1)
    row = outbox(warehouse)["TOKYO:inactivity:2026-03-10"]
    assert row["status"] == "deferred" and row["not_before"].isoformat().startswith("2026-03-10T23:00")
    assert "quiet_hours in Asia/Tokyo" in row["status_reason"]
    # hourly runs before 08:00 Tokyo do nothing; the first one after sends it
    assert deliver_due(warehouse, providers, settings, now=NOON_UTC + timedelta(hours=8)).sent == 0
    assert (
        deliver_due(warehouse, providers, settings, now=NOON_UTC + timedelta(hours=9, minutes=30)).sent == 1
    )
    assert outbox(warehouse)["TOKYO:inactivity:2026-03-10"]["status"] == "sent"


def test_channel_preference_from_settings(settings, warehouse) -> None:
    add_learners(warehouse, learner("L1"))
    push_first = settings.model_copy(update={"nudge_channel_order": ("push", "email")})
    plan_nudges(warehouse, [draft("L1")], DAY, push_first, now=NOON_UTC)
    deliver_due(warehouse, build_providers(push_first), push_first, now=NOON_UTC)
    row = outbox(warehouse)["L1:inactivity:2026-03-10"]
    assert (row["channel"], row["provider"], row["status"]) == ("push", "file", "sent")


def test_drafts_of_another_day_are_refused(settings, warehouse) -> None:
    with pytest.raises(ValueError, match="another day"):
        plan_nudges(warehouse, [draft("L1", day=DAY + timedelta(days=1))], DAY, settings, now=NOON_UTC)


def test_learners_past_retention_get_nothing(settings, warehouse) -> None:
    add_learners(
        warehouse,
        learner("GONE", retention_expiry=NOON_UTC - timedelta(days=1)),
        learner("LEAVING", retention_expiry=NOON_UTC + timedelta(hours=1)),
    )
    report = plan_nudges(warehouse, [draft("GONE"), draft("LEAVING")], DAY, settings, now=NOON_UTC)
    assert (report.pending, report.suppressed) == (1, {"retention_expired": 1})
    # LEAVING's retention ends before the delivery run: checked again at send time
    later = deliver_due(warehouse, build_providers(settings), settings, now=NOON_UTC + timedelta(hours=2))
    assert later.sent == 0 and later.suppressed == {"retention_expired": 1}
    assert {r["status_reason"] for r in outbox(warehouse).values()} == {"retention_expired"}


def test_results_are_recorded_in_batches_and_a_crash_keeps_what_was_sent(settings, warehouse) -> None:
    add_learners(warehouse, *(learner(f"L{i}", push_token=None) for i in range(5)))
    plan_nudges(warehouse, [draft(f"L{i}") for i in range(5)], DAY, settings, now=NOON_UTC)
    small_batches = settings.model_copy(update={"nudge_record_batch": 2})
    sink = FileSink(settings.outbox_path)
    seen: list[str] = []

    class Crash(BaseException):
        pass

    class DiesOnFourth:
        name = "file"

        def send(self, notification):
            seen.append(notification.learner_id)
            if len(seen) == 4:
                raise Crash
            return sink.send(notification)

        def lookup(self, notification):
            return sink.lookup(notification)

    with pytest.raises(Crash):
        deliver_due(warehouse, {"email": DiesOnFourth(), "push": sink}, small_batches, now=NOON_UTC)
    statuses = {k.split(":")[0]: r["status"] for k, r in outbox(warehouse).items()}
    # L0, L1 recorded by the first batch, L2 by the crash's final flush; L3 died mid-send; L4 never
    # reached a provider, so the final flush handed its claim back
    assert statuses == {"L0": "sent", "L1": "sent", "L2": "sent", "L3": "sending", "L4": "pending"}
    later = NOON_UTC + timedelta(hours=1)
    report = deliver_due(warehouse, {"email": sink, "push": sink}, small_batches, now=later)
    # L3 may have gone out: never resent, settled as unconfirmed; L4 is sent now
    assert (report.sent, report.unconfirmed, report.reconciled) == (1, 1, 0)
    assert len(sink_lines(settings)) == 4


def test_nudges_not_sent_in_time_expire_instead_of_going_out_stale(settings, warehouse) -> None:
    add_learners(warehouse, learner("L1"))
    plan_nudges(warehouse, [draft("L1")], DAY, settings, now=NOON_UTC)
    after_outage = NOON_UTC + timedelta(days=settings.nudge_max_age_days + 1)
    report = deliver_due(warehouse, build_providers(settings), settings, now=after_outage)
    assert report.sent == 0 and report.suppressed == {"expired": 1}
    assert outbox(warehouse)["L1:inactivity:2026-03-10"]["status_reason"].startswith("expired")


def test_a_concurrent_run_never_sends_what_another_run_has_claimed(settings, warehouse) -> None:
    add_learners(warehouse, learner("L1", push_token=None), learner("L2", push_token=None))
    plan_nudges(warehouse, [draft("L1"), draft("L2")], DAY, settings, now=NOON_UTC)
    sink = FileSink(settings.outbox_path)
    overlapping: list = []

    class StartsAnotherRunMidway:
        """While the first run sends, a second run (a retried task, a manual trigger) starts."""

        name = "file"

        def send(self, notification):
            if not overlapping:
                second = deliver_due(warehouse, {"email": sink, "push": sink}, settings, now=NOON_UTC)
                overlapping.append(second)
            return sink.send(notification)

        def lookup(self, notification):
            return sink.lookup(notification)

    first = deliver_due(warehouse, {"email": StartsAnotherRunMidway(), "push": sink}, settings, now=NOON_UTC)
    assert first.sent == 2 and overlapping[0].sent == 0
    assert sorted(line["learner_id"] for line in sink_lines(settings)) == ["L1", "L2"]


def test_a_failing_run_hands_back_the_claims_it_never_sent(settings, warehouse) -> None:
    """An unexpected error on the first message must not cost the learners after it their nudge:
    rows the run claimed but never gave to a provider go back to pending, not to unconfirmed."""
    add_learners(warehouse, *(learner(f"L{i}", push_token=None) for i in range(3)))
    plan_nudges(warehouse, [draft(f"L{i}") for i in range(3)], DAY, settings, now=NOON_UTC)
    sink = FileSink(settings.outbox_path)

    class Broken:
        name = "file"

        def send(self, notification):
            raise RuntimeError("malformed answer")  # not a DeliveryError: the run fails

        def lookup(self, notification):
            return None

    with pytest.raises(RuntimeError):
        deliver_due(warehouse, {"email": Broken(), "push": sink}, settings, now=NOON_UTC)
    statuses = {k.split(":")[0]: r["status"] for k, r in outbox(warehouse).items()}
    assert statuses == {"L0": "sending", "L1": "pending", "L2": "pending"}
    later = NOON_UTC + timedelta(hours=1)
    report = deliver_due(warehouse, {"email": sink, "push": sink}, settings, now=later)
    assert (report.sent, report.unconfirmed) == (2, 1)
    assert sorted(line["learner_id"] for line in sink_lines(settings)) == ["L1", "L2"]


def test_weekly_cap_holds_when_a_day_is_planned_after_a_later_one(settings, warehouse) -> None:
    """A failed day rerun after the next day was planned (or a backfill) must see that later day:
    the cap is 3 in any 7 consecutive days, not only in the 7 ending on the planned date."""
    add_learners(warehouse, learner("L1"))
    for offset in (0, 1, 3):
        day = DAY + timedelta(days=offset)
        plan_nudges(warehouse, [draft("L1", day=day)], day, settings, now=NOON_UTC + timedelta(days=offset))
    late = DAY + timedelta(days=2)
    report = plan_nudges(warehouse, [draft("L1", day=late)], late, settings, now=NOON_UTC + timedelta(days=4))
    assert report.suppressed == {"frequency_cap": 1}
    # a day whose every 7-day window has room is still planned (DAY-4's reach DAY+2 at most)
    early = DAY - timedelta(days=4)
    assert plan_nudges(warehouse, [draft("L1", day=early)], early, settings, now=NOON_UTC).pending == 1


def test_a_torn_line_in_the_file_sink_does_not_block_the_days_sends(settings, warehouse) -> None:
    """A write cut short (kill, full disk) left half a JSON line: every later send and lookup of
    that file raised, so no nudge of that channel and day could go out any more."""
    add_learners(warehouse, learner("A", push_token=None), learner("B", push_token=None))
    plan_nudges(warehouse, [draft("A"), draft("B")], DAY, settings, now=NOON_UTC)
    path = settings.outbox_path / "email" / f"{DAY.isoformat()}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"message_id": "file-x", "notification_id": "Z:inacti')
    report = deliver_due(warehouse, build_providers(settings), settings, now=NOON_UTC)
    assert report.sent == 2
    lines = path.read_text().splitlines()
    assert lines[0].endswith("Z:inacti")  # the torn line is kept as it was, the new ones start fresh
    assert [json.loads(line)["learner_id"] for line in lines[1:]] == ["A", "B"]


def test_an_outage_never_bunches_two_days_nudges_into_one_send(settings, warehouse) -> None:
    """Yesterday's nudge held back by a provider outage and today's must not reach the learner in the
    same minute: the daily cap holds per 24 hours of sending too; the later one is deferred."""
    add_learners(warehouse, learner("A", push_token=None, timezone="UTC"))
    sink = FileSink(settings.outbox_path)

    class Down:
        name = "file"

        def send(self, notification):
            raise TransientDeliveryError("503 from the provider")

        def lookup(self, notification):
            return None

    plan_nudges(warehouse, [draft("A")], DAY, settings, now=NOON_UTC)
    assert deliver_due(warehouse, {"email": Down(), "push": sink}, settings, now=NOON_UTC).retry_later == 1
    next_day, next_noon = DAY + timedelta(days=1), NOON_UTC + timedelta(days=1)
    plan_nudges(warehouse, [draft("A", day=next_day)], next_day, settings, now=next_noon)
    providers = {"email": sink, "push": sink}
    report = deliver_due(warehouse, providers, settings, now=next_noon)
    assert (report.sent, report.deferred) == (1, 1)
    held = outbox(warehouse)["A:inactivity:2026-03-11"]
    assert held["status"] == "deferred" and held["status_reason"].startswith("frequency_cap: 1 per 24 hours")
    assert deliver_due(warehouse, providers, settings, now=next_noon + timedelta(hours=23)).sent == 0
    assert deliver_due(warehouse, providers, settings, now=next_noon + timedelta(hours=24)).sent == 1
    assert [line["notification_id"][-10:] for line in sink_lines(settings, day=next_day)] == ["2026-03-11"]
