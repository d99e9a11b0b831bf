"""The demo's nudge showcase: what the outbox decided, and one nudge as the learner got it."""

from __future__ import annotations

import json

from exports.nudges.outbox import EVENTS, OUTBOX
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse


def print_samples(settings: Settings) -> None:
    with connect_warehouse(settings, read_only=True) as warehouse:
        if not warehouse.table_exists(OUTBOX):
            print("\nnudges: none planned yet (learner_nudges has not run)")
            return
        by_status = warehouse.query(
            f"SELECT status, COALESCE(channel, '-') AS channel, COUNT(*) AS n FROM {OUTBOX}"
            f" GROUP BY status, channel ORDER BY n DESC"
        ).to_pylist()
        reasons = warehouse.query(
            f"SELECT SPLIT_PART(status_reason, ':', 1) AS reason, COUNT(*) AS n FROM {OUTBOX}"
            f" WHERE status IN ('suppressed', 'deferred') GROUP BY reason ORDER BY n DESC"
        ).to_pylist()
        n_events = warehouse.scalar(f"SELECT COUNT(*) FROM {EVENTS}")
    print("\nnudges (recs.nudge_outbox): one per learner, nudge type and day")
    for row in by_status:
        print(f"  {row['status']:<12} {row['channel']:<6} {row['n']:>8,}")
    for row in reasons:
        print(f"  why not sent: {row['reason']:<24} {row['n']:>8,}")
    print(f"  raw.notification_events: {n_events:,} rows")
    sample = next(iter(sorted(settings.outbox_path.rglob("*.jsonl"))), None)
    if sample:
        first = json.loads(sample.read_text().splitlines()[0])
        print(f"  sample ({first['channel']}, {sample}):")
        print(f"    subject: {first['subject']}")
        print(f"    body:    {first['body'][:200]}")
