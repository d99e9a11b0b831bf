"""Where the day's NudgeDrafts come from.

The Re-engagement Agent (ml/agents, issue #8's agents half) owns *who* gets a nudge and *what* it
says. Delivery only needs ``Callable[[Settings, Warehouse, date], list[NudgeDraft]]``:
:func:`draft_nudges` uses the agent's ``ml.agents.reengagement.draft_nudges`` when that module
exists, and until then :func:`rule_based_placeholder_drafts`, a deliberately plain stand-in of
the product's time rule that the agent replaces (delete it once the agent lands).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import date, timedelta

from learnrec.contracts.nudges import NudgeDraft, NudgeType, Provenance
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse

log = logging.getLogger(__name__)

DraftSource = Callable[[Settings, Warehouse, date], list[NudgeDraft]]
AGENT_MODULE = "ml.agents.reengagement"
PLACEHOLDER_VERSION = "delivery-placeholder-v1"


def agent_draft_source() -> DraftSource | None:
    """The Re-engagement Agent's entry point if it is installed, else None."""
    try:
        module = importlib.import_module(AGENT_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name is not None and AGENT_MODULE.startswith(exc.name):
            return None
        raise  # the agent exists but is broken: fail loudly rather than silently use the stand-in
    return getattr(module, "draft_nudges", None)


def draft_nudges(settings: Settings, warehouse: Warehouse, run_date: date) -> list[NudgeDraft]:
    source = agent_draft_source()
    if source is None:
        log.warning("%s not available: using the rule-based placeholder selection", AGENT_MODULE)
        source = rule_based_placeholder_drafts
    return source(settings, warehouse, run_date)


def rule_based_placeholder_drafts(
    settings: Settings, warehouse: Warehouse, run_date: date
) -> list[NudgeDraft]:
    """Learners at dropout risk (features.dropout_scores of ``run_date`` at or above the agent's
    threshold) and, without a score, learners with no activity for ``reengagement_inactive_days``
    (the product's time rule), with a fixed template. Only first names enter the text."""
    if not warehouse.table_exists("raw.learners"):
        return []
    scored = warehouse.table_exists("features.dropout_scores")
    has_events = warehouse.table_exists("raw.learner_events")
    last_event = (
        "(SELECT learner_id, MAX(event_date) AS last_date FROM raw.learner_events"
        " WHERE event_date <= ? GROUP BY learner_id)"
        if has_events
        else "(SELECT CAST(NULL AS VARCHAR) AS learner_id, CAST(NULL AS DATE) AS last_date)"
    )
    scores = (
        "(SELECT learner_id, MAX(dropout_probability) AS p FROM features.dropout_scores"
        " WHERE score_date = ? GROUP BY learner_id)"
        if scored
        else "(SELECT CAST(NULL AS VARCHAR) AS learner_id, CAST(NULL AS DOUBLE) AS p)"
    )
    params: list[object] = ([run_date] if has_events else []) + ([run_date] if scored else [])
    cutoff = run_date - timedelta(days=settings.reengagement_inactive_days)
    candidates = warehouse.query(
        f"SELECT l.learner_id, l.first_name, e.last_date, s.p FROM raw.learners l"
        f" LEFT JOIN {last_event} e ON e.learner_id = l.learner_id"
        f" LEFT JOIN {scores} s ON s.learner_id = l.learner_id"
        f" WHERE (s.p IS NOT NULL AND s.p >= ?)"
        f" OR (s.p IS NULL AND COALESCE(e.last_date, CAST(l.signed_up_at AS DATE)) <= ?)"
        f" ORDER BY l.learner_id",
        [*params, settings.reengagement_dropout_threshold, cutoff],
    ).to_pylist()
    drafts = []
    for row in candidates:
        at_risk = row["p"] is not None
        drafts.append(
            NudgeDraft(
                learner_id=row["learner_id"],
                nudge_date=run_date,
                nudge_type=NudgeType.DROPOUT_RISK if at_risk else NudgeType.INACTIVITY,
                subject=f"{row['first_name']}, your next lesson is waiting",
                body=(
                    f"Hi {row['first_name']}, it has been a while. Pick up where you left off: "
                    "your personalised course recommendations are ready."
                ),
                provenance=Provenance.RULES,
                model=PLACEHOLDER_VERSION,
                prompt_version=PLACEHOLDER_VERSION,
            )
        )
    return drafts
