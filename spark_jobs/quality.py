"""The quality gate on the feature outputs: a great-expectations checkpoint per table.

Checked before anything is published (lake output or warehouse): keys not null and unique, every
score in its documented range, no nulls where a value always exists, skill vectors of the
taxonomy's length with levels in [0, 1], and row counts against what the run saw: one learner
row per learner with any event up to the run date (never fewer than the learners active on the
run date), one course row per catalogue course. A failure raises :class:`FeatureQualityError`
naming each failed expectation, its column and what was observed.

The checks are declared once (:func:`learner_checks`, :func:`course_checks`). Spark reduces a
staged table to its *profile* in one aggregation (:func:`profile`): per check the exact figure
it needs (null count, minimum, maximum, values outside the set, duplicate keys, rows), a single
row whatever the number of learners. Great-expectations validates that profile: a million
learners cost one Spark job instead of a pandas copy of the table, and the checkpoint still
names the failed expectation, the column and the observed value (``engagement_score.max``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import Column, DataFrame


class FeatureQualityError(RuntimeError):
    """The features failed their checkpoint: nothing of the run was published."""


@dataclass(frozen=True)
class Expected:
    """What the run knows the outputs must look like."""

    n_learners: int  # learners with any event up to the run date
    n_active_learners: int  # learners with an event on the run date
    n_courses: int
    n_skills: int


@dataclass(frozen=True)
class Check:
    """One expectation on a table: ``kind`` in not_null | between | in_set | unique.

    ``column`` may name a derived value (``skill_vector.length``; see :data:`DERIVED`).
    """

    kind: str
    column: str
    min_value: float | None = None
    max_value: float | None = None
    values: tuple[str, ...] = ()


#: Values of array columns the checks look at, as Spark expressions of the staged table.
DERIVED = {
    "skill_vector.length": lambda F: F.size("skill_vector"),
    "skill_vector.min": lambda F: F.array_min("skill_vector"),
    "skill_vector.max": lambda F: F.array_max("skill_vector"),
}

NOT_NULL_LEARNER = (
    "learner_id",
    "feature_date",
    "skill_vector",
    "engagement_score",
    "preferred_format",
    "affinity_score",
)


def learner_checks(expected: Expected) -> list[Check]:
    checks = [Check("not_null", c) for c in NOT_NULL_LEARNER]
    checks += [
        Check("unique", "learner_id"),
        Check("in_set", "preferred_format", values=("video", "text", "mixed")),
        Check("between", "skill_vector.length", expected.n_skills, expected.n_skills),
        Check("between", "skill_vector.min", min_value=0.0),
        Check("between", "skill_vector.max", max_value=1.0),
    ]
    checks += [Check("between", c, 0.0, 1.0) for c in ("engagement_score", "affinity_score")]
    return checks


def course_checks(expected: Expected) -> list[Check]:
    checks = [
        Check("not_null", c)
        for c in ("course_id", "feature_date", "format", "n_learners_30d", "learner_days_30d", "events_30d")
    ]
    checks += [
        Check("unique", "course_id"),
        Check("between", "completion_rate", 0.0, 1.0),
        Check("between", "avg_quiz_score", 0.0, 100.0),
        Check("between", "engagement_by_format", min_value=0.0),
    ]
    checks += [Check("between", c, min_value=0) for c in ("n_learners_30d", "learner_days_30d", "events_30d")]
    return checks


def row_bounds(table: str, expected: Expected) -> tuple[int, int]:
    """(min, max) rows of a table: every learner seen (and at least the day's active ones)."""
    if table == "learner_features":
        return max(expected.n_learners, expected.n_active_learners), expected.n_learners
    return expected.n_courses, expected.n_courses


CHECKS = {"learner_features": learner_checks, "course_features": course_checks}


def _bounds(check: Check) -> list[tuple[str, float | None, float | None]]:
    """(profile column, min, max) pairs that decide a check."""
    name = check.column
    if check.kind == "between":
        return [
            (f"{name}.{end}", low, high)
            for end, low, high in (("min", check.min_value, None), ("max", None, check.max_value))
            if low is not None or high is not None
        ]
    suffix = {"not_null": "nulls", "in_set": "not_in_set", "unique": "duplicates"}[check.kind]
    return [(f"{name}.{suffix}", None, 0)]


def _aggregate(check: Check, metric: str, value: Column) -> Column:
    from pyspark.sql import functions as F

    suffix = metric.rsplit(".", 1)[1]
    if suffix == "nulls":
        return F.count_if(value.isNull())
    if suffix == "not_in_set":
        return F.count_if(value.isNotNull() & ~value.isin(*check.values))
    if suffix == "duplicates":
        return F.count(value) - F.count_distinct(value)
    return F.min(value) if suffix == "min" else F.max(value)


def profile(table: str, frame: DataFrame, expected: Expected) -> pd.DataFrame:
    """The one-row profile of a staged table that the checkpoint validates (one Spark job)."""
    from pyspark.sql import functions as F

    metrics = [F.count(F.lit(1)).alias("rows")]
    for check in CHECKS[table](expected):
        value = DERIVED[check.column](F) if check.column in DERIVED else F.col(check.column)
        metrics += [_aggregate(check, metric, value).alias(metric) for metric, _, _ in _bounds(check)]
    return frame.agg(*metrics).toPandas()


def expectations(table: str, expected: Expected) -> list[Any]:
    """The great-expectations suite of a table's profile (see :func:`profile`)."""
    import great_expectations.expectations as gxe

    low, high = row_bounds(table, expected)
    bounds = [("rows", low, high)]
    bounds += [bound for check in CHECKS[table](expected) for bound in _bounds(check)]
    return [gxe.ExpectColumnValuesToBeBetween(column=c, min_value=lo, max_value=hi) for c, lo, hi in bounds]


def _describe(result: Any) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    observed = result.result or {}
    seen = {k: observed[k] for k in ("observed_value", "partial_unexpected_list") if k in observed}
    if result.exception_info and result.exception_info.get("raised_exception"):
        seen["exception"] = str(result.exception_info.get("exception_message"))[:200]
    return f"{config.type} {kwargs}: {seen}"


def run_checkpoint(profiles: dict[str, pd.DataFrame], expected: Expected, label: str) -> None:
    """Validate the tables' profiles (``learner_features``, ``course_features``) with one
    checkpoint each; raise FeatureQualityError listing every failed expectation."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas(name="learnrec_features")
    failures = []
    for name, frame in profiles.items():
        batch = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(f"{name}_run")
        suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite"))
        for check in expectations(name, expected):
            suite.add_expectation(check)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(name=f"{name}_checkpoint", validation_definitions=[definition])
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        for validation in outcome.run_results.values():
            failures += [f"{name}: {_describe(r)}" for r in validation.results if not r.success]
    if failures:
        raise FeatureQualityError(
            f"features for {label} failed {len(failures)} expectation(s); nothing was published:\n  "
            + "\n  ".join(failures)
        )
