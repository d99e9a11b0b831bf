"""The product document's downstream contracts: Learner Profile, Course Metadata, Recommendation Log.

The warehouse marts (``dim_learners``, ``dim_courses``, ``recs``/``ops`` tables) are shaped after
these; tests validate sample rows against them, and apps can rely on them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class PreferredFormat(StrEnum):
    VIDEO = "video"
    TEXT = "text"
    MIXED = "mixed"


class CourseFormat(StrEnum):
    VIDEO = "video"
    TEXT = "text"
    LIVE = "live"
    MIXED = "mixed"


class DataTier(StrEnum):
    DEFAULT = "default"
    OPTED_IN = "opted_in"


class Outcome(StrEnum):
    CLICKED = "clicked"
    ENROLLED = "enrolled"
    IGNORED = "ignored"
    COMPLETED = "completed"


class LearningStyle(BaseModel):
    model_config = ConfigDict(frozen=True)

    preferred_format: PreferredFormat
    affinity_score: float = Field(ge=0.0, le=1.0)
    last_updated: datetime


class LearnerProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    learner_id: str
    career_goal: str | None  # null when the learner skipped onboarding
    current_role: str | None
    skill_vector: list[float]  # indexed by the shared skill index; updated after every completion
    engagement_score: float = Field(ge=0.0, le=1.0)  # rolling 30-day
    dropout_probability: float | None = Field(None, ge=0.0, le=1.0)  # recomputed daily
    learning_style: LearningStyle | None
    data_tier: DataTier
    retention_expiry: datetime


class CourseMetadata(BaseModel):
    model_config = ConfigDict(frozen=True)

    course_id: str
    title: str
    skill_tags: list[str]
    difficulty_score: float = Field(ge=1.0, le=5.0)
    prerequisites: list[str]
    format: CourseFormat
    duration_hours: float = Field(gt=0.0)
    quality_score: float = Field(ge=0.0, le=1.0)
    embedding_vector: list[float] | None
    rag_indexed: bool
    rag_indexed_at: datetime | None


class RecommendationLog(BaseModel):
    model_config = ConfigDict(frozen=True)

    log_id: str
    learner_id: str
    course_id: str
    model_version: str
    signals_used: list[str]
    rank_at_serve: int = Field(ge=1)
    served_at: datetime
    outcome: Outcome | None
    outcome_recorded_at: datetime | None
    # beyond the product's contract (an optional addition, old rows read as False): the learner was
    # in the A/B control group and served the non-personalised fallback, so lift can be measured
    is_control: bool = False
