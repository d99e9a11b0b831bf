"""The real ``sendgrid`` client against a loopback SendGrid: 202 + X-Message-Id, 429 and 5xx
retried, 400 permanent, timeouts never retried; end to end through the outbox."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from exports.nudges.delivery import DeliveryStopped, deliver_due
from exports.nudges.planning import plan_nudges
from learnrec.notify import (
    AmbiguousDeliveryError,
    Notification,
    PermanentDeliveryError,
    ProviderAuthError,
    TransientDeliveryError,
)
from learnrec.notify.file_sink import FileSink
from learnrec.notify.sendgrid import SendGridEmailProvider
from tests.nudges.conftest import DAY, NOON_UTC, add_learners, draft, events, learner, outbox
from tests.nudges.loopback import Reply, loopback

pytestmark = pytest.mark.integration
SEND = "/v3/mail/send"


def notification(address: str = "ana@example.com") -> Notification:
    return Notification(
        notification_id="L1:dropout_risk:2026-03-10",
        learner_id="L1",
        nudge_type="dropout_risk",
        nudge_date=DAY,
        channel="email",
        address=address,
        subject="Ana, your next lesson is waiting",
        body="Pick up where you left off.",
        course_id="C7",
    )


def provider(url: str, sleeps: list[float] | None = None, **kwargs) -> SendGridEmailProvider:
    record = sleeps if sleeps is not None else []
    return SendGridEmailProvider(
        "SG.loopback-test-key", "nudges@learnrec.example", host=url, sleep=record.append, **kwargs
    )


def test_accepted_mail_carries_tracking_args_and_returns_the_message_id() -> None:
    with loopback() as server:
        server.script(SEND, Reply(202, None, {"X-Message-Id": "sg-msg-1"}))
        assert provider(server.url).send(notification()) == "sg-msg-1"
        (request,) = server.to(SEND)
    assert request.headers["authorization"] == "Bearer SG.loopback-test-key"
    assert request.body["personalizations"][0]["to"] == [{"email": "ana@example.com"}]
    assert request.body["custom_args"] == {
        "notification_id": "L1:dropout_risk:2026-03-10",
        "learner_id": "L1",
        "nudge_type": "dropout_risk",
        "course_id": "C7",
    }
    assert request.body["subject"] == "Ana, your next lesson is waiting"
    assert "asm" not in request.body


def test_debug_logging_never_shows_the_api_key_or_the_address(caplog) -> None:
    """``learnrec -v`` logs at DEBUG; the HTTP client would log the Authorization header."""
    caplog.set_level(logging.DEBUG)
    with loopback() as server:
        server.script(SEND, Reply(202, None, {"X-Message-Id": "sg-msg-2"}))
        provider(server.url).send(notification())
    assert "SG.loopback-test-key" not in caplog.text and "ana@example.com" not in caplog.text


def test_unsubscribe_group_adds_sendgrids_unsubscribe_link() -> None:
    with loopback() as server:
        server.script(SEND, Reply(202, None, {"X-Message-Id": "sg-msg-3"}))
        provider(server.url, unsubscribe_group_id=4242).send(notification())
        (request,) = server.to(SEND)
    assert request.body["asm"] == {"group_id": 4242}


def test_429_honours_retry_after_and_5xx_backs_off_then_succeeds() -> None:
    sleeps: list[float] = []
    with loopback() as server:
        server.script(
            SEND,
            Reply(429, {"errors": [{"message": "too many requests"}]}, {"Retry-After": "3"}),
            Reply(503, {"errors": [{"message": "unavailable"}]}),
            Reply(500, {"errors": [{"message": "boom"}]}),
            Reply(202, None, {"X-Message-Id": "sg-msg-2"}),
        )
        assert provider(server.url, sleeps, backoff_seconds=0.5).send(notification()) == "sg-msg-2"
        assert len(server.to(SEND)) == 4
    assert sleeps == [3.0, 1.0, 2.0]


def test_retries_are_bounded() -> None:
    with loopback() as server:
        server.script(SEND, Reply(503, {"errors": []}))
        with pytest.raises(TransientDeliveryError, match="503"):
            provider(server.url, max_attempts=3).send(notification())
        assert len(server.to(SEND)) == 3


def test_400_is_permanent_and_not_retried() -> None:
    with loopback() as server:
        server.script(
            SEND, Reply(400, {"errors": [{"message": "The to email does not contain a valid address."}]})
        )
        with pytest.raises(PermanentDeliveryError) as info:
            provider(server.url).send(notification())
        assert len(server.to(SEND)) == 1
    assert info.value.address_invalid


def test_timeout_is_ambiguous_and_not_retried() -> None:
    with loopback() as server:
        server.script(SEND, Reply(202, None, {"X-Message-Id": "late"}, delay=1.0))
        with pytest.raises(AmbiguousDeliveryError):
            provider(server.url, timeout_seconds=0.2).send(notification())
        assert len(server.to(SEND)) == 1


@pytest.mark.parametrize(
    "raw",
    [b"HTTP/1.1 abc\r\n\r\n", b"HTTP/1.1 202 Accepted\r\nContent-Length: 50\r\n\r\n{"],
    ids=["bad-status-line", "truncated-body"],
)
def test_a_garbled_answer_is_ambiguous_not_a_crash(raw: bytes) -> None:
    """http.client's errors are neither OSError nor HTTPError: they escaped the provider and failed
    the delivery run. The request went out, so the nudge may have been accepted: unconfirmed."""
    with loopback() as server:
        server.script(SEND, Reply(202, raw=raw))
        with pytest.raises(AmbiguousDeliveryError):
            provider(server.url).send(notification())
        assert len(server.to(SEND)) == 1


def test_refused_connection_is_transient() -> None:
    with loopback() as server:
        url = server.url
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        provider(url, max_attempts=2).send(notification())


def test_outbox_through_sendgrid_retries_fails_and_never_duplicates(settings, warehouse) -> None:
    add_learners(
        warehouse,
        learner("OK", push_token=None),
        learner("BUSY", push_token=None),
        learner("BAD", push_token=None),
        learner("SLOW", push_token=None),
    )
    plan_nudges(warehouse, [draft(k) for k in ("OK", "BUSY", "BAD", "SLOW")], DAY, settings, now=NOON_UTC)
    with loopback() as server:

        def reply_for(learner_id: str) -> Reply:
            return {
                "OK": Reply(202, None, {"X-Message-Id": "sg-ok"}),
                "BUSY": Reply(429, {"errors": []}),
                "BAD": Reply(400, {"errors": [{"message": "invalid email"}]}),
                "SLOW": Reply(202, None, {"X-Message-Id": "sg-slow"}, delay=1.0),
            }[learner_id]

        # the server answers by recipient: route through per-learner scripts in send order
        for learner_id in ("BAD", "BUSY", "OK", "SLOW"):  # deliver_due sends in key order
            server.scripts.setdefault(SEND, []).append(reply_for(learner_id))
        server.scripts[SEND].append(Reply(500, {"errors": []}))  # anything after: server error
        email = provider(server.url, max_attempts=1, timeout_seconds=0.3)
        providers = {"email": email, "push": FileSink(settings.outbox_path)}
        report = deliver_due(warehouse, providers, settings, now=NOON_UTC)
        assert (report.sent, report.failed, report.retry_later, report.unconfirmed) == (1, 1, 1, 1)

        # reruns: only the rate-limited one is retried, after its wait, and then sent
        server.scripts[SEND] = [Reply(202, None, {"X-Message-Id": "sg-busy"})]
        assert deliver_due(warehouse, providers, settings, now=NOON_UTC + timedelta(minutes=5)).sent == 0
        later = NOON_UTC + timedelta(minutes=settings.nudge_retry_after_minutes + 1)
        assert deliver_due(warehouse, providers, settings, now=later).sent == 1
        assert deliver_due(warehouse, providers, settings, now=later + timedelta(hours=3)).sent == 0
        recipients = [r.body["personalizations"][0]["to"][0]["email"] for r in server.to(SEND)]

    assert sorted(recipients) == [
        "bad@example.com",
        "busy@example.com",
        "busy@example.com",
        "ok@example.com",
        "slow@example.com",
    ]
    rows = {k.split(":")[0]: r for k, r in outbox(warehouse).items()}
    assert (rows["OK"]["status"], rows["OK"]["provider_message_id"], rows["OK"]["provider"]) == (
        "sent",
        "sg-ok",
        "sendgrid",
    )
    assert (rows["BUSY"]["status"], rows["BUSY"]["attempts"]) == ("sent", 2)
    assert rows["BAD"]["status"] == "failed" and "invalid email" in rows["BAD"]["status_reason"]
    assert rows["SLOW"]["status"] == "unconfirmed"
    assert ("BAD:inactivity:2026-03-10", "failed") in events(warehouse)
    # the dead address blocks the e-mail channel from now on
    assert warehouse.query("SELECT learner_id, channel, reason FROM raw.nudge_unsubscribes").to_pylist() == [
        {"learner_id": "BAD", "channel": "email", "reason": "invalid_address"}
    ]


def test_transient_failures_give_up_after_the_configured_runs(settings, warehouse) -> None:
    add_learners(warehouse, learner("L1", push_token=None))
    plan_nudges(warehouse, [draft("L1")], DAY, settings, now=NOON_UTC)
    with loopback() as server:
        server.script(SEND, Reply(503, {"errors": []}))
        providers = {"email": provider(server.url, max_attempts=1), "push": FileSink(settings.outbox_path)}
        for run in range(settings.nudge_max_delivery_runs + 2):
            deliver_due(warehouse, providers, settings, now=NOON_UTC + timedelta(hours=2 * run))
        assert len(server.to(SEND)) == settings.nudge_max_delivery_runs
    row = outbox(warehouse)["L1:inactivity:2026-03-10"]
    assert row["status"] == "failed" and row["status_reason"].startswith("gave up after 3 runs")


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_api_key_stops_the_run_and_leaves_the_nudges_pending(settings, warehouse, status) -> None:
    """A revoked key is the provider's failure, not the learners': no nudge of the day is failed
    for good, the run stops at the first refusal, and the next run (key fixed) sends them."""
    add_learners(warehouse, *(learner(k, push_token=None) for k in ("A", "B", "C")))
    plan_nudges(warehouse, [draft(k) for k in ("A", "B", "C")], DAY, settings, now=NOON_UTC)
    with loopback() as server:
        refusal = Reply(status, {"errors": [{"message": "The provided authorization grant is invalid"}]})
        server.scripts[SEND] = [Reply(202, None, {"X-Message-Id": "sg-a"}), refusal]
        providers = {"email": provider(server.url), "push": FileSink(settings.outbox_path)}
        with pytest.raises(DeliveryStopped, match=f"SendGrid {status}.*2 nudges left pending") as info:
            deliver_due(warehouse, providers, settings, now=NOON_UTC)
        assert isinstance(info.value.__cause__, ProviderAuthError)
        assert len(server.to(SEND)) == 2  # C was never tried, B not retried
        rows = {k.split(":")[0]: r for k, r in outbox(warehouse).items()}
        assert {k: r["status"] for k, r in rows.items()} == {"A": "sent", "B": "pending", "C": "pending"}
        assert "API key is refused" in rows["B"]["status_reason"]
        assert [e for e in events(warehouse) if e[1] == "failed"] == []

        server.scripts[SEND] = [Reply(202, None, {"X-Message-Id": "sg-next"})]
        assert deliver_due(warehouse, providers, settings, now=NOON_UTC + timedelta(minutes=1)).sent == 2
