"""Plan: turn the day's NudgeDrafts into outbox rows, applying consent, channel and frequency caps.

Idempotent for its date: a draft whose key is already in the outbox is skipped (whatever its
status), so rerunning the plan, or the agent producing the same draft again, changes nothing.
Every draft ends as exactly one outbox row: ``pending`` or ``suppressed`` with its reason.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pyarrow as pa

from exports.nudges.outbox import CAPPED_STATUSES, EVENTS, OUTBOX, ensure_tables, placeholders, stage
from exports.nudges.recipients import load_recipients
from exports.nudges.rules import TYPE_PRIORITY, CapCounter, choose_channel, learner_blocker
from learnrec.contracts.nudges import NudgeDraft
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse

_PLAN_SCHEMA = pa.schema(
    [
        ("notification_id", pa.string()),
        ("learner_id", pa.string()),
        ("nudge_date", pa.date32()),
        ("nudge_type", pa.string()),
        ("channel", pa.string()),
        ("course_id", pa.string()),
        ("course_ids", pa.string()),
        ("subject", pa.string()),
        ("body", pa.string()),
        ("provenance", pa.string()),
        ("model", pa.string()),
        ("prompt_version", pa.string()),
        ("status", pa.string()),
        ("status_reason", pa.string()),
    ]
)


@dataclass
class PlanReport:
    nudge_date: date
    drafts: int = 0
    already_planned: int = 0
    pending: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "nudge_date": self.nudge_date.isoformat(),
            "drafts": self.drafts,
            "already_planned": self.already_planned,
            "pending": self.pending,
            "suppressed": dict(self.suppressed),
        }


def plan_nudges(
    warehouse: Warehouse,
    drafts: Sequence[NudgeDraft],
    nudge_date: date,
    settings: Settings,
    *,
    now: datetime,
) -> PlanReport:
    """Write one outbox row per new draft of ``nudge_date``; return what happened to each."""
    wrong_day = sorted({d.learner_id for d in drafts if d.nudge_date != nudge_date})
    if wrong_day:
        raise ValueError(f"drafts for another day than {nudge_date}: learners {wrong_day[:5]}")
    ensure_tables(warehouse)
    report = PlanReport(nudge_date, drafts=len(drafts))
    unique = {d.idempotency_key: d for d in reversed(drafts)}  # first draft per key wins
    report.already_planned += len(drafts) - len(unique)
    if not unique:
        return report

    staged = stage(
        warehouse,
        "nudge_keys",
        pa.table({"notification_id": list(unique), "learner_id": [d.learner_id for d in unique.values()]}),
    )
    existing = set(
        warehouse.query(
            f"SELECT o.notification_id FROM {OUTBOX} o JOIN {staged} s ON o.notification_id = s.notification_id"
        )
        .column(0)
        .to_pylist()
    )
    report.already_planned += len(existing)
    new = [d for key, d in unique.items() if key not in existing]
    if not new:
        return report

    recipients = load_recipients(warehouse, staged)
    caps = _cap_counters(warehouse, staged, nudge_date)
    planned: list[dict[str, object]] = []
    for draft in sorted(
        new, key=lambda d: (d.learner_id, TYPE_PRIORITY.get(d.nudge_type, 99), d.idempotency_key)
    ):
        channel = None
        recipient = recipients.get(draft.learner_id)
        reason = learner_blocker(recipient, now)
        if recipient is not None and reason is None:
            channel, reason = choose_channel(recipient, settings.nudge_channel_order)
        if reason is None:
            reason = caps[draft.learner_id].blocker(settings.nudge_max_per_day, settings.nudge_max_per_week)
        if reason is None:
            caps[draft.learner_id].add()
            report.pending += 1
        else:
            kind = reason.split(":")[0]
            report.suppressed[kind] = report.suppressed.get(kind, 0) + 1
        planned.append(_row(draft, channel, "pending" if reason is None else "suppressed", reason))

    _write_plan(warehouse, pa.Table.from_pylist(planned, schema=_PLAN_SCHEMA), settings, now)
    return report


def _row(draft: NudgeDraft, channel: str | None, status: str, reason: str | None) -> dict[str, object]:
    return {
        "notification_id": draft.idempotency_key,
        "learner_id": draft.learner_id,
        "nudge_date": draft.nudge_date,
        "nudge_type": str(draft.nudge_type),
        "channel": channel,
        "course_id": draft.course_ids[0] if draft.course_ids else None,
        "course_ids": json.dumps(list(draft.course_ids)),
        "subject": draft.subject,
        "body": draft.body,
        "provenance": str(draft.provenance),
        "model": draft.model,
        "prompt_version": draft.prompt_version,
        "status": status,
        "status_reason": reason,
    }


def _cap_counters(warehouse: Warehouse, staged: str, nudge_date: date) -> dict[str, CapCounter]:
    """Per learner: nudges on the date, and the most in any 7-day window holding it. Later dates
    count too: a day rerun or backfilled after the next days were planned must not overfill them."""
    counts = warehouse.query(
        f"SELECT learner_id, nudge_date, COUNT(*) AS n"
        f" FROM {OUTBOX}"
        f" WHERE learner_id IN (SELECT DISTINCT learner_id FROM {staged})"
        f" AND nudge_date BETWEEN ? AND ? AND status IN ({placeholders(CAPPED_STATUSES)})"
        f" GROUP BY learner_id, nudge_date",
        [nudge_date - timedelta(days=6), nudge_date + timedelta(days=6), *CAPPED_STATUSES],
    ).to_pylist()
    per_day: dict[str, dict[date, int]] = defaultdict(dict)
    for row in counts:
        per_day[row["learner_id"]][row["nudge_date"]] = int(row["n"])
    counters: dict[str, CapCounter] = defaultdict(CapCounter)
    for learner_id, days in per_day.items():
        windows = (nudge_date - timedelta(days=back) for back in range(7))
        week = max(
            sum(n for d, n in days.items() if start <= d <= start + timedelta(days=6)) for start in windows
        )
        counters[learner_id] = CapCounter(today=days.get(nudge_date, 0), week=week)
    return counters


def _write_plan(warehouse: Warehouse, planned: pa.Table, settings: Settings, now: datetime) -> None:
    """Outbox rows and their queued/suppressed events in one transaction; keys already present are skipped."""
    staged = stage(warehouse, "nudge_plan", planned)
    provider = {"email": settings.email_provider, "push": settings.push_provider}
    provider_sql = (
        f"CASE p.channel WHEN 'email' THEN '{provider['email']}' WHEN 'push' THEN '{provider['push']}' END"
    )
    new_only = f"NOT EXISTS (SELECT 1 FROM {OUTBOX} o WHERE o.notification_id = p.notification_id)"
    with warehouse.transaction():
        warehouse.execute(
            f"INSERT INTO {EVENTS} (notification_id, learner_id, channel, nudge_type, course_id, status,"
            f" provider, provider_message_id, event_at, recorded_at)"
            f" SELECT p.notification_id, p.learner_id, p.channel, p.nudge_type, p.course_id,"
            f" CASE p.status WHEN 'pending' THEN 'queued' ELSE 'suppressed' END, {provider_sql}, NULL, ?, ?"
            f" FROM {staged} p WHERE {new_only}",
            [now, now],
        )
        warehouse.execute(
            f"INSERT INTO {OUTBOX} (notification_id, learner_id, nudge_date, nudge_type, channel, provider,"
            f" course_id, course_ids, subject, body, provenance, model, prompt_version, status,"
            f" status_reason, not_before, attempts, claim_id, claimed_at, provider_message_id,"
            f" planned_at, sent_at, updated_at)"
            f" SELECT p.notification_id, p.learner_id, p.nudge_date, p.nudge_type, p.channel, {provider_sql},"
            f" p.course_id, p.course_ids, p.subject, p.body, p.provenance, p.model, p.prompt_version,"
            f" p.status, p.status_reason, NULL, 0, NULL, NULL, NULL, ?, NULL, ?"
            f" FROM {staged} p WHERE {new_only}",
            [now, now],
        )
