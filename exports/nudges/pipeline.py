"""The delivery steps as the CLI and the DAG call them (drafting is the agent's
``ml.agents.tasks.run_reengagement_agent``): open the warehouse and providers from
settings, run one step, return a small JSON-able report (an XCom, never data)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.locks import stage_lock


def plan_for_date(settings: Settings, run_date: date, *, now: datetime | None = None) -> dict[str, object]:
    """Plan the stored drafts of ``run_date`` into the outbox (consent, channel, caps)."""
    from exports.nudges.planning import plan_nudges
    from ml.agents.reengagement import load_nudge_drafts

    with connect_warehouse(settings) as warehouse:
        drafts = load_nudge_drafts(warehouse, run_date)
        report = plan_nudges(warehouse, drafts, run_date, settings, now=now or datetime.now(UTC))
    return report.as_dict()


def deliver(settings: Settings, *, now: datetime | None = None) -> dict[str, object]:
    """Send everything due now through the configured providers."""
    from exports.nudges.delivery import deliver_due
    from learnrec.notify import build_providers

    providers = build_providers(settings)
    with connect_warehouse(settings) as warehouse, stage_lock(warehouse, "delivery", settings):
        report = deliver_due(warehouse, providers, settings, now=now or datetime.now(UTC))
    for provider in providers.values():
        close = getattr(provider, "close", None)
        if close:
            close()
    return report.as_dict()


def ingest_events(settings: Settings, *, now: datetime | None = None) -> dict[str, object]:
    """Load provider delivery events from the landing folder into raw.notification_events."""
    from exports.nudges.feedback import NOTIFICATION_LANDING, ingest_notification_events

    with connect_warehouse(settings) as warehouse:
        report = ingest_notification_events(
            warehouse, settings.landing_path / NOTIFICATION_LANDING, now=now or datetime.now(UTC)
        )
    return report.as_dict()


def unsubscribe(
    settings: Settings, learner_id: str, channel: str, *, source: str, now: datetime | None = None
) -> None:
    """Record an unsubscribe that did not come through a provider webhook (app, support)."""
    from exports.nudges.outbox import add_unsubscribe, ensure_tables

    at = now or datetime.now(UTC)
    with connect_warehouse(settings) as warehouse:
        ensure_tables(warehouse)
        add_unsubscribe(warehouse, learner_id, channel, "unsubscribe", source, at=at, now=at)
