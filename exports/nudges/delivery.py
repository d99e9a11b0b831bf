"""Deliver: send the outbox's due nudges through the configured providers and record each result.

Per run: (1) settle claims left by an interrupted run, (2) suppress nudges older than
``nudge_max_age_days`` (after an outage, stale messages stay unsent), re-check who may be reached
and on which channel, and defer nudges that fall in the learner's quiet hours or would exceed
``nudge_max_per_day`` in 24 hours of sending, (3) claim the rest in one committed statement, (4) send each and record the results every ``nudge_record_batch`` messages
(outbox rows + raw.notification_events in one transaction). A crash therefore loses at most the
*record* of the last few messages, which the next run settles without resending; it can never
send one twice. See exports/nudges/outbox.py for the at-most-once design. A provider refusing
our credentials (:class:`ProviderAuthError`) stops the run: the nudge it refused and every one not
yet sent go back to ``pending`` and :class:`DeliveryStopped` is raised, so a revoked key fails no
learner's nudge for good.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from exports.nudges.outbox import (
    CLAIMABLE_STATUSES,
    EVENTS,
    OUTBOX,
    UNSUBSCRIBES,
    ensure_tables,
    placeholders,
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
    ProviderAuthError,
    TransientDeliveryError,
)
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse

log = logging.getLogger(__name__)


class DeliveryStopped(RuntimeError):
    """A provider-level failure stopped the run; the unsent nudges stay pending."""


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

    def count(self, outcome: Outcome) -> None:
        if outcome.status == "suppressed":
            kind = (outcome.reason or "").split(":")[0]
            self.suppressed[kind] = self.suppressed.get(kind, 0) + 1
        elif outcome.status == "sent":
            self.sent += 1
            self.by_channel[outcome.row["channel"]] += 1
        else:
            name = {"deferred": "deferred", "pending": "retry_later", "failed": "failed"}
            attr = name.get(outcome.status, "unconfirmed")
            setattr(self, attr, getattr(self, attr) + 1)


@dataclass(frozen=True)
class Outcome:
    """What becomes of one outbox row; ``event`` is the raw.notification_events status it emits."""

    row: dict[str, Any]
    status: str
    reason: str | None = None
    event: str | None = None
    message_id: str | None = None
    not_before: datetime | None = None
    block_channel: str | None = None  # the address is dead: add this channel to the unsubscribes
    block_reason: str | None = None


_OUTCOME_SCHEMA = pa.schema(
    [
        ("notification_id", pa.string()),
        ("learner_id", pa.string()),
        ("nudge_type", pa.string()),
        ("course_id", pa.string()),
        ("channel", pa.string()),
        ("provider", pa.string()),
        ("status", pa.string()),
        ("status_reason", pa.string()),
        ("event_status", pa.string()),
        ("provider_message_id", pa.string()),
        ("not_before", pa.timestamp("us", tz="UTC")),
        ("block_channel", pa.string()),
        ("block_reason", pa.string()),
    ]
)


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
    recipients = _recipients(warehouse, due)
    recent = _recent_sends(warehouse, now)
    per_day = max(settings.nudge_max_per_day, 1)

    held: list[Outcome] = []  # suppressed or deferred before any claim
    ready: list[tuple[dict[str, Any], Recipient, Channel]] = []
    for row in due:
        if now.date() > row["nudge_date"] + timedelta(days=settings.nudge_max_age_days):
            reason = f"expired: not sent within {settings.nudge_max_age_days} days of its date"
            held.append(Outcome(row, "suppressed", reason, event="suppressed"))
            continue
        recipient = recipients.get(row["learner_id"])
        channel, reason = None, learner_blocker(recipient, now)
        if recipient is not None and reason is None:
            channel, reason = choose_channel(recipient, settings.nudge_channel_order)
        if channel is None or recipient is None:
            held.append(Outcome(row, "suppressed", reason or "unknown_learner", event="suppressed"))
            continue
        until = quiet_until(
            now, recipient.timezone, settings.nudge_quiet_hours_start, settings.nudge_quiet_hours_end
        )
        if until is not None:
            reason = f"quiet_hours in {recipient.timezone} until {until.isoformat()}"
            held.append(Outcome(row, "deferred", reason, not_before=until))
            continue
        sends = recent[row["learner_id"]]
        if len(sends) >= per_day:  # e.g. yesterday's nudge held back by an outage, then today's
            until = sorted(sends)[-per_day] + timedelta(days=1)
            reason = f"frequency_cap: {per_day} per 24 hours, next at {until.isoformat()}"
            held.append(Outcome(row, "deferred", reason, not_before=until))
            continue
        sends.append(now)
        ready.append((row, recipient, channel))
    _apply(warehouse, held, now, report, from_statuses=CLAIMABLE_STATUSES)
    if not ready:
        return report

    claim_id = uuid.uuid4().hex
    claimed = _claim(warehouse, ready, claim_id, providers, now)
    results: list[Outcome] = []
    unsent = {row["notification_id"]: row for row, _, _ in ready if row["notification_id"] in claimed}
    refused: ProviderAuthError | None = None
    try:
        for row, recipient, channel in ready:
            if row["notification_id"] not in claimed:
                continue  # another run holds it
            original = unsent.pop(row["notification_id"])
            provider = providers[channel]
            row = row | {"channel": channel, "provider": provider.name, "attempts": row["attempts"] + 1}
            try:
                results.append(_send(provider, _notification(row, recipient, channel), row, settings, now))
            except ProviderAuthError as exc:  # certainly not accepted: released with the rest
                unsent[row["notification_id"]] = original
                refused = exc
                break
            if len(results) >= settings.nudge_record_batch:
                _apply(warehouse, results, now, report, from_statuses=("sending",), claim_id=claim_id)
                results = []
    finally:  # an exception (or a kill signal) still records what was already sent
        # and hands back what no provider has seen yet: nothing to settle, safe to send later
        reason = f"released: {refused}" if refused else "released: the run stopped before sending it"
        results += [Outcome(row, "pending", reason) for row in unsent.values()]
        _apply(warehouse, results, now, report, from_statuses=("sending",), claim_id=claim_id)
    if refused is not None:
        raise DeliveryStopped(
            f"delivery stopped: {refused}; {len(unsent)} nudges left pending ({report.sent} sent before)"
        ) from refused
    return report


def _send(
    provider: NotificationProvider,
    notification: Notification,
    row: dict[str, Any],
    settings: Settings,
    now: datetime,
) -> Outcome:
    """Send one claimed nudge and classify the result (see learnrec.notify.base)."""
    try:
        message_id = provider.send(notification)
    except TransientDeliveryError as exc:
        if row["attempts"] >= settings.nudge_max_delivery_runs:
            return Outcome(row, "failed", f"gave up after {row['attempts']} runs: {exc}", event="failed")
        retry_at = now + timedelta(minutes=settings.nudge_retry_after_minutes)
        return Outcome(row, "pending", f"retry: {exc}", not_before=retry_at)
    except PermanentDeliveryError as exc:
        dead = notification.channel if exc.address_invalid else None
        block_reason = "unregistered_token" if notification.channel == "push" else "invalid_address"
        log.warning("nudge %s failed: %s", row["notification_id"], exc)
        return Outcome(row, "failed", str(exc), event="failed", block_channel=dead, block_reason=block_reason)
    except AmbiguousDeliveryError as exc:
        return Outcome(row, "unconfirmed", f"not resent: {exc}")
    return Outcome(row, "sent", event="sent", message_id=message_id)


def _apply(
    warehouse: Warehouse,
    outcomes: Sequence[Outcome],
    now: datetime,
    report: DeliveryReport,
    *,
    from_statuses: Sequence[str],
    claim_id: str | None = None,
) -> None:
    """Write outcomes in one transaction: outbox status, events, dead-address unsubscribes.

    Only rows still in ``from_statuses`` (and, for sends, still held by ``claim_id``) change, so
    a late or repeated write can never move a row backwards.
    """
    if not outcomes:
        return
    staged = stage(
        warehouse,
        "nudge_outcomes",
        pa.Table.from_pylist(
            [
                {
                    "notification_id": o.row["notification_id"],
                    "learner_id": o.row["learner_id"],
                    "nudge_type": o.row["nudge_type"],
                    "course_id": o.row["course_id"],
                    "channel": o.row["channel"],
                    "provider": o.row["provider"],
                    "status": o.status,
                    "status_reason": o.reason,
                    "event_status": o.event,
                    "provider_message_id": o.message_id,
                    "not_before": o.not_before,
                    "block_channel": o.block_channel,
                    "block_reason": o.block_reason,
                }
                for o in outcomes
            ],
            schema=_OUTCOME_SCHEMA,
        ),
    )
    held_by = f" AND {OUTBOX}.claim_id = ?" if claim_id else ""
    with warehouse.transaction():
        warehouse.execute(
            f"INSERT INTO {EVENTS} (notification_id, learner_id, channel, nudge_type, course_id, status,"
            f" provider, provider_message_id, event_at, recorded_at)"
            f" SELECT r.notification_id, r.learner_id, r.channel, r.nudge_type, r.course_id, r.event_status,"
            f" r.provider, r.provider_message_id, ?, ? FROM {staged} r JOIN {OUTBOX}"
            f" ON {OUTBOX}.notification_id = r.notification_id"
            f" WHERE r.event_status IS NOT NULL AND {OUTBOX}.status IN ({placeholders(from_statuses)}){held_by}",
            [now, now, *from_statuses, *([claim_id] if claim_id else [])],
        )
        warehouse.execute(
            f"UPDATE {OUTBOX} SET status = r.status, status_reason = r.status_reason,"
            f" provider_message_id = COALESCE(r.provider_message_id, {OUTBOX}.provider_message_id),"
            f" not_before = r.not_before,"
            f" sent_at = CASE WHEN r.status = 'sent' THEN CAST(? AS TIMESTAMPTZ) ELSE {OUTBOX}.sent_at END,"
            f" updated_at = ?"
            f" FROM {staged} r WHERE {OUTBOX}.notification_id = r.notification_id"
            f" AND {OUTBOX}.status IN ({placeholders(from_statuses)}){held_by}",
            [now, now, *from_statuses, *([claim_id] if claim_id else [])],
        )
        warehouse.execute(
            f"INSERT INTO {UNSUBSCRIBES} (learner_id, channel, reason, source, unsubscribed_at, recorded_at)"
            f" SELECT DISTINCT r.learner_id, r.block_channel, r.block_reason, r.provider, ?, ?"
            f" FROM {staged} r WHERE r.block_channel IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {UNSUBSCRIBES} u"
            f" WHERE u.learner_id = r.learner_id AND u.channel = r.block_channel)",
            [now, now],
        )
    for outcome in outcomes:
        report.count(outcome)


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
    recipients = _recipients(warehouse, stale)
    outcomes = []
    for row in stale:
        provider = providers.get(row["channel"])
        recipient = recipients.get(row["learner_id"])
        message_id = None
        if provider is not None and provider.name == row["provider"] and recipient is not None:
            message_id = provider.lookup(_notification(row, recipient, row["channel"]))
        if message_id:
            outcomes.append(
                Outcome(row, "sent", "settled: the provider has it", event="sent", message_id=message_id)
            )
        else:
            reason = "interrupted between send and record; not resent (at-most-once)"
            outcomes.append(Outcome(row, "unconfirmed", reason))
    settled = DeliveryReport()
    _apply(warehouse, outcomes, now, settled, from_statuses=("sending",))
    report.reconciled += settled.sent
    report.unconfirmed += settled.unconfirmed


def _recent_sends(warehouse: Warehouse, now: datetime) -> defaultdict[str, list[datetime]]:
    """Per learner, when nudges went out (or may have) in the last 24 hours. The plan caps nudges per
    nudge date; this also caps them per day of sending, which an outage or retries can bunch up."""
    sent = warehouse.query(
        f"SELECT learner_id, COALESCE(sent_at, claimed_at) AS at FROM {OUTBOX}"
        f" WHERE status IN ('sending', 'sent', 'unconfirmed') AND COALESCE(sent_at, claimed_at) > ?",
        [now - timedelta(days=1)],
    ).to_pylist()
    recent: defaultdict[str, list[datetime]] = defaultdict(list)
    for row in sent:
        recent[row["learner_id"]].append(row["at"])
    return recent


def _recipients(warehouse: Warehouse, rows: list[dict[str, Any]]) -> dict[str, Recipient]:
    return load_recipients(
        warehouse,
        stage(warehouse, "nudge_learners", pa.table({"learner_id": [r["learner_id"] for r in rows]})),
    )


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
