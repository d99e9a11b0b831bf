"""Delivery events back from the providers into raw.notification_events, idempotently.

Landing layout (the webhook receiver, ``exports/nudges/webhook.py``, or an export job drops
files; this step only reads them):

- ``<landing>/notification_events/sendgrid/*.json``: one SendGrid Event Webhook POST body per file
  (a JSON array of events; ``*.jsonl`` with one event per line is accepted too). Our
  ``custom_args`` (notification_id, learner_id, nudge_type, course_id) come back as top-level
  fields of every event.
- ``<landing>/notification_events/fcm/*.jsonl``: FCM delivery data, one record per line in the
  shape of Firebase's BigQuery export (``message_id``, ``event``, ``event_timestamp``), plus the
  app's ``NOTIFICATION_OPEN`` reports. They are joined to the outbox by FCM message id.

Mapping to raw.notification_events.status (the dbt source contract):

| SendGrid event | status | | FCM event | status |
|---|---|---|---|---|
| delivered | delivered | | MESSAGE_DELIVERED | delivered |
| open | opened | | NOTIFICATION_OPEN | opened |
| click | clicked | | MISSED_TTL, DROPPED_* | failed |
| bounce (bounce, blocked) | bounced | | MESSAGE_ACCEPTED | ignored: ``sent`` is recorded at send |
| dropped | failed | | | |
| processed, deferred | ignored: ``sent`` is ours; deferral is SendGrid retrying | | | |
| unsubscribe, group_unsubscribe, spamreport | raw.nudge_unsubscribes (email) | | | |

A hard bounce (type ``bounce``) also blocks the learner's e-mail channel. Ignored events are
counted per type in the report and the file log; events that cannot be attributed (no
notification_id, unknown FCM message, bad fields) and unparseable files go to
raw.quarantined_notification_events with the reason.

Idempotency: a file is ingested once per content hash (raw.notification_event_files), and an
event row is inserted only if no row with the same notification_id, status, provider and event
time exists, so a redelivered webhook batch in a new file adds nothing (two opens of one e-mail
within the same second count once: SendGrid's timestamps have second resolution). After loading,
rows the outbox left ``unconfirmed`` (interrupted between send and record) that the provider
reports as delivered are settled as ``sent``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from exports.nudges.outbox import (
    EVENTS,
    OUTBOX,
    QUARANTINE,
    UNSUBSCRIBES,
    WEBHOOK_FILES,
    ensure_tables,
    stage,
)
from learnrec.warehouse import Warehouse

SENDGRID_STATUS = {
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "dropped": "failed",
}
SENDGRID_IGNORED = {"processed", "deferred"}
SENDGRID_UNSUBSCRIBE = {"unsubscribe", "group_unsubscribe", "spamreport"}
FCM_STATUS = {"MESSAGE_DELIVERED": "delivered", "NOTIFICATION_OPEN": "opened", "MISSED_TTL": "failed"}
FCM_IGNORED = {"MESSAGE_ACCEPTED"}

_EVENT_SCHEMA = pa.schema(
    [
        ("notification_id", pa.string()),
        ("learner_id", pa.string()),
        ("channel", pa.string()),
        ("nudge_type", pa.string()),
        ("course_id", pa.string()),
        ("status", pa.string()),
        ("provider", pa.string()),
        ("provider_message_id", pa.string()),
        ("event_at", pa.timestamp("us", tz="UTC")),
        ("fcm_message_id", pa.string()),  # FCM rows: resolved against the outbox in SQL
    ]
)


class BadEvent(ValueError):
    """An event that cannot be attributed or read: quarantined with this message as reason."""


@dataclass
class FeedbackReport:
    files: int = 0
    skipped_files: int = 0
    events: int = 0
    duplicates: int = 0
    quarantined: int = 0
    unsubscribes: int = 0
    reconciled: int = 0
    ignored: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "skipped_files": self.skipped_files,
            "events": self.events,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "unsubscribes": self.unsubscribes,
            "reconciled": self.reconciled,
            "ignored": dict(self.ignored),
        }


@dataclass
class _Parsed:
    events: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[tuple[str, str]] = field(default_factory=list)  # (payload, reason)
    unsubscribes: list[dict[str, Any]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)


def ingest_notification_events(warehouse: Warehouse, landing: Path, *, now: datetime) -> FeedbackReport:
    """Ingest every new file under ``landing`` (sendgrid/ and fcm/ subfolders)."""
    ensure_tables(warehouse)
    report = FeedbackReport()
    files = [(p, "sendgrid") for p in sorted(sendgrid_landing(landing).glob("*.json*"))]
    files += [(p, "firebase") for p in sorted((landing / "fcm").glob("*.jsonl"))]
    done = {
        (row["source_uri"], row["content_sha256"])
        for row in warehouse.query(f"SELECT source_uri, content_sha256 FROM {WEBHOOK_FILES}").to_pylist()
    }
    for path, provider in files:
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if (str(path), digest) in done:
            report.skipped_files += 1
            continue
        parsed = _parse(content, path, provider)
        _load(warehouse, parsed, str(path), digest, provider, now, report)
        report.files += 1
    report.reconciled = _reconcile_unconfirmed(warehouse, now)
    return report


#: The landing folder's subfolder of provider delivery events (sendgrid/, fcm/).
NOTIFICATION_LANDING = "notification_events"


def sendgrid_landing(landing: Path) -> Path:
    """Where SendGrid Event Webhook bodies land under the notification-events landing folder."""
    return landing / "sendgrid"


def sendgrid_body(content: bytes) -> list[Any]:
    """The events of one SendGrid Event Webhook POST body; ValueError if it is not one (UTF-8
    JSON array). Single events are judged at ingestion (bad ones are quarantined, not refused)."""
    items = json.loads(content.decode("utf-8"))
    if not isinstance(items, list):
        raise ValueError("a SendGrid webhook body is a JSON array")
    return items


def _parse(content: bytes, path: Path, provider: str) -> _Parsed:
    parsed = _Parsed()
    try:
        if path.suffix == ".json":
            payloads = [(json.dumps(item), item) for item in sendgrid_body(content)]
        else:
            text = content.decode("utf-8")
            payloads = [(line, None) for line in text.splitlines() if line.strip()]
    except (UnicodeDecodeError, ValueError) as exc:
        parsed.quarantine.append((content.decode("utf-8", "replace")[:10_000], f"unreadable file: {exc}"))
        return parsed
    for raw, item in payloads:
        try:
            if item is None:
                try:
                    item = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise BadEvent(f"invalid JSON: {exc}") from None
            if not isinstance(item, dict):
                raise BadEvent("event is not a JSON object")
            if provider == "sendgrid":
                _sendgrid_event(item, parsed)
            else:
                _fcm_event(item, parsed)
        except (BadEvent, ValueError, TypeError) as exc:
            parsed.quarantine.append((raw, str(exc)))
    return parsed


def _sendgrid_event(item: dict[str, Any], parsed: _Parsed) -> None:
    kind = item.get("event")
    if not isinstance(kind, str):
        raise BadEvent("missing event type")
    if kind in SENDGRID_IGNORED:
        parsed.ignored[f"sendgrid:{kind}"] += 1
        return
    at = _timestamp(item.get("timestamp"))
    learner_id = item.get("learner_id")
    if not isinstance(learner_id, str) or not learner_id:
        raise BadEvent("no learner_id custom arg: not a learnrec nudge")
    if kind in SENDGRID_UNSUBSCRIBE:
        parsed.unsubscribes.append(_unsubscribe(learner_id, "email", kind, at))
        return
    status = SENDGRID_STATUS.get(kind)
    if status is None:
        raise BadEvent(f"unknown SendGrid event type {kind!r}")
    notification_id = item.get("notification_id")
    if not isinstance(notification_id, str) or not notification_id:
        raise BadEvent("no notification_id custom arg")
    message_id = str(item.get("sg_message_id") or "").split(".")[0] or None
    parsed.events.append(
        {
            "notification_id": notification_id,
            "learner_id": learner_id,
            "channel": "email",
            "nudge_type": item.get("nudge_type"),
            "course_id": item.get("course_id"),
            "status": status,
            "provider": "sendgrid",
            "provider_message_id": message_id,
            "event_at": at,
            "fcm_message_id": None,
        }
    )
    if kind == "bounce" and item.get("type", "bounce") == "bounce":  # hard bounce, not a block
        parsed.unsubscribes.append(_unsubscribe(learner_id, "email", "hard_bounce", at))


def _fcm_event(item: dict[str, Any], parsed: _Parsed) -> None:
    kind = item.get("event")
    if not isinstance(kind, str):
        raise BadEvent("missing event")
    if kind in FCM_IGNORED:
        parsed.ignored[f"fcm:{kind}"] += 1
        return
    status = FCM_STATUS.get(kind) or ("failed" if kind.startswith("DROPPED") else None)
    if status is None:
        raise BadEvent(f"unknown FCM event {kind!r}")
    message_id = item.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise BadEvent("no message_id")
    parsed.events.append(
        {
            "notification_id": None,
            "learner_id": None,
            "channel": "push",
            "nudge_type": None,
            "course_id": None,
            "status": status,
            "provider": "firebase",
            "provider_message_id": None,
            "event_at": _timestamp(item.get("event_timestamp")),
            "fcm_message_id": message_id.rsplit("/", 1)[-1],
        }
    )


def _unsubscribe(learner_id: str, channel: str, reason: str, at: datetime) -> dict[str, Any]:
    return {"learner_id": learner_id, "channel": channel, "reason": reason, "unsubscribed_at": at}


def _timestamp(value: Any) -> datetime:
    if isinstance(value, bool) or value is None:
        raise BadEvent(f"bad timestamp {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadEvent(f"bad timestamp {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise BadEvent(f"bad timestamp {value!r}")


def _load(
    warehouse: Warehouse,
    parsed: _Parsed,
    source_uri: str,
    digest: str,
    provider: str,
    now: datetime,
    report: FeedbackReport,
) -> None:
    """One file's events, quarantine rows, unsubscribes and file record in one transaction."""
    events = stage(warehouse, "feedback_events", pa.Table.from_pylist(parsed.events, schema=_EVENT_SCHEMA))
    unsubscribes = stage(
        warehouse,
        "feedback_unsubscribes",
        pa.Table.from_pylist(
            parsed.unsubscribes,
            schema=pa.schema(
                [
                    ("learner_id", pa.string()),
                    ("channel", pa.string()),
                    ("reason", pa.string()),
                    ("unsubscribed_at", pa.timestamp("us", tz="UTC")),
                ]
            ),
        ),
    )
    # FCM rows take their ids from the outbox row that holds the message id
    resolved = (
        f"SELECT COALESCE(e.notification_id, o.notification_id) AS notification_id,"
        f" COALESCE(e.learner_id, o.learner_id) AS learner_id, e.channel,"
        f" COALESCE(e.nudge_type, o.nudge_type) AS nudge_type, COALESCE(e.course_id, o.course_id) AS course_id,"
        f" e.status, e.provider, COALESCE(e.provider_message_id, o.provider_message_id) AS provider_message_id,"
        f" e.event_at, e.fcm_message_id"
        f" FROM {events} e LEFT JOIN {OUTBOX} o ON e.fcm_message_id IS NOT NULL AND o.provider = 'firebase'"
        f" AND (o.provider_message_id = e.fcm_message_id"
        f" OR o.provider_message_id LIKE '%/messages/' || e.fcm_message_id)"
    )
    rows = warehouse.query(resolved).to_pylist()
    unknown = [r for r in rows if r["notification_id"] is None]
    quarantine = parsed.quarantine + [
        (json.dumps({"message_id": r["fcm_message_id"], "status": r["status"]}), "unknown FCM message_id")
        for r in unknown
    ]
    quarantined = stage(
        warehouse,
        "feedback_quarantine",
        pa.table(
            {"payload": [p for p, _ in quarantine], "reason": [r for _, r in quarantine]},
            schema=pa.schema([("payload", pa.string()), ("reason", pa.string())]),
        ),
    )
    with warehouse.transaction():
        before = warehouse.scalar(f"SELECT COUNT(*) FROM {EVENTS}")
        warehouse.execute(
            f"INSERT INTO {EVENTS} (notification_id, learner_id, channel, nudge_type, course_id, status,"
            f" provider, provider_message_id, event_at, recorded_at)"
            f" SELECT DISTINCT r.notification_id, r.learner_id, r.channel, r.nudge_type, r.course_id, r.status,"
            f" r.provider, r.provider_message_id, r.event_at, ? FROM ({resolved}) r"
            f" WHERE r.notification_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {EVENTS} x"
            f" WHERE x.notification_id = r.notification_id AND x.status = r.status"
            f" AND x.provider = r.provider AND x.event_at = r.event_at)",
            [now],
        )
        inserted = warehouse.scalar(f"SELECT COUNT(*) FROM {EVENTS}") - before
        warehouse.execute(
            f"INSERT INTO {UNSUBSCRIBES} (learner_id, channel, reason, source, unsubscribed_at, recorded_at)"
            f" SELECT u.learner_id, u.channel, MIN(u.reason), ?, MIN(u.unsubscribed_at), ? FROM {unsubscribes} u"
            f" WHERE NOT EXISTS (SELECT 1 FROM {UNSUBSCRIBES} x"
            f" WHERE x.learner_id = u.learner_id AND x.channel = u.channel)"
            f" GROUP BY u.learner_id, u.channel",
            [provider, now],
        )
        warehouse.execute(
            f"INSERT INTO {QUARANTINE} (payload, reason, provider, source_uri, quarantined_at)"
            f" SELECT payload, reason, ?, ?, ? FROM {quarantined}",
            [provider, source_uri, now],
        )
        warehouse.execute(
            f"INSERT INTO {WEBHOOK_FILES} (source_uri, content_sha256, provider, n_events, n_quarantined,"
            " n_ignored, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [source_uri, digest, provider, inserted, len(quarantine), sum(parsed.ignored.values()), now],
        )
    attributed = len(rows) - len(unknown)
    report.events += inserted
    report.duplicates += attributed - inserted
    report.quarantined += len(quarantine)
    report.unsubscribes += len(parsed.unsubscribes)
    report.ignored.update(parsed.ignored)


