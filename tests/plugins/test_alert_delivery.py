"""Alert delivery: the real ``datadog`` client and a webhook POST against loopback servers.

The Datadog client's API host and the webhook URL point at a local server (tests/nudges/loopback.py)
that records what the real clients send; nothing is mocked.
"""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest

from learnrec.alert_delivery import FIGURE_METRIC, DeliveryReport, deliver_alerts_step
from learnrec.alerts import ALERTS, Alert, ensure_alerts_table, raise_alert
from learnrec.settings import Settings, load_settings
from learnrec.warehouse import connect_warehouse
from tests.nudges.loopback import LoopbackServer, Reply, loopback

TODAY = datetime.now(UTC).date()
DRIFT = Alert(
    "monitoring",
    "drift:engagement_score:psi",
    TODAY,
    "PSI 0.41 > 0.20",
    severity="warning",
    figure=0.41,
    threshold=0.2,
)
GATE = Alert("recommendations", "gate:r1", TODAY, "gate failed: 3 learners without recommendations")
WEBHOOK_PATH = "/services/T000/B000/secret-token"
DATADOG_OK = {
    "/api/v1/events": Reply(202, {"status": "ok", "event": {"id": 1}}),
    "/api/v1/series": Reply(202, {"status": "ok"}),
}


def configure(monkeypatch: pytest.MonkeyPatch, datadog_url: str, slack_url: str) -> Settings:
    monkeypatch.setenv("LEARNREC_DATADOG_API_KEY", "dd-loopback-key")
    monkeypatch.setenv("LEARNREC_DATADOG_API_HOST", datadog_url)
    monkeypatch.setenv("LEARNREC_ALERT_SLACK_WEBHOOK_URL", slack_url + WEBHOOK_PATH)
    monkeypatch.setenv("LEARNREC_NOTIFY_TIMEOUT_SECONDS", "2")
    return load_settings()


def record(settings: Settings, *alerts: Alert) -> None:
    with connect_warehouse(settings) as warehouse:
        ensure_alerts_table(warehouse)
        for alert in alerts:
            raise_alert(warehouse, alert, now=datetime.now(UTC))


def delivery_state(settings: Settings) -> list[dict]:
    with connect_warehouse(settings) as warehouse:
        return warehouse.query(
            f"SELECT condition, datadog_sent_at IS NOT NULL AS datadog, slack_sent_at IS NOT NULL AS slack, "
            f"delivery_attempts, delivery_error FROM {ALERTS} ORDER BY condition"
        ).to_pylist()


def serve_datadog(server: LoopbackServer) -> None:
    for path, reply in DATADOG_OK.items():
        server.script(path, reply)


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: connections are refused


def test_each_new_alert_reaches_datadog_and_slack_once(settings, monkeypatch):
    with loopback() as server:
        serve_datadog(server)
        server.script("/services/", Reply(200))
        settings = configure(monkeypatch, server.url, server.url)
        record(settings, DRIFT, GATE)

        assert deliver_alerts_step(settings) == DeliveryReport(sent=4, failed=0)
        assert deliver_alerts_step(settings) == DeliveryReport(sent=0, failed=0)  # a rerun resends nothing

        events = server.to("/api/v1/events")
        assert len(events) == 2 and {e.headers["dd-api-key"] for e in events} == {"dd-loopback-key"}
        drift = next(e.body for e in events if e.body["aggregation_key"] == DRIFT.condition)
        assert drift["alert_type"] == "warning" and "PSI 0.41 > 0.20" in drift["text"]
        assert sorted(drift["tags"]) == [
            "condition:drift:engagement_score:psi",
            "severity:warning",
            "source:monitoring",
        ]
        # only the alert with a figure is a gauge
        (series,) = [r.body["series"] for r in server.to("/api/v1/series")]
        assert [(s["metric"], s["type"], s["points"][0][1]) for s in series] == [
            (FIGURE_METRIC, "gauge", 0.41)
        ]
        texts = sorted(r.body["text"] for r in server.to(WEBHOOK_PATH))
        assert texts == [
            f"[error] recommendations gate:r1 on {TODAY}: {GATE.message}",
            f"[warning] monitoring drift:engagement_score:psi on {TODAY}: PSI 0.41 > 0.20",
        ]
    assert [(r["datadog"], r["slack"]) for r in delivery_state(settings)] == [(True, True), (True, True)]


def test_unconfigured_sends_nothing_and_marks_nothing(settings):
    record(settings, DRIFT)
    assert deliver_alerts_step(settings) == DeliveryReport(sent=0, failed=0)
    assert [(r["datadog"], r["slack"], r["delivery_attempts"]) for r in delivery_state(settings)] == [
        (False, False, None)
    ]


def test_a_failing_channel_never_fails_the_step_is_logged_recorded_and_retried_alone(
    settings, monkeypatch, caplog
):
    with loopback() as server:
        server.script("/api/v1/", Reply(500, {"errors": ["boom"]}))
        settings = configure(monkeypatch, server.url, refused_url())
        record(settings, GATE)
        with caplog.at_level(logging.WARNING, logger="learnrec.alert_delivery"):
            assert deliver_alerts_step(settings) == DeliveryReport(sent=0, failed=2)
        (state,) = delivery_state(settings)
        assert state["delivery_attempts"] == 1
        assert "Datadog: HTTPError" in state["delivery_error"]
        assert "Slack webhook unreachable" in state["delivery_error"]
        assert "not sent to datadog" in caplog.text and "not sent to slack" in caplog.text
        assert "secret-token" not in caplog.text + state["delivery_error"]  # the webhook URL is a secret

        # Datadog recovers, the webhook answers 500: Datadog takes it, the webhook is tried again
        server.scripts.clear()
        serve_datadog(server)
        server.script("/services/", Reply(500))
        settings = configure(monkeypatch, server.url, server.url)
        assert deliver_alerts_step(settings) == DeliveryReport(sent=1, failed=1)
        (state,) = delivery_state(settings)
        assert (state["datadog"], state["slack"], state["delivery_attempts"]) == (True, False, 2)
        assert state["delivery_error"] == "slack: Slack webhook answered HTTP 500"

        # the third failure is the last attempt (alert_delivery_max_attempts=3); then it is left
        assert deliver_alerts_step(settings) == DeliveryReport(sent=0, failed=1)
        assert deliver_alerts_step(settings) == DeliveryReport(sent=0, failed=0)
        assert len(server.to("/api/v1/events")) == 2  # the failed one and the one that worked


def test_old_alerts_are_not_replayed_when_a_channel_is_enabled(settings, monkeypatch):
    old = Alert("recommendations", "gate:r0", TODAY - timedelta(days=3), "gate failed long ago")
    with loopback() as server:
        server.script("/services/", Reply(200))
        settings = configure(monkeypatch, server.url, server.url)
        record(settings, old, GATE)
        assert deliver_alerts_step(settings.model_copy(update={"datadog_api_key": None})) == DeliveryReport(
            1, 0
        )
        assert [r.body["text"].split(" ")[2] for r in server.to(WEBHOOK_PATH)] == ["gate:r1"]


def test_secrets_are_never_shown(monkeypatch):
    monkeypatch.setenv("LEARNREC_ALERT_SLACK_WEBHOOK_URL", "https://hooks.example" + WEBHOOK_PATH)
    monkeypatch.setenv("LEARNREC_DATADOG_API_KEY", "dd-loopback-key")
    shown = repr(load_settings())
    assert "secret-token" not in shown and "dd-loopback-key" not in shown
