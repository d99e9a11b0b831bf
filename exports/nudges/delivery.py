"""Deliver: send the outbox's due nudges through the configured providers and record each result.

Per run: (1) settle claims left by an interrupted run, (2) re-check consent and channel and defer
nudges that fall in the learner's quiet hours, (3) claim the rest in one committed statement,
(4) send each and record its result right away (outbox row + raw.notification_events in one
transaction), so a crash loses at most the record of one message, never sends one twice.
See exports/nudges/outbox.py for the at-most-once design.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from exports.nudges.outbox import (
    CLAIMABLE_STATUSES,
    OUTBOX,
    add_unsubscribe,
    ensure_tables,
    insert_event,
    placeholders,
    set_status,
    stage,
)
from exports.nudges.recipients import load_recipients
from exports.nudges.rules import Recipient, choose_channel, learner_blocker, quiet_until
from learnrec.notify.base import (
    AmbiguousDeliveryError,
    Channel,
    Notification,
    NotificationProvider,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0
    retry_later: int = 0
    failed: int = 0
    unconfirmed: int = 0
    reconciled: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)
    by_channel: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "deferred": self.deferred,
            "retry_later": self.retry_later,
            "failed": self.failed,
            "unconfirmed": self.unconfirmed,
            "reconciled": self.reconciled,
            "suppressed": dict(self.suppressed),
            "by_channel": dict(self.by_channel),
        }


def deliver_due(
    warehouse: Warehouse,
    providers: Mapping[Channel, NotificationProvider],
    settings: Settings,
    *,
    now: datetime,
) -> DeliveryReport:
    """Send every outbox row that is due at ``now``; safe to run any number of times."""
    ensure_tables(warehouse)
    report = DeliveryReport()
    _settle_stale_claims(warehouse, providers, settings, now, report)

    due = warehouse.query(
        f"SELECT * FROM {OUTBOX} WHERE status IN ({placeholders(CLAIMABLE_STATUSES)})"
        f" AND (not_before IS NULL OR not_before <= ?) ORDER BY notification_id",
        [*CLAIMABLE_STATUSES, now],
    ).to_pylist()
    if not due:
        return report
    recipients = load_recipients(
        warehouse, stage(warehouse, "due_learners", pa.table({"learner_id": [r["learner_id"] for r in due]}))
    )

    ready: list[tuple[dict[str, Any], Recipient, Channel]] = []
    for row in due:
        recipient = recipients.get(row["learner_id"])
        channel, reason = None, learner_blocker(recipient, now)
        if recipient is not None and reason is None:
            channel, reason = choose_channel(recipient, settings.nudge_channel_order)
        if channel is None or recipient is None:
            _suppress(warehouse, row, reason or "unknown_learner", now, report)
            continue
        until = quiet_until(
            now, recipient.timezone, settings.nudge_quiet_hours_start, settings.nudge_quiet_hours_end
        )
        if until is not None:
            set_status(
                warehouse,
                row["notification_id"],
                "deferred",
                now=now,
                reason=f"quiet_hours in {recipient.timezone} until {until.isoformat()}",
                not_before=until,
            )
            report.deferred += 1
            continue
        ready.append((row, recipient, channel))
    if not ready:
        return report

    claim_id = uuid.uuid4().hex
    claimed = _claim(warehouse, ready, claim_id, providers, now)
    for row, recipient, channel in ready:
        if row["notification_id"] not in claimed:
            continue  # another run holds it
        row = row | {"channel": channel, "provider": providers[channel].name, "attempts": row["attempts"] + 1}
        notification = _notification(row, recipient, channel)
        _send_and_record(warehouse, providers[channel], notification, row, claim_id, settings, now, report)
    return report


def _claim(
    warehouse: Warehouse,
    ready: list[tuple[dict[str, Any], Recipient, Channel]],
    claim_id: str,
    providers: Mapping[Channel, NotificationProvider],
    now: datetime,
) -> set[str]:
    """Mark the rows ``sending`` under this run's claim id and commit before anything is sent."""
    staged = stage(
        warehouse,
        "nudge_claims",
        pa.table(
            {
                "notification_id": [row["notification_id"] for row, _, _ in ready],
                "channel": [channel for _, _, channel in ready],
                "provider": [providers[channel].name for _, _, channel in ready],
            }
        ),
    )
    with warehouse.transaction():
        warehouse.execute(
            f"UPDATE {OUTBOX} SET status = 'sending', claim_id = ?, claimed_at = ?, updated_at = ?,"
            f" attempts = attempts + 1, channel = c.channel, provider = c.provider, status_reason = NULL"
            f" FROM {staged} c WHERE {OUTBOX}.notification_id = c.notification_id"
            f" AND {OUTBOX}.status IN ({placeholders(CLAIMABLE_STATUSES)})",
            [claim_id, now, now, *CLAIMABLE_STATUSES],
        )
    held = warehouse.query(
        f"SELECT notification_id FROM {OUTBOX} WHERE claim_id = ? AND status = 'sending'", [claim_id]
    )
    return set(held.column(0).to_pylist())


