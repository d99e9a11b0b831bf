"""The outbox's SQL on the Snowflake adapter (real snowflake-connector-python against the fakesnow
server): plan, deliver, rerun, crash settlement and webhook ingestion behave as on DuckDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from exports.nudges.delivery import deliver_due
from exports.nudges.feedback import ingest_notification_events
from exports.nudges.planning import plan_nudges
from learnrec.contracts.nudges import NudgeType
from learnrec.notify.file_sink import FileSink
from learnrec.warehouse import Warehouse
from tests.nudges.conftest import DAY, NOON_UTC, add_learners, draft, learner, outbox
from tests.plugins.conftest import fakesnow_server, snowflake_database  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


@pytest.fixture
def snowflake(fakesnow_server, snowflake_database) -> Iterator[Warehouse]:  # noqa: F811
    from learnrec.warehouse.snowflake import SnowflakeWarehouse

    with SnowflakeWarehouse(database=snowflake_database, **fakesnow_server) as wh:
        yield wh


def test_outbox_lifecycle_on_snowflake(settings, snowflake, tmp_path) -> None:
    add_learners(
        snowflake,
        learner("L1"),
        learner("L2", email=None, timezone="Asia/Tokyo"),
        learner("L3", email_opt_in=False, push_opt_in=False),
    )
    drafts = [draft("L1"), draft("L1", NudgeType.DROPOUT_RISK), draft("L2"), draft("L3")]
    report = plan_nudges(snowflake, drafts, DAY, settings, now=NOON_UTC)
    assert (report.pending, report.suppressed) == (2, {"frequency_cap": 1, "no_channel": 1})
    assert plan_nudges(snowflake, drafts, DAY, settings, now=NOON_UTC).already_planned == 4

    sink = FileSink(settings.outbox_path)
    first = deliver_due(snowflake, {"email": sink, "push": sink}, settings, now=NOON_UTC)
    assert (first.sent, first.deferred) == (1, 1)  # Tokyo is in quiet hours at 23:00 local
    later = deliver_due(
        snowflake, {"email": sink, "push": sink}, settings, now=NOON_UTC + timedelta(hours=10)
    )
    assert later.sent == 1
    assert (
        deliver_due(
            snowflake, {"email": sink, "push": sink}, settings, now=NOON_UTC + timedelta(hours=11)
        ).sent
        == 0
    )
    rows = outbox(snowflake)
    assert {k: r["status"] for k, r in rows.items()} == {
        "L1:dropout_risk:2026-03-10": "sent",
        "L1:inactivity:2026-03-10": "suppressed",
        "L2:inactivity:2026-03-10": "sent",
        "L3:inactivity:2026-03-10": "suppressed",
    }

    landing = tmp_path / "landing"
    (landing / "sendgrid").mkdir(parents=True)
    event = {
        "event": "open",
        "timestamp": int(NOON_UTC.timestamp()) + 600,
        "sg_message_id": "sg-1.filter",
        "notification_id": "L1:dropout_risk:2026-03-10",
        "learner_id": "L1",
        "nudge_type": "dropout_risk",
    }
    (landing / "sendgrid" / "b1.json").write_text(
        json.dumps([event, event | {"event": "bounce", "type": "bounce"}])
    )
    assert ingest_notification_events(snowflake, landing, now=NOON_UTC).events == 2
    (landing / "sendgrid" / "b2.json").write_text(json.dumps([event]))
    assert ingest_notification_events(snowflake, landing, now=NOON_UTC).events == 0
    assert snowflake.scalar("SELECT COUNT(*) FROM raw.nudge_unsubscribes") == 1
