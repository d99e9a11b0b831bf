"""What the Re-engagement Agent hands to nudge delivery.

The agent (ml/agents) decides *who* gets a nudge and *what* it says; delivery (exports/nudges)
decides *whether and how* it goes out (consent, caps, quiet hours, channel). This object is the
boundary: delivery never calls an LLM, and the agent never touches a provider.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class NudgeType(StrEnum):
    DROPOUT_RISK = "dropout_risk"  # dropout_probability above the agent's threshold
    INACTIVITY = "inactivity"  # no dropout score: the product's time rule (5 days without activity)
    NEW_RECOMMENDATIONS = "new_recommendations"


class Provenance(StrEnum):
    LLM = "llm"
    RULES = "rules"


class NudgeDraft(BaseModel):
    """One personal nudge for one learner on one day, before delivery rules apply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner_id: str
    nudge_date: date
    nudge_type: NudgeType
    subject: str = Field(min_length=1, max_length=120)  # email subject / push title
    body: str = Field(min_length=1, max_length=2000)  # email text / push body (first 180 chars)
    course_ids: tuple[str, ...] = ()  # courses the nudge points at, best first
    provenance: Provenance
    model: str  # LLM model id, or the rules version
    prompt_version: str  # template version (rules) or prompt version (llm)

    @property
    def idempotency_key(self) -> str:
        """One nudge per learner, type and day: retries and reruns can never send twice."""
        return f"{self.learner_id}:{self.nudge_type}:{self.nudge_date.isoformat()}"
