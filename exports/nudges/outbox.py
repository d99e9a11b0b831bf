"""The nudge outbox (recs.nudge_outbox) and the tables delivery writes: one row per idempotency key
(``NudgeDraft.idempotency_key``: learner, nudge type, day) from plan to final status.

Life of a row::

    pending ──claim──► sending ──record──► sent
       │  ▲               │  └─────────────► failed        (permanent error, or retries used up)
       │  └─ transient ───┤  └─────────────► unconfirmed   (ambiguous error, or a crash after claim)
       ▼                  │
    deferred (quiet hours, retry later) ──claim──► ...
    suppressed (no consent / no channel / cap / unknown learner): written once, never sent

**At-most-once, by choice.** A duplicate nudge costs more than a missed one (it annoys the
learner we are trying to win back and invites unsubscribes), and neither SendGrid's Mail Send nor
FCM's send accept an idempotency key. So the claim (status ``sending``, claim id, attempt count)
is *committed before* the provider is called, and only rows in ``pending``/``deferred`` can be
claimed. A crash between send and record leaves the row in ``sending``; once its claim is older
than ``nudge_claim_lease_minutes`` the next run asks the provider whether it was accepted
(``lookup``: the file sink can answer) and otherwise marks it ``unconfirmed``: never resent.
Provider delivery events later promote an unconfirmed row to ``sent`` (their custom_args /
message id name the notification), so the record converges on the truth.

Every status change a learner could notice is also written to raw.notification_events
(queued, sent, failed, suppressed here; delivered, opened, clicked, bounced from the providers).
Reasons (suppression, deferral, errors) live in ``status_reason``.

SQL is kept to what DuckDB and Snowflake both run (CREATE ... IF NOT EXISTS, UPDATE ... FROM,
NOT EXISTS anti-joins); DDL runs outside transactions (Snowflake commits on DDL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from learnrec.tables import NOTIFICATION_EVENTS as EVENTS
from learnrec.tables import NUDGE_OUTBOX as OUTBOX
from learnrec.warehouse import Warehouse

UNSUBSCRIBES = "raw.nudge_unsubscribes"
WEBHOOK_FILES = "raw.notification_event_files"
QUARANTINE = "raw.quarantined_notification_events"

#: Statuses that count toward frequency caps (the learner got, or may get, this nudge).
CAPPED_STATUSES = ("pending", "deferred", "sending", "sent", "unconfirmed")
CLAIMABLE_STATUSES = ("pending", "deferred")

_DDL = {
    OUTBOX: """
        notification_id VARCHAR NOT NULL PRIMARY KEY,
        learner_id VARCHAR NOT NULL,
        nudge_date DATE NOT NULL,
        nudge_type VARCHAR NOT NULL,
        channel VARCHAR,
        provider VARCHAR,
        course_id VARCHAR,
        course_ids VARCHAR,
        subject VARCHAR NOT NULL,
        body VARCHAR NOT NULL,
        provenance VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        prompt_version VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        status_reason VARCHAR,
        not_before TIMESTAMPTZ,
        attempts INTEGER NOT NULL,
        claim_id VARCHAR,
        claimed_at TIMESTAMPTZ,
        provider_message_id VARCHAR,
        planned_at TIMESTAMPTZ NOT NULL,
        sent_at TIMESTAMPTZ,
        updated_at TIMESTAMPTZ NOT NULL""",
    # the contract of dbt/models/staging/feedback/_feedback__sources.yml (same as dbt's hook)
    EVENTS: """
        notification_id VARCHAR,
        learner_id VARCHAR,
        channel VARCHAR,
        nudge_type VARCHAR,
        course_id VARCHAR,
        status VARCHAR,
        provider VARCHAR,
        provider_message_id VARCHAR,
        event_at TIMESTAMPTZ,
        recorded_at TIMESTAMPTZ""",
    # a row blocks the channel ('email' | 'push' | 'all'); the app deletes it on re-subscribe
    UNSUBSCRIBES: """
        learner_id VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        unsubscribed_at TIMESTAMPTZ NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL""",
    WEBHOOK_FILES: """
        source_uri VARCHAR NOT NULL,
        content_sha256 VARCHAR NOT NULL,
        provider VARCHAR NOT NULL,
        n_events INTEGER NOT NULL,
        n_quarantined INTEGER NOT NULL,
        n_ignored INTEGER NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL""",
    QUARANTINE: """
        payload VARCHAR,
        reason VARCHAR NOT NULL,
        provider VARCHAR NOT NULL,
        source_uri VARCHAR NOT NULL,
        quarantined_at TIMESTAMPTZ NOT NULL""",
}


def ensure_tables(warehouse: Warehouse) -> None:
    for table, columns in _DDL.items():
        warehouse.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")


def stage(warehouse: Warehouse, name: str, data: pa.Table) -> str:
    """Load ``data`` into a scratch table ``recs._stage_<name>`` (replaced each time) for set-based SQL."""
    table = f"recs._stage_{name}"
    warehouse.load_arrow(table, data, mode="replace")
    return table


def placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def add_unsubscribe(
    warehouse: Warehouse,
    learner_id: str,
    channel: str,
    reason: str,
    source: str,
    *,
    at: datetime,
    now: datetime,
) -> None:
    """Block ``channel`` ('email', 'push' or 'all') for the learner unless already blocked (idempotent).

    For unsubscribes that arrive outside the providers' webhooks (the app's settings page, support
    requests: ``learnrec nudges unsubscribe``)."""
    warehouse.execute(
        f"INSERT INTO {UNSUBSCRIBES} (learner_id, channel, reason, source, unsubscribed_at, recorded_at)"
        f" SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM {UNSUBSCRIBES}"
        " WHERE learner_id = ? AND channel = ?)",
        [learner_id, channel, reason, source, at, now, learner_id, channel],
    )
