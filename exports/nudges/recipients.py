"""Who a nudge can reach: raw.learners' contact data and consents plus the unsubscribe list,
read fresh at plan time *and* at send time (consent can change in between)."""

from __future__ import annotations

from collections import defaultdict

from exports.nudges.outbox import UNSUBSCRIBES
from exports.nudges.rules import Recipient
from learnrec.tables import LEARNERS
from learnrec.warehouse import Warehouse


def load_recipients(warehouse: Warehouse, staged: str) -> dict[str, Recipient]:
    """Recipients for the learner ids in the staged table ``staged`` (column learner_id).

    Learners missing from raw.learners are absent from the result (the caller suppresses them).
    """
    if not warehouse.table_exists(LEARNERS):
        return {}
    learners = warehouse.query(
        f"SELECT l.learner_id, l.email, l.push_token, l.email_opt_in, l.push_opt_in, l.timezone,"
        f" l.retention_expiry"
        f" FROM {LEARNERS} l WHERE l.learner_id IN (SELECT DISTINCT learner_id FROM {staged})"
    ).to_pylist()
    blocked: dict[str, set[str]] = defaultdict(set)
    for row in warehouse.query(
        f"SELECT learner_id, channel FROM {UNSUBSCRIBES}"
        f" WHERE learner_id IN (SELECT DISTINCT learner_id FROM {staged})"
    ).to_pylist():
        blocked[row["learner_id"]].add(row["channel"])
    return {
        row["learner_id"]: Recipient(
            learner_id=row["learner_id"],
            email=row["email"],
            push_token=row["push_token"],
            email_opt_in=bool(row["email_opt_in"]),
            push_opt_in=bool(row["push_opt_in"]),
            timezone=row["timezone"],
            unsubscribed=frozenset(blocked.get(row["learner_id"], ())),
            retention_expiry=row["retention_expiry"],
        )
        for row in learners
    }
