"""Fixtures for nudge delivery: a DuckDB warehouse in tmp, learners in raw.learners, drafts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from learnrec.contracts.nudges import NudgeDraft, NudgeType, Provenance
from learnrec.contracts.sources import LEARNERS
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse, connect_warehouse

DAY = date(2026, 3, 10)
#: 14:00 UTC: daytime in Europe and the Americas' morning; night in Asia/Tokyo (23:00)
NOON_UTC = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    with connect_warehouse(settings) as wh:
        yield wh


def learner(learner_id: str, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "learner_id": learner_id,
        "first_name": "Ana",
        "email": f"{learner_id.lower()}@example.com",
        "push_token": f"token-{learner_id}",
        "career_goal": None,
        "current_role": None,
        "interest_area": None,
        "preferred_format": None,
        "data_tier": "default",
        "email_opt_in": True,
        "push_opt_in": True,
        "timezone": "Europe/Berlin",
        "signed_up_at": datetime(2025, 1, 1, tzinfo=UTC),
        "retention_expiry": datetime(2030, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    row.update(overrides)
    return row


def add_learners(warehouse: Warehouse, *rows: dict[str, object]) -> None:
    warehouse.load_arrow("raw.learners", pa.Table.from_pylist(list(rows), schema=LEARNERS), mode="append")


def draft(
    learner_id: str, nudge_type: NudgeType = NudgeType.INACTIVITY, day: date = DAY, course: str = "C1"
) -> NudgeDraft:
    return NudgeDraft(
        learner_id=learner_id,
        nudge_date=day,
        nudge_type=nudge_type,
        subject="Ana, your next lesson is waiting",
        body="Pick up where you left off: Intro to SQL.",
        course_ids=(course,),
        provenance=Provenance.RULES,
        model="rules-v1",
        prompt_version="reengagement-v1",
    )


def outbox(warehouse: Warehouse) -> dict[str, dict[str, object]]:
    return {
        row["notification_id"]: row for row in warehouse.query("SELECT * FROM recs.nudge_outbox").to_pylist()
    }


def events(warehouse: Warehouse, notification_id: str | None = None) -> list[tuple[str, str]]:
    rows = warehouse.query(
        "SELECT notification_id, status FROM raw.notification_events ORDER BY event_at, status"
    ).to_pylist()
    return [
        (r["notification_id"], r["status"])
        for r in rows
        if notification_id is None or r["notification_id"] == notification_id
    ]
