"""Re-engagement Agent: who gets a nudge today, and a personal message grounded in their courses.

Selection for ``run_date`` (the last complete event day):

* learners with a dropout score (``features.dropout_scores``, latest ``score_date`` up to the run
  date) are nudged when ``dropout_probability >= LEARNREC_REENGAGEMENT_DROPOUT_THRESHOLD``
  (default 0.6: the score is a calibrated probability, and 0.6 means the model thinks dropping
  out is more likely than not with a margin; lower it to reach more learners at the cost of more
  unwelcome messages);
* learners the model has not scored (new learners) fall back to the product's time rule: no
  activity for ``LEARNREC_REENGAGEMENT_INACTIVE_DAYS`` (5) days, counting from sign-up when they
  never had any;
* learners past their retention expiry are never selected.

The message points at the learner's current recommendations (``recs.current_learner_recommendations``
when published) and the course in progress. Privacy: only the first name and course titles enter a
prompt (never ids, e-mail, timezone...). Default-tier learners get no LLM personalisation from
behavioural data: their nudge is the rule-based template, which names their recommendations but
not their activity. When the LLM is off, unavailable or wrong, everyone gets the rule-based
template (the product's fallback).

Drafts are :class:`learnrec.contracts.nudges.NudgeDraft` objects: delivery (exports/nudges)
takes them from :func:`draft_nudges` or from ``recs.nudge_drafts`` (replaced per nudge date).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel, Field

from learnrec import safetext
from learnrec.contracts.nudges import NudgeDraft, NudgeType, Provenance
from learnrec.llm import LLMGateway, load_prompt
from learnrec.settings import Settings
from learnrec.tables import COURSES, CURRENT_RECOMMENDATIONS, DROPOUT_SCORES, LEARNER_EVENTS, LEARNERS
from learnrec.warehouse import Warehouse
from ml.agents.runs import record_agent_run

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
RULES_VERSION = "reengagement-rules@v1"
DRAFTS_TABLE = "recs.nudge_drafts"
MAX_COURSES = 3
SUBJECT_CHARS, BODY_CHARS = 120, 1200
#: Longest first name and course title put into a message or a prompt.
NAME_CHARS, TITLE_CHARS = 100, 100

DRAFT_SCHEMA = pa.schema(
    [
        pa.field("nudge_date", pa.date32(), nullable=False),
        pa.field("learner_id", pa.string(), nullable=False),
        pa.field("nudge_type", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("body", pa.string(), nullable=False),
        pa.field("course_ids", pa.list_(pa.string()), nullable=False),
        pa.field("provenance", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("prompt_version", pa.string(), nullable=False),
        pa.field("idempotency_key", pa.string(), nullable=False),
        pa.field("drafted_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


class NudgeAnswer(BaseModel):
    subject: str = Field(min_length=1, max_length=SUBJECT_CHARS)
    body: str = Field(min_length=1, max_length=BODY_CHARS)
    course_ids: list[str] = Field(default_factory=list, max_length=MAX_COURSES)


@dataclass(frozen=True)
class NudgeTarget:
    """A selected learner with what the message may be grounded in."""

    learner_id: str
    first_name: str
    data_tier: str
    nudge_type: NudgeType
    days_inactive: int
    in_progress: tuple[str, str] | None  # (course_id, title) of the last course touched, not completed
    n_completed: int
    recommended: tuple[tuple[str, str], ...]  # (course_id, title), best first


# --- selection -----------------------------------------------------------------------------
def select_targets(settings: Settings, warehouse: Warehouse, run_date: date) -> list[NudgeTarget]:
    """Learners to nudge on ``run_date`` with their grounding data (see the module docstring)."""
    has_events = warehouse.table_exists(LEARNER_EVENTS)
    last_seen = (
        f"(select learner_id, max(event_date) as last_date from {LEARNER_EVENTS} "
        "where event_date <= ? group by learner_id)"
        if has_events
        else "(select cast(null as varchar) as learner_id, cast(null as date) as last_date where ? is null)"
    )
    scores = (
        "(select learner_id, dropout_probability from (select learner_id, dropout_probability, "
        "row_number() over (partition by learner_id order by score_date desc) as newest "
        f"from {DROPOUT_SCORES} where score_date <= ?) ranked where newest = 1)"
        if warehouse.table_exists(DROPOUT_SCORES)
        else "(select cast(null as varchar) as learner_id, cast(null as double) as dropout_probability "
        "where ? is null)"
    )
    rows = warehouse.query(
        f"""
        select l.learner_id, l.first_name, l.data_tier, s.dropout_probability,
               coalesce(a.last_date, cast(l.signed_up_at as date)) as last_date
        from {LEARNERS} l
        left join {last_seen} a on a.learner_id = l.learner_id
        left join {scores} s on s.learner_id = l.learner_id
        where cast(l.retention_expiry as date) > ? and cast(l.signed_up_at as date) <= ?
        order by l.learner_id
        """,
        [run_date, run_date, run_date, run_date],
    ).to_pylist()
    chosen: list[tuple[dict, NudgeType, int]] = []
    for row in rows:
        days = (run_date - row["last_date"]).days
        if row["dropout_probability"] is not None:
            if row["dropout_probability"] >= settings.reengagement_dropout_threshold:
                chosen.append((row, NudgeType.DROPOUT_RISK, days))
        elif days >= settings.reengagement_inactive_days:
            chosen.append((row, NudgeType.INACTIVITY, days))
    ids = [row["learner_id"] for row, _, _ in chosen]
    recommended = _recommendations(warehouse, ids)
    progress = _progress(warehouse, ids, run_date) if has_events else {}
    return [
        NudgeTarget(
            row["learner_id"],
            row["first_name"],
            row["data_tier"],
            kind,
            days,
            progress.get(row["learner_id"], (None, 0))[0],
            progress.get(row["learner_id"], (None, 0))[1],
            tuple(recommended.get(row["learner_id"], ())),
        )
        for row, kind, days in chosen
    ]


def _recommendations(warehouse: Warehouse, learner_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Top recommendations of the published version (none before the first publish)."""
    if not learner_ids or not warehouse.table_exists(CURRENT_RECOMMENDATIONS):
        return {}
    out: dict[str, list[tuple[str, str]]] = {}
    for row in warehouse.query(
        f"select r.learner_id, r.course_id, c.title from {CURRENT_RECOMMENDATIONS} r "
        f"join {COURSES} c on c.course_id = r.course_id "
        f"where r.learner_id in ({', '.join('?' for _ in learner_ids)}) and r.rank <= ? "
        "order by r.learner_id, r.rank",
        [*learner_ids, MAX_COURSES],
    ).to_pylist():
        out.setdefault(row["learner_id"], []).append((row["course_id"], row["title"]))
    return out


