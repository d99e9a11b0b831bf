"""Course-calendar and assessment signals of dropout, for inputs that carry them.

The activity features of :mod:`ml.dropout` read only daily events, which is all the product's
event stream has. Real course data (OULAD, a data team's own LMS export) also knows when each
learner registered, when the course started and which assessments were due when; on OULAD
these carry most of the signal of a later withdrawal (submitting late or not at all, scoring
below the cohort, activity fading week by week), while the daily-activity features alone stay
near ROC-AUC 0.6 (ml/EVALUATION.md, real-data section). Both are optional: a group's features
are built only when its input is given, so a model trained without them is unchanged.

Days are integers (days since 1970-01-01 for calendar dates, or any other origin such as
OULAD's offsets from the presentation start), in the same origin as the daily activity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: weeks of a course the weekly trend reads (the most recent ones when the course is longer)
MAX_WEEKS = 26

CALENDAR_FEATURES = (
    "registered_days",
    "course_day",
    "course_log_events",
    "course_active_week_share",
    "course_week_slope",
    "course_recent_vs_mean",
)
ASSESSMENT_FEATURES = (
    "assess_due",
    "assess_weighted_score",
    "assess_score_z",
    "assess_missed_share",
    "assess_last_missed",
    "assess_late_share",
    "assess_days_early",
)


@dataclass(frozen=True)
class Calendar:
    """Per learner position (aligned with ``DailyActivity.learner_ids``): the day the learner
    registered and the day their course starts (NaN = unknown)."""

    registered_day: np.ndarray
    start_day: np.ndarray


@dataclass(frozen=True)
class Assessments:
    """One row per learner x assessment the learner is expected to take, submitted or not.

    ``assessment`` identifies the assessment across learners (its cohort for score z-scores);
    ``submitted_day`` and ``score`` (0-100) are NaN when not submitted."""

    code: np.ndarray  # learner position
    assessment: np.ndarray  # int
    due_day: np.ndarray
    submitted_day: np.ndarray
    score: np.ndarray
    weight: np.ndarray


def calendar_features(
    calendar: Calendar, code: np.ndarray, day: np.ndarray, events: np.ndarray, as_of: int
) -> dict[str, np.ndarray]:
    """Registration timing and the week-by-week activity of the course up to ``as_of``, from the
    daily rows (``code``, ``day``, ``events``). A learner without a known start gets zeros."""
    n = len(calendar.start_day)
    known = ~np.isnan(calendar.start_day)
    start = np.where(known, calendar.start_day, as_of).astype(np.int64)
    first_week_start = np.maximum(start, as_of - 7 * MAX_WEEKS + 1)
    n_weeks = np.where(known & (as_of >= start), (as_of - first_week_start) // 7 + 1, 0)
    rel = day - first_week_start[code]
    rows = (rel >= 0) & (day <= as_of) & (n_weeks[code] > 0)
    weekly = np.zeros((n, MAX_WEEKS))
    np.add.at(weekly, (code[rows], rel[rows] // 7), events[rows])
    valid = np.arange(MAX_WEEKS)[None, :] < n_weeks[:, None]
    logs = np.where(valid, np.log1p(weekly), 0.0)
    weeks = np.maximum(n_weeks, 1).astype(float)
    mean = logs.sum(axis=1) / weeks
    centred = np.where(valid, np.arange(MAX_WEEKS)[None, :] - (weeks[:, None] - 1) / 2.0, 0.0)
    recent = valid & (np.arange(MAX_WEEKS)[None, :] >= n_weeks[:, None] - 4)
    registered = np.where(np.isnan(calendar.registered_day), as_of, calendar.registered_day)
    up_to = day <= as_of
    return {
        "registered_days": np.clip(as_of - registered, 0.0, 365.0),
        "course_day": np.where(known, np.clip(as_of - start, -365.0, 365.0), 0.0),
        "course_log_events": np.log1p(np.bincount(code[up_to], events[up_to], minlength=n)),
        "course_active_week_share": (valid & (weekly > 0)).sum(axis=1) / weeks,
        "course_week_slope": (logs * centred).sum(axis=1) / np.maximum((centred**2).sum(axis=1), 1.0),
        "course_recent_vs_mean": np.where(
            n_weeks > 0, (logs * recent).sum(axis=1) / np.maximum(recent.sum(axis=1), 1) - mean, 0.0
        ),
    }


def assessment_features(assessments: Assessments, n: int, as_of: int) -> dict[str, np.ndarray]:
    """Submissions and scores against deadlines up to ``as_of``, per learner position. Only what
    is known on ``as_of`` counts: an assessment is due when its deadline has passed, submitted
    when it was handed in by then; scores are z-scored within the assessment's cohort of
    submissions so far (courses mark differently)."""
    a = assessments
    due = a.due_day <= as_of
    submitted = a.submitted_day <= as_of  # NaN compares False
    code = a.code

    def per_learner(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(code[mask], values[mask], minlength=n)

    ones = np.ones(len(code))
    n_due = per_learner(ones, due)
    score = np.nan_to_num(a.score)
    weight_due = per_learner(a.weight, due)
    n_sub = per_learner(ones, submitted)
    cohort = np.unique(a.assessment, return_inverse=True)[1]
    k = int(cohort.max()) + 1 if len(cohort) else 0
    c_n = np.bincount(cohort[submitted], minlength=k)
    c_mean = np.bincount(cohort[submitted], score[submitted], minlength=k) / np.maximum(c_n, 1)
    c_sq = np.bincount(cohort[submitted], score[submitted] ** 2, minlength=k) / np.maximum(c_n, 1)
    c_std = np.sqrt(np.maximum(c_sq - c_mean**2, 0.0))
    z = (score - c_mean[cohort]) / np.maximum(c_std[cohort], 1.0)
    missed = due & ~submitted
    # the latest deadline that has passed: was it missed?
    latest_due = np.full(n, -np.inf)
    np.maximum.at(latest_due, code[due], a.due_day[due])
    last = due & (a.due_day == latest_due[code])
    early = np.clip(a.due_day - np.nan_to_num(a.submitted_day), -30.0, 30.0)
    return {
        "assess_due": n_due,
        "assess_weighted_score": per_learner(a.weight * score / 100.0, due & submitted)
        / np.maximum(weight_due, 1e-9)
        * (weight_due > 0),
        "assess_score_z": per_learner(z, submitted) / np.maximum(n_sub, 1),
        "assess_missed_share": per_learner(ones, missed) / np.maximum(n_due, 1),
        "assess_last_missed": (per_learner(ones, last & missed) > 0).astype(float),
        "assess_late_share": per_learner(ones, due & submitted & (a.submitted_day > a.due_day))
        / np.maximum(n_due, 1),
        "assess_days_early": per_learner(early, submitted) / np.maximum(n_sub, 1),
    }