def _send_and_record(
    warehouse: Warehouse,
    provider: NotificationProvider,
    notification: Notification,
    row: dict[str, Any],
    claim_id: str,
    settings: Settings,
    now: datetime,
    report: DeliveryReport,
) -> None:
    key = row["notification_id"]
    try:
        message_id = provider.send(notification)
    except TransientDeliveryError as exc:
        if row["attempts"] >= settings.nudge_max_delivery_runs:
            _fail(warehouse, row, f"gave up after {row['attempts']} runs: {exc}", claim_id, now, report)
            return
        retry_at = now + timedelta(minutes=settings.nudge_retry_after_minutes)
        with warehouse.transaction():
            set_status(
                warehouse,
                key,
                "pending",
                now=now,
                reason=f"retry: {exc}",
                expect_claim=claim_id,
                not_before=retry_at,
            )
        report.retry_later += 1
        return
    except PermanentDeliveryError as exc:
        _fail(warehouse, row, str(exc), claim_id, now, report)
        if exc.address_invalid:  # a dead address/token: stop using the channel (idempotent)
            reason = "unregistered_token" if notification.channel == "push" else "invalid_address"
            add_unsubscribe(
                warehouse, row["learner_id"], notification.channel, reason, provider.name, at=now, now=now
            )
        return
    except AmbiguousDeliveryError as exc:
        with warehouse.transaction():
            set_status(
                warehouse, key, "unconfirmed", now=now, reason=f"not resent: {exc}", expect_claim=claim_id
            )
        report.unconfirmed += 1
        return
    _record_sent(warehouse, row, message_id, now, claim_id)
    report.sent += 1
    report.by_channel[notification.channel] += 1


def _record_sent(
    warehouse: Warehouse, row: dict[str, Any], message_id: str, now: datetime, claim_id: str | None
) -> None:
    with warehouse.transaction():
        set_status(
            warehouse,
            row["notification_id"],
            "sent",
            now=now,
            expect_claim=claim_id,
            provider_message_id=message_id,
            sent_at=now,
        )
        insert_event(warehouse, row, "sent", event_at=now, provider_message_id=message_id)


def _fail(
    warehouse: Warehouse,
    row: dict[str, Any],
    reason: str,
    claim_id: str,
    now: datetime,
    report: DeliveryReport,
) -> None:
    with warehouse.transaction():
        set_status(warehouse, row["notification_id"], "failed", now=now, reason=reason, expect_claim=claim_id)
        insert_event(warehouse, row, "failed", event_at=now)
    report.failed += 1
    log.warning("nudge %s failed: %s", row["notification_id"], reason)


def _suppress(
    warehouse: Warehouse, row: dict[str, Any], reason: str, now: datetime, report: DeliveryReport
) -> None:
    with warehouse.transaction():
        set_status(warehouse, row["notification_id"], "suppressed", now=now, reason=reason)
        insert_event(warehouse, row, "suppressed", event_at=now)
    kind = reason.split(":")[0]
    report.suppressed[kind] = report.suppressed.get(kind, 0) + 1


def _settle_stale_claims(
    warehouse: Warehouse,
    providers: Mapping[Channel, NotificationProvider],
    settings: Settings,
    now: datetime,
    report: DeliveryReport,
) -> None:
    """Rows still ``sending`` past the lease were interrupted between claim and record.

    They are never sent again. If the provider can tell the message was accepted (file sink), the
    row is recorded as sent; otherwise it becomes ``unconfirmed`` until delivery events settle it.
    """
    cutoff = now - timedelta(minutes=settings.nudge_claim_lease_minutes)
    stale = warehouse.query(
        f"SELECT * FROM {OUTBOX} WHERE status = 'sending' AND claimed_at < ?", [cutoff]
    ).to_pylist()
    if not stale:
        return
    recipients = load_recipients(
        warehouse,
        stage(warehouse, "stale_learners", pa.table({"learner_id": [r["learner_id"] for r in stale]})),
    )
    for row in stale:
        provider = providers.get(row["channel"])
        recipient = recipients.get(row["learner_id"])
        message_id = None
        if provider is not None and provider.name == row["provider"] and recipient is not None:
            message_id = provider.lookup(_notification(row, recipient, row["channel"]))
        if message_id:
            _record_sent(warehouse, row, message_id, now, row["claim_id"])
            report.reconciled += 1
        else:
            with warehouse.transaction():
                set_status(
                    warehouse,
                    row["notification_id"],
                    "unconfirmed",
                    now=now,
                    reason="interrupted between send and record; not resent (at-most-once)",
                    expect_claim=row["claim_id"],
                )
            report.unconfirmed += 1


def _notification(row: dict[str, Any], recipient: Recipient, channel: Channel) -> Notification:
    return Notification(
        notification_id=row["notification_id"],
        learner_id=row["learner_id"],
        nudge_type=row["nudge_type"],
        nudge_date=row["nudge_date"],
        channel=channel,
        address=recipient.address(channel) or "",
        subject=row["subject"],
        body=row["body"],
        course_id=row["course_id"],
    )