def _progress(
    warehouse: Warehouse, learner_ids: list[str], run_date: date
) -> dict[str, tuple[tuple[str, str] | None, int]]:
    """Per learner: the last course touched and not completed, and how many courses were completed."""
    if not learner_ids:
        return {}
    rows = warehouse.query(
        f"""
        with mine as (
            select learner_id, course_id, max(event_at) as last_at,
                   bool_or(event_type = 'complete') as completed
            from {LEARNER_EVENTS}
            where event_date <= ? and course_id is not null
              and learner_id in ({", ".join("?" for _ in learner_ids)})
            group by learner_id, course_id
        )
        select m.learner_id, m.course_id, c.title, m.completed, m.last_at
        from mine m join {COURSES} c on c.course_id = m.course_id
        order by m.learner_id, m.last_at desc, m.course_id
        """,
        [run_date, *learner_ids],
    ).to_pylist()
    out: dict[str, tuple[tuple[str, str] | None, int]] = {}
    for row in rows:
        current, done = out.get(row["learner_id"], (None, 0))
        if row["completed"]:
            done += 1
        elif current is None:
            current = (row["course_id"], row["title"])
        out[row["learner_id"]] = (current, done)
    return out


# --- writing -------------------------------------------------------------------------------
def rules_nudge(target: NudgeTarget) -> NudgeAnswer:
    """The rule-based template. Default tier: names recommendations only, never activity.

    The name and titles are untrusted (profile, catalogue): each is sanitised before it is
    composed, and the message cut to the contract's lengths (a long name or title must not fail
    the day's whole run)."""
    name = safetext.clean(target.first_name, NAME_CHARS) or "there"
    titles = [t for _, title in target.recommended if (t := safetext.clean(title, TITLE_CHARS))]
    picks = f" Courses picked for you: {', '.join(titles)}." if titles else ""
    if target.data_tier == "opted_in" and target.in_progress:
        course_id, title = target.in_progress[0], safetext.clean(target.in_progress[1], TITLE_CHARS)
        subject = f"{name}, pick up {title} where you left off"
        body = f"Hi {name}, your next module of {title} is ready when you are.{picks}"
        course_ids = [course_id, *(c for c, _ in target.recommended if c != course_id)]
    else:
        subject = f"{name}, your learning goals are waiting"
        body = f"Hi {name}, a few minutes today keeps your progress going.{picks}"
        course_ids = [c for c, _ in target.recommended]
    return NudgeAnswer(
        subject=safetext.clean(subject, SUBJECT_CHARS),
        body=safetext.clean(body, BODY_CHARS),
        course_ids=course_ids[:MAX_COURSES],
    )