def _reconcile_unconfirmed(warehouse: Warehouse, now: datetime) -> int:
    """Unconfirmed outbox rows the provider reports as delivered (or opened, clicked, bounced) were
    in fact accepted: record them as sent, with the provider's message id."""
    evidence = (
        f"SELECT notification_id, MAX(provider_message_id) AS provider_message_id, MIN(event_at) AS first_at"
        f" FROM {EVENTS} WHERE status IN ('delivered', 'opened', 'clicked', 'bounced')"
        f" GROUP BY notification_id"
    )
    settled = warehouse.query(
        f"SELECT o.notification_id FROM {OUTBOX} o JOIN ({evidence}) e ON e.notification_id = o.notification_id"
        f" WHERE o.status = 'unconfirmed'"
    ).num_rows
    if settled:
        with warehouse.transaction():
            warehouse.execute(
                f"UPDATE {OUTBOX} SET status = 'sent', status_reason = 'settled by provider delivery events',"
                f" provider_message_id = COALESCE({OUTBOX}.provider_message_id, e.provider_message_id),"
                f" sent_at = e.first_at, updated_at = ?"
                f" FROM ({evidence}) e WHERE e.notification_id = {OUTBOX}.notification_id"
                f" AND {OUTBOX}.status = 'unconfirmed'",
                [now],
            )
    return settled
