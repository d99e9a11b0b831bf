"""Learners: onboarding answers, consents, privacy tier, and the latent traits that drive behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from learnrec.contracts.sources import LEARNERS
from learnrec.world.taxonomy import Taxonomy

LEARNER_FORMATS = np.array(["video", "text", "mixed"])
FIRST_NAMES = np.array(
    [
        "Ada",
        "Amara",
        "Ben",
        "Chen",
        "Diego",
        "Elif",
        "Fatima",
        "Grace",
        "Hiro",
        "Ines",
        "Jonas",
        "Kofi",
        "Lena",
        "Mateo",
        "Nadia",
        "Omar",
        "Priya",
        "Quinn",
        "Rosa",
        "Sami",
        "Tariq",
        "Uma",
        "Viktor",
        "Wen",
        "Yara",
        "Zoe",
        "Aiko",
        "Bruno",
        "Carla",
        "Dev",
        "Emma",
        "Felix",
        "Gita",
        "Hana",
        "Ivan",
        "Jade",
        "Kai",
        "Lucia",
        "Milo",
        "Noor",
    ]
)
# IANA zone, UTC offset in hours (standard time; good enough to shape the daily rhythm), weight
TIMEZONES = (
    ("America/Los_Angeles", -8, 0.12),
    ("America/New_York", -5, 0.18),
    ("America/Sao_Paulo", -3, 0.08),
    ("Europe/London", 0, 0.10),
    ("Europe/Berlin", 1, 0.12),
    ("Africa/Lagos", 1, 0.05),
    ("Asia/Dubai", 4, 0.04),
    ("Asia/Kolkata", 5.5, 0.15),
    ("Asia/Singapore", 8, 0.06),
    ("Asia/Tokyo", 9, 0.05),
    ("Australia/Sydney", 10, 0.05),
)
# Local hours at which sessions start: morning, lunch and evening peaks.
SESSION_HOUR_WEIGHTS = np.array(
    [
        0.2,
        0.1,
        0.1,
        0.1,
        0.2,
        0.5,
        1.2,
        2.0,
        2.2,
        1.5,
        1.2,
        1.4,
        2.0,
        1.6,
        1.2,
        1.1,
        1.2,
        1.5,
        2.4,
        3.0,
        3.2,
        2.8,
        1.6,
        0.6,
    ]
)


@dataclass(frozen=True)
class Population:
    learner_ids: np.ndarray  # str "L0000001"..
    goal: np.ndarray  # int16 latent goal index (everyone has one; some never declare it)
    declared_goal: np.ndarray  # bool: answered onboarding
    role: np.ndarray  # int16
    fmt: np.ndarray  # int8 latent format preference, index into LEARNER_FORMATS
    side_interests: np.ndarray  # (n, 2) int skill indices of personal interests outside the goal
    skills: np.ndarray  # (n, n_skills) float32 latent skill levels 0..5 at the window start
    base_rate: np.ndarray  # float32 sessions per day when fully engaged
    engagement: np.ndarray  # float32 0..1 at the window start
    signup_day: np.ndarray  # int32 relative to window start
    tz_offset_hours: np.ndarray  # float32
    table: pa.Table  # raw.learners rows (contract LEARNERS)

    @property
    def n_learners(self) -> int:
        return len(self.learner_ids)


def generate_population(
    tax: Taxonomy,
    n: int,
    window_start: datetime,
    days: int,
    onboarding_skip_share: float,
    opted_in_share: float,
    new_learner_share: float,
    rng: np.random.Generator,
) -> Population:
    n_goals, n_roles = len(tax.goal_names), len(tax.role_names)
    goal_weights = rng.dirichlet(np.full(n_goals, 3.0))
    goal = rng.choice(n_goals, size=n, p=goal_weights).astype(np.int16)
    declared = rng.random(n) >= onboarding_skip_share
    role = rng.integers(0, n_roles, size=n).astype(np.int16)
    fmt = rng.choice(3, size=n, p=[0.55, 0.25, 0.20]).astype(np.int8)
    side = rng.integers(0, tax.n_skills, size=(n, 2))

    skills = np.abs(rng.normal(0.0, 0.3, size=(n, tax.n_skills))).astype(np.float32)
    for r, (role_skills, level) in enumerate(zip(tax.role_skills, tax.role_levels, strict=True)):
        members = np.flatnonzero(role == r)
        if role_skills and len(members):
            cols = np.array(role_skills)
            skills[np.ix_(members, cols)] = np.clip(
                level + rng.normal(0, 0.5, (len(members), len(cols))), 0, 5
            )

    base_rate = np.clip(rng.lognormal(np.log(0.45), 0.5, n), 0.03, 0.95).astype(np.float32)
    engagement = rng.beta(4.0, 2.5, n).astype(np.float32)
    is_new = rng.random(n) < new_learner_share
    signup_day = np.where(is_new, rng.integers(0, days, n), -rng.integers(1, 365, n)).astype(np.int32)

    tz_names = np.array([t[0] for t in TIMEZONES])
    tz_weights = np.array([t[2] for t in TIMEZONES])
    tz = rng.choice(len(TIMEZONES), size=n, p=tz_weights / tz_weights.sum())
    tz_offset = np.array([t[1] for t in TIMEZONES], dtype=np.float32)[tz]

    learner_ids = np.char.add("L", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
    has_email = rng.random(n) < 0.95
    has_push = rng.random(n) < 0.6
    opted_in = rng.random(n) < opted_in_share
    declared_fmt = np.where(rng.random(n) < 0.8, fmt, rng.integers(0, 3, n))
    signup_at = np.datetime64(window_start.replace(tzinfo=None), "us") + (
        signup_day.astype("int64") * 86_400_000_000 + rng.integers(0, 86_400_000_000, n)
    ).astype("timedelta64[us]")
    retention_years = np.where(opted_in, 3, 2)
    retention = signup_at + (retention_years * 365 * 86_400_000_000).astype("timedelta64[us]")
    expired = rng.random(n) < 0.01  # a few learners whose retention has already run out
    retention = np.where(
        expired, np.datetime64(window_start.replace(tzinfo=None), "us") - np.timedelta64(1, "D"), retention
    )
    goal_names = np.array(tax.goal_names)
    goal_domains = np.array(tax.goal_domains)
    ids = pa.array(learner_ids)
    table = pa.table(
        {
            "learner_id": ids,
            "first_name": first,
            "email": pc.if_else(
                pa.array(has_email),
                pc.binary_join_element_wise(
                    pc.utf8_lower(pa.array(first)), ".", pc.utf8_lower(ids), "@example.test", ""
                ),
                pa.nulls(n, pa.string()),
            ),
            "push_token": pc.if_else(
                pa.array(has_push),
                pc.binary_join_element_wise("fcm-test-", ids, ""),
                pa.nulls(n, pa.string()),
            ),
            "career_goal": pc.if_else(
                pa.array(declared), pa.array(goal_names[goal]), pa.nulls(n, pa.string())
            ),
            "current_role": pa.array(np.array(tax.role_names)[role]),
            "interest_area": pc.if_else(
                pa.array(declared), pa.array(goal_domains[goal]), pa.nulls(n, pa.string())
            ),
            "preferred_format": pc.if_else(
                pa.array(declared), pa.array(LEARNER_FORMATS[declared_fmt]), pa.nulls(n, pa.string())
            ),
            "data_tier": np.where(opted_in, "opted_in", "default"),
            "email_opt_in": has_email & (rng.random(n) < 0.85),
            "push_opt_in": has_push & (rng.random(n) < 0.75),
            "timezone": tz_names[tz],
            "signed_up_at": pa.array(signup_at, pa.timestamp("us", tz="UTC")),
            "retention_expiry": pa.array(retention, pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array(signup_at, pa.timestamp("us", tz="UTC")),
        },
        schema=LEARNERS,
    )
    return Population(
        learner_ids,
        goal,
        declared,
        role,
        fmt,
        side,
        skills,
        base_rate,
        engagement,
        signup_day,
        tz_offset,
        table,
    )


def session_hour_probabilities() -> np.ndarray:
    return SESSION_HOUR_WEIGHTS / SESSION_HOUR_WEIGHTS.sum()


def utc_hours(local_hours: np.ndarray, tz_offset_hours: np.ndarray) -> np.ndarray:
    return np.mod(local_hours - tz_offset_hours, 24.0)
