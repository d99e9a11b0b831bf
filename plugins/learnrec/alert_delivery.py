"""Send the new rows of ``ops.alerts`` to people: Datadog (events + a gauge of the figure) and a
Slack-compatible webhook, each only when configured.

Each channel stamps its own ``<channel>_sent_at`` column when it took an alert, so a rerun (or a
retried task) sends nothing twice and a channel that failed is retried on the next run without
resending to the one that worked. A failure to send is logged and kept in ``delivery_error``; it
never fails the pipeline: the alert is already recorded in the warehouse, which is the truth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import requests

from learnrec.alerts import ALERTS, Alert, ensure_alerts_table
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse, connect_warehouse

log = logging.getLogger(__name__)

#: Datadog's event alert types; any other severity is shown as an error.
_DATADOG_ALERT_TYPES = frozenset({"error", "warning", "info", "success"})
FIGURE_METRIC = "learnrec.alert.figure"


class DeliveryError(RuntimeError):
    """A channel did not take the alert; the message is safe to log (no secret, no webhook URL)."""


class AlertChannel(Protocol):
    name: str
    column: str  # the ops.alerts column stamped when this channel took an alert

    def send(self, alert: Alert, now: datetime) -> None: ...


def alert_text(alert: Alert) -> str:
    return f"[{alert.severity}] {alert.source} {alert.condition} on {alert.alert_date}: {alert.message}"


def _tags(alert: Alert) -> list[str]:
    return [f"condition:{alert.condition}", f"severity:{alert.severity}", f"source:{alert.source}"]


class DatadogChannel:
    """The official ``datadog`` client (``datadog.api``): one event per alert, and the figure as a
    gauge so that dashboards and monitors can plot and threshold it."""

    name = "datadog"
    column = "datadog_sent_at"

    def __init__(self, api_key: str, api_host: str, timeout: float) -> None:
        import datadog

        # mute=False: the client's default swallows errors, which would mark a lost alert as sent
        datadog.initialize(
            api_key=api_key,
            api_host=api_host,
            host_name="learnrec",
            hostname_from_config=False,
            mute=False,
            timeout=timeout,
        )
        self._api = datadog.api

    def send(self, alert: Alert, now: datetime) -> None:
        from datadog.api.exceptions import DatadogException

        tags = _tags(alert)
        try:
            self._api.Event.create(
                title=f"learnrec {alert.severity}: {alert.condition}",
                text=alert_text(alert),
                alert_type=alert.severity if alert.severity in _DATADOG_ALERT_TYPES else "error",
                aggregation_key=alert.condition,
                source_type_name="learnrec",
                date_happened=int(now.timestamp()),
                tags=tags,
            )
            if alert.figure is not None:
                points = [(int(now.timestamp()), alert.figure)]
                self._api.Metric.send(metric=FIGURE_METRIC, points=points, type="gauge", tags=tags)
        except DatadogException as exc:
            raise DeliveryError(f"Datadog: {type(exc).__name__}: {exc}") from None


class SlackChannel:
    """A Slack-compatible incoming webhook (Slack, Mattermost, Teams' Slack mode): ``{"text": ...}``."""

    name = "slack"
    column = "slack_sent_at"

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout

    def send(self, alert: Alert, now: datetime) -> None:
        # the webhook URL is the secret: requests' own messages quote it, so they are not passed on
        try:
            response = requests.post(self._url, json={"text": alert_text(alert)}, timeout=self._timeout)
        except requests.RequestException as exc:
            raise DeliveryError(f"Slack webhook unreachable: {type(exc).__name__}") from None
        if not response.ok:
            raise DeliveryError(f"Slack webhook answered HTTP {response.status_code}")


def configured_channels(settings: Settings) -> list[AlertChannel]:
    channels: list[AlertChannel] = []
    if settings.datadog_api_key is not None:
        key = settings.datadog_api_key.get_secret_value()
        channels.append(DatadogChannel(key, settings.datadog_api_host, settings.notify_timeout_seconds))
    if settings.alert_slack_webhook_url is not None:
        url = settings.alert_slack_webhook_url.get_secret_value()
        channels.append(SlackChannel(url, settings.notify_timeout_seconds))
    return channels


@dataclass(frozen=True)
class DeliveryReport:
    sent: int  # (alert, channel) pairs delivered by this run
    failed: int  # (alert, channel) pairs that failed in this run


def deliver_alerts(
    warehouse: Warehouse,
    channels: list[AlertChannel],
    *,
    now: datetime,
    max_attempts: int,
    max_age_days: int,
) -> DeliveryReport:
    """Send every recent alert that a channel has not taken yet, to that channel."""
    if not channels:
        return DeliveryReport(0, 0)
    ensure_alerts_table(warehouse)
    unsent = " OR ".join(f"{c.column} IS NULL" for c in channels)
    rows = warehouse.query(
        f"SELECT alert_id, source, condition, alert_date, message, severity, run_id, figure, threshold, "
        f"{', '.join(c.column for c in channels)} FROM {ALERTS} "
        f"WHERE ({unsent}) AND COALESCE(delivery_attempts, 0) < ? AND alert_date >= ? "
        "ORDER BY raised_at",
        [max_attempts, now.date() - timedelta(days=max_age_days)],
    ).to_pylist()
    sent = failed = 0
    for row in rows:
        alert = Alert(**{k: row[k] for k in Alert.__dataclass_fields__})
        errors = []
        for channel in (c for c in channels if row[c.column] is None):
            try:
                channel.send(alert, now)
            except Exception as exc:  # a lost alert is bad; a night failed by its alerting is worse
                log.warning("alert %s not sent to %s: %s", alert.condition, channel.name, exc)
                errors.append(f"{channel.name}: {exc}")
                continue
            warehouse.execute(
                f"UPDATE {ALERTS} SET {channel.column} = ? WHERE alert_id = ?", [now, row["alert_id"]]
            )
            sent += 1
        if errors:
            warehouse.execute(
                f"UPDATE {ALERTS} SET delivery_attempts = COALESCE(delivery_attempts, 0) + 1, "
                "delivery_error = ? WHERE alert_id = ?",
                ["; ".join(errors), row["alert_id"]],
            )
            failed += len(errors)
    return DeliveryReport(sent, failed)


def deliver_alerts_step(settings: Settings) -> DeliveryReport:
    """The nightly DAG's step: deliver to the configured channels (none configured: no-op)."""
    with connect_warehouse(settings) as warehouse:
        return deliver_alerts(
            warehouse,
            configured_channels(settings),
            now=datetime.now(UTC),
            max_attempts=settings.alert_delivery_max_attempts,
            max_age_days=settings.alert_delivery_max_age_days,
        )
