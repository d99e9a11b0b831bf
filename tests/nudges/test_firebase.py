"""The real ``firebase-admin`` SDK (service-account JWT grant, FCM HTTP v1) against a loopback
Google: its HTTPS calls are forwarded by a transport adapter mounted on the SDK's sessions. The
service-account key is generated here at run time; no real credentials exist in the repo."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from firebase_admin import messaging

from exports.nudges.delivery import deliver_due
from exports.nudges.planning import plan_nudges
from learnrec.notify import (
    AmbiguousDeliveryError,
    Notification,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from learnrec.notify.file_sink import FileSink
from learnrec.notify.firebase import FirebasePushProvider
from tests.nudges.conftest import DAY, NOON_UTC, add_learners, draft, events, learner, outbox
from tests.nudges.loopback import (
    TOKEN_REPLY,
    ForwardingAdapter,
    Reply,
    fake_service_account,
    fcm_error,
    fcm_ok,
    loopback,
)

pytestmark = pytest.mark.integration
FCM = "/v1/projects/learnrec-test/messages:send"


@pytest.fixture
def server():
    with loopback() as srv:
        srv.script("/token", TOKEN_REPLY)
        yield srv


@pytest.fixture
def make_provider(tmp_path, server):
    made: list[FirebasePushProvider] = []
    key_file = fake_service_account(tmp_path / "service-account.json")

    def make(**kwargs) -> FirebasePushProvider:
        kwargs.setdefault("sleep", lambda seconds: None)
        provider = FirebasePushProvider(
            "learnrec-test", key_file, transport_adapter=ForwardingAdapter(server.url), **kwargs
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


def notification(token: str = "device-token-1") -> Notification:
    return Notification(
        notification_id="L1:inactivity:2026-03-10",
        learner_id="L1",
        nudge_type="inactivity",
        nudge_date=DAY,
        channel="push",
        address=token,
        subject="Ana, your next lesson is waiting",
        body="x" * 300,
        course_id="C7",
    )


def test_send_signs_in_with_the_service_account_and_returns_the_fcm_message_id(server, make_provider) -> None:
    server.script(FCM, fcm_ok(41))
    assert make_provider().send(notification()) == "projects/learnrec-test/messages/41"
    (grant,) = server.to("/token")
    form = parse_qs(grant.body) if isinstance(grant.body, str) else {}
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert form["assertion"][0].count(".") == 2  # a JWT signed with the generated key
    (send,) = server.to(FCM)
    assert send.headers["authorization"] == "Bearer loopback-token"
    message = send.body["message"]
    assert message["token"] == "device-token-1"
    assert message["notification"] == {"title": "Ana, your next lesson is waiting", "body": "x" * 180}
    assert message["data"]["notification_id"] == "L1:inactivity:2026-03-10"


def test_503_and_429_are_retried_then_sent(server, make_provider) -> None:
    sleeps: list[float] = []
    server.script(
        FCM,
        fcm_error(503, "UNAVAILABLE"),
        fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
        fcm_ok(42),
    )
    provider = make_provider(sleep=sleeps.append, backoff_seconds=0.25)
    assert provider.send(notification()) == "projects/learnrec-test/messages/42"
    assert len(server.to(FCM)) == 3 and sleeps == [0.25, 0.5]


def test_persistent_5xx_is_transient_after_bounded_tries(server, make_provider) -> None:
    server.script(FCM, fcm_error(500, "INTERNAL"))
    with pytest.raises(TransientDeliveryError):
        make_provider(max_attempts=2).send(notification())
    assert len(server.to(FCM)) == 2


def test_unregistered_token_is_permanent_and_marks_the_address_dead(server, make_provider) -> None:
    server.script(FCM, fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."))
    with pytest.raises(PermanentDeliveryError) as info:
        make_provider().send(notification())
    assert info.value.address_invalid and len(server.to(FCM)) == 1


def test_token_endpoint_down_is_transient_and_nothing_reaches_fcm(server, make_provider) -> None:
    server.script("/token", Reply(400, {"error": "invalid_grant", "error_description": "bad key"}))
    server.script(FCM, fcm_ok(1))
    with pytest.raises(TransientDeliveryError):
        make_provider(max_attempts=2).send(notification())
    assert server.to(FCM) == []


def test_outbox_through_fcm_records_message_ids_and_dead_tokens(
    settings, warehouse, server, make_provider
) -> None:
    add_learners(warehouse, learner("A", email=None), learner("B", email=None))
    plan_nudges(warehouse, [draft("A"), draft("B")], DAY, settings, now=NOON_UTC)
    server.script(FCM, fcm_ok(7), fcm_error(404, "NOT_FOUND", "UNREGISTERED"))
    providers = {"push": make_provider(), "email": FileSink(settings.outbox_path)}
    report = deliver_due(warehouse, providers, settings, now=NOON_UTC)
    assert (report.sent, report.failed) == (1, 1)
    rows = outbox(warehouse)
    assert rows["A:inactivity:2026-03-10"]["provider_message_id"] == "projects/learnrec-test/messages/7"
    assert rows["A:inactivity:2026-03-10"]["provider"] == "firebase"
    assert rows["B:inactivity:2026-03-10"]["status"] == "failed"
    assert ("B:inactivity:2026-03-10", "failed") in events(warehouse)
    assert warehouse.query("SELECT learner_id, channel, reason FROM raw.nudge_unsubscribes").to_pylist() == [
        {"learner_id": "B", "channel": "push", "reason": "unregistered_token"}
    ]
    # the next day B has no usable channel left: suppressed, not sent to the dead token
    next_day = DAY + timedelta(days=1)
    plan = plan_nudges(
        warehouse, [draft("B", day=next_day)], next_day, settings, now=NOON_UTC + timedelta(days=1)
    )
    assert plan.suppressed == {"no_channel": 1}
    assert len(server.to(FCM)) == 2


def test_timeout_is_ambiguous_and_not_retried(server, make_provider) -> None:
    server.script(FCM, Reply(200, {"name": "projects/learnrec-test/messages/9"}, delay=1.0))
    with pytest.raises(AmbiguousDeliveryError):
        make_provider(timeout_seconds=0.2).send(notification())
    assert len(server.to(FCM)) == 1


@pytest.fixture
def make_production_provider(tmp_path, server):
    """A provider with the retry policy production sends with (not the forwarding adapter's
    max_retries=0), forwarded to the loopback server."""
    made: list[FirebasePushProvider] = []
    key_file = fake_service_account(tmp_path / "service-account.json")

    def make(**kwargs) -> FirebasePushProvider:
        provider = FirebasePushProvider("learnrec-test", key_file, sleep=lambda seconds: None, **kwargs)
        session = messaging._get_messaging_service(provider.app)._client.session
        adapter = ForwardingAdapter(server.url)
        adapter.max_retries = session.get_adapter("https://fcm.googleapis.com/v1").max_retries
        provider._mount(adapter)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, {"name": "projects/learnrec-test/messages/9"}, delay=1.0),  # read timeout
        Reply(200, drop=True),  # connection closed after the request was read
    ],
    ids=["timeout", "dropped"],
)
def test_no_answer_after_the_request_went_out_is_ambiguous_and_never_resent(
    server, make_production_provider, reply
) -> None:
    """The SDK's default urllib3 policy resent the POST after a read timeout and the error then
    looked like a connection failure (retried again): 8 pushes for one nudge."""
    server.script(FCM, reply)
    with pytest.raises(AmbiguousDeliveryError):
        make_production_provider(timeout_seconds=0.2).send(notification())
    assert len(server.to(FCM)) == 1


def test_refused_connection_is_transient(server, make_production_provider) -> None:
    with loopback() as closed:
        url = closed.url  # nobody listens there once the server is gone
    provider = make_production_provider(max_attempts=2)
    session = messaging._get_messaging_service(provider.app)._client.session
    session.mount("https://fcm.googleapis.com", ForwardingAdapter(url))  # the token still works
    with pytest.raises(TransientDeliveryError, match="UnavailableError"):
        provider.send(notification())
