"""``POST /feedback``: impressions and outcomes of served recommendations, by ``log_id``.

An app reports what happened to a recommendation it got from the read API: ``shown`` (an
impression), ``clicked``, ``enrolled`` or ``dismissed``. A report is checked against the serving
store (the ``log_id`` must be one of the live version's; a learner's token reports only its own),
completed from it (learner, course, model version, signals, rank) and landed like the collector's
events: JSON lines through a :class:`~exports.api.sinks.LandingSink`, fsynced before the 202, in
``<landing>/recommendation_feedback/``. :func:`land_feedback` then appends each published file's
rows to the Recommendation Log ``raw.served_recommendations`` once (files recorded in the same
transaction), where ``stg_feedback__served_recommendations`` and ``fct_recommendation_outcomes``
read them: the latest reported outcome of a ``log_id`` wins. The product's outcome values are
those of ``learnrec.contracts.product.Outcome``: ``dismissed`` is recorded as ``ignored``, and an
impression carries no outcome (its ``served_at`` is when it was shown).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import pyarrow as pa
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from exports.api.auth import Scope, permit
from exports.api.sinks import SinkUnavailable
from exports.api.store import StoreUnavailable
from exports.recommendations.tables import SERVED_LOG, SERVED_LOG_SCHEMA
from learnrec.contracts.events import FUTURE_TOLERANCE
from learnrec.contracts.product import Outcome
from learnrec.warehouse import Warehouse

FEEDBACK_FOLDER = "recommendation_feedback"
LANDED_FEEDBACK_FILES = "raw.ingest_feedback_files"


class Action(StrEnum):
    SHOWN = "shown"
    CLICKED = "clicked"
    ENROLLED = "enrolled"
    DISMISSED = "dismissed"


OUTCOMES: dict[Action, Outcome | None] = {
    Action.SHOWN: None,
    Action.CLICKED: Outcome.CLICKED,
    Action.ENROLLED: Outcome.ENROLLED,
    Action.DISMISSED: Outcome.IGNORED,
}


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    log_id: str = Field(min_length=1)
    action: Action
    at: AwareDatetime


class Reports(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reports: list[Report] = Field(min_length=1, max_length=1000)


def add_feedback_routes(app: FastAPI, services) -> None:  # services: exports.api.app.Services
    def accept(request: Request, body: Reports) -> JSONResponse:
        principal = services.auth.authorize(request, Scope.FEEDBACK_WRITE)
        now = datetime.now(UTC)
        rows = []
        try:
            with services.store.view() as view:
                for i, report in enumerate(body.reports):
                    served = view.served(report.log_id)
                    if served is None:
                        raise HTTPException(
                            422,
                            f"reports[{i}]: log_id {report.log_id} is not served in version {view.run_id}",
                        )
                    if report.at > now + FUTURE_TOLERANCE:
                        raise HTTPException(
                            422, f"reports[{i}]: at {report.at.isoformat()} lies in the future"
                        )
                    permit(principal, Scope.FEEDBACK_WRITE, served["learner_id"])
                    outcome = OUTCOMES[report.action]
                    rows.append(
                        {
                            "log_id": report.log_id,
                            "learner_id": served["learner_id"],
                            "course_id": served["course_id"],
                            "model_version": served["model_version"],
                            "signals_used": served["signals_used"],
                            "rank_at_serve": served["rank"],
                            "served_at": report.at.astimezone(UTC).isoformat(),
                            "outcome": None if outcome is None else str(outcome),
                            "outcome_recorded_at": None
                            if outcome is None
                            else report.at.astimezone(UTC).isoformat(),
                        }
                    )
        except StoreUnavailable as exc:
            raise HTTPException(
                503, str(exc), headers={"Retry-After": str(services.api.retry_after_seconds)}
            ) from None
        try:
            services.feedback.send(
                [json.dumps(r, separators=(",", ":")) for r in rows], [r["learner_id"] for r in rows]
            )
        except SinkUnavailable as exc:
            raise HTTPException(
                503, str(exc), headers={"Retry-After": str(services.api.retry_after_seconds)}
            ) from None
        return JSONResponse({"accepted": len(rows)}, 202)

    @app.post("/feedback", status_code=202, tags=["feedback"])
    async def post_feedback(request: Request, body: Reports) -> JSONResponse:
        """Impressions and outcomes (shown, clicked, enrolled, dismissed) by ``log_id``."""
        return await asyncio.to_thread(accept, request, body)


def land_feedback(warehouse: Warehouse, landing: Path, now: datetime | None = None) -> int:
    """Append every published feedback file not landed yet to the Recommendation Log, each file
    once (recorded in the same transaction); returns the rows landed."""
    now = now or datetime.now(UTC)
    folder = landing / FEEDBACK_FOLDER
    warehouse.execute(
        f"CREATE TABLE IF NOT EXISTS {LANDED_FEEDBACK_FILES} (path VARCHAR, rows BIGINT, landed_at TIMESTAMPTZ)"
    )
    if not warehouse.table_exists(SERVED_LOG):
        warehouse.load_arrow(SERVED_LOG, SERVED_LOG_SCHEMA.empty_table())
    landed = set(warehouse.query(f"SELECT path FROM {LANDED_FEEDBACK_FILES}").column(0).to_pylist())
    files = (
        [p for p in sorted(folder.rglob("*.jsonl")) if p.relative_to(landing).as_posix() not in landed]
        if folder.exists()
        else []
    )
    if not files:
        return 0
    rows, counts = [], []
    for path in files:
        lines = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        rows += lines
        counts.append((path.relative_to(landing).as_posix(), len(lines)))
    table = pa.Table.from_pylist(
        [
            {
                **r,
                "served_at": datetime.fromisoformat(r["served_at"]),
                "outcome_recorded_at": r["outcome_recorded_at"]
                and datetime.fromisoformat(r["outcome_recorded_at"]),
                "received_at": now,
            }
            for r in rows
        ],
        schema=SERVED_LOG_SCHEMA,
    )
    with warehouse.transaction():
        warehouse.load_arrow(SERVED_LOG, table)
        for path, n in counts:
            warehouse.execute(f"INSERT INTO {LANDED_FEEDBACK_FILES} VALUES (?, ?, ?)", [path, n, now])
    return table.num_rows