def _check(target: NudgeTarget):
    allowed = {c for c, _ in target.recommended} | ({target.in_progress[0]} if target.in_progress else set())

    def check(answer: NudgeAnswer) -> None:
        if outside := [c for c in answer.course_ids if c not in allowed]:
            raise ValueError(f"courses the learner was not offered: {outside}")
        if allowed and not answer.course_ids:
            raise ValueError("points at no course although the learner has some")
        safetext.check([answer.subject], SUBJECT_CHARS)
        safetext.check([answer.body], BODY_CHARS)

    return check


def write_nudge(gateway: LLMGateway, target: NudgeTarget, nudge_date: date) -> NudgeDraft:
    """One draft: the LLM's validated message for opted-in learners, the template otherwise."""
    if target.data_tier != "opted_in":
        result_value, provenance, model, version = (
            rules_nudge(target),
            Provenance.RULES,
            f"rules:{RULES_VERSION}",
            RULES_VERSION,
        )
    else:
        reason = (
            "our model sees a risk they may stop learning"
            if target.nudge_type is NudgeType.DROPOUT_RISK
            else f"no learning activity for {target.days_inactive} days"
        )
        result = gateway.run(
            load_prompt(PROMPTS, "reengagement_nudge"),
            {
                "first_name": safetext.fence(target.first_name, NAME_CHARS),
                "reason": reason,
                "in_progress": safetext.fence(target.in_progress[1], TITLE_CHARS)
                if target.in_progress
                else "none",
                "n_completed": target.n_completed,
                "recommended": "\n".join(
                    f"{c} | {safetext.fence(t, TITLE_CHARS)}" for c, t in target.recommended
                )
                or "none",
            },
            NudgeAnswer,
            fallback=lambda: rules_nudge(target),
            rules_version=RULES_VERSION,
            validate=_check(target),
            personal=["first_name"],
            max_tokens=400,
        )
        result_value, model, version = result.value, result.model, result.prompt_version
        provenance = Provenance(result.provenance)
    return NudgeDraft(
        learner_id=target.learner_id,
        nudge_date=nudge_date,
        nudge_type=target.nudge_type,
        subject=result_value.subject,
        body=result_value.body,
        course_ids=tuple(result_value.course_ids),
        provenance=provenance,
        model=model,
        prompt_version=version,
    )


def draft_nudges(
    settings: Settings,
    warehouse: Warehouse,
    run_date: date,
    *,
    gateway: LLMGateway | None = None,
    now: datetime | None = None,
) -> list[NudgeDraft]:
    """Select today's learners, write their drafts and store them in ``recs.nudge_drafts``."""
    gateway = gateway or LLMGateway.from_settings(settings)
    started = now or datetime.now(UTC)
    drafts = [
        write_nudge(gateway, target, run_date) for target in select_targets(settings, warehouse, run_date)
    ]
    rows = [
        {
            **draft.model_dump(mode="python"),
            "nudge_type": str(draft.nudge_type),
            "provenance": str(draft.provenance),
            "course_ids": list(draft.course_ids),
            "idempotency_key": draft.idempotency_key,
            "drafted_at": started,
        }
        for draft in drafts
    ]
    if not warehouse.table_exists(DRAFTS_TABLE):
        warehouse.load_arrow(DRAFTS_TABLE, DRAFT_SCHEMA.empty_table())
    with warehouse.transaction():  # a rerun of the day replaces its drafts
        warehouse.execute(f"delete from {DRAFTS_TABLE} where nudge_date = ?", [run_date])
        if rows:
            warehouse.load_arrow(DRAFTS_TABLE, pa.Table.from_pylist(rows, schema=DRAFT_SCHEMA), mode="append")
    record_agent_run(warehouse, "reengagement", started, gateway.usage, items=len(drafts))
    log.info(
        "nudge drafts for %s: %d (%s)",
        run_date,
        len(drafts),
        json.dumps({t: sum(d.nudge_type == t for d in drafts) for t in NudgeType}),
    )
    return drafts


def load_nudge_drafts(warehouse: Warehouse, nudge_date: date) -> list[NudgeDraft]:
    """The stored drafts of one day, for a delivery task that runs apart from the agent."""
    if not warehouse.table_exists(DRAFTS_TABLE):
        return []
    fields = [name for name in NudgeDraft.model_fields]
    return [
        NudgeDraft(**{name: row[name] for name in fields})
        for row in warehouse.query(
            f"select {', '.join(fields)} from {DRAFTS_TABLE} where nudge_date = ? order by learner_id, nudge_type",
            [nudge_date],
        ).to_pylist()
    ]
