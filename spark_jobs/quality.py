"""The quality gate on the feature outputs: a great-expectations checkpoint per table.

Checked before anything is published (lake output or warehouse): keys not null and unique, every
score in its documented range, no nulls where a value always exists, skill vectors of the
taxonomy's length with levels in [0, 1], and row counts against what the run saw: one learner
row per learner with any event up to the run date (never fewer than the learners active on the
run date), one course row per catalogue course. A failure raises :class:`FeatureQualityError`
naming each failed expectation, its column and what was observed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame


class FeatureQualityError(RuntimeError):
    """The features failed their checkpoint: nothing of the run was published."""


@dataclass(frozen=True)
class Expected:
    """What the run knows the outputs must look like."""

    n_learners: int  # learners with any event up to the run date
    n_active_learners: int  # learners with an event on the run date
    n_courses: int
    n_skills: int


NOT_NULL_LEARNER = (
    "learner_id",
    "feature_date",
    "skill_vector_length",  # null when the vector is null (see validation_frame)
    "engagement_score",
    "preferred_format",
    "affinity_score",
    "days_since_last_activity",
    "activity_7d",
    "activity_prev_21d",
    "activity_trend",
    "sessions_30d",
    "events_30d",
)


def learner_expectations(expected: Expected) -> list[Any]:
    import great_expectations.expectations as gxe

    checks: list[Any] = [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in NOT_NULL_LEARNER]
    checks += [
        gxe.ExpectColumnValuesToBeUnique(column="learner_id"),
        gxe.ExpectTableRowCountToEqual(value=expected.n_learners),
        gxe.ExpectTableRowCountToBeBetween(min_value=expected.n_active_learners),
        gxe.ExpectColumnValuesToBeInSet(column="preferred_format", value_set=["video", "text", "mixed"]),
        gxe.ExpectColumnValuesToBeBetween(
            column="skill_vector_length", min_value=expected.n_skills, max_value=expected.n_skills
        ),
        gxe.ExpectColumnValuesToBeBetween(column="skill_vector_min", min_value=0.0),
        gxe.ExpectColumnValuesToBeBetween(column="skill_vector_max", max_value=1.0),
        gxe.ExpectColumnValuesToBeBetween(column="activity_trend", min_value=-1.0, max_value=1.0),
        gxe.ExpectColumnValuesToBeBetween(column="quiz_trend", min_value=-100.0, max_value=100.0),
        gxe.ExpectColumnValuesToBeBetween(column="avg_quiz_score", min_value=0.0, max_value=100.0),
        gxe.ExpectColumnValuesToBeBetween(column="days_since_last_activity", min_value=0),
    ]
    for column in ("engagement_score", "affinity_score", "completion_rate", "skip_rate"):
        checks.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0.0, max_value=1.0))
    for column in ("activity_7d", "activity_prev_21d", "sessions_30d", "events_30d"):
        checks.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    return checks


def course_expectations(expected: Expected) -> list[Any]:
    import great_expectations.expectations as gxe

    checks: list[Any] = [
        gxe.ExpectColumnValuesToNotBeNull(column=c)
        for c in ("course_id", "feature_date", "format", "n_learners_30d", "learner_days_30d", "events_30d")
    ]
    checks += [
        gxe.ExpectColumnValuesToBeUnique(column="course_id"),
        gxe.ExpectTableRowCountToEqual(value=expected.n_courses),
        gxe.ExpectColumnValuesToBeBetween(column="completion_rate", min_value=0.0, max_value=1.0),
        gxe.ExpectColumnValuesToBeBetween(column="avg_quiz_score", min_value=0.0, max_value=100.0),
        gxe.ExpectColumnValuesToBeBetween(column="engagement_by_format", min_value=0.0),
    ]
    for column in ("n_learners_30d", "learner_days_30d", "events_30d"):
        checks.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    return checks


def _describe(result: Any) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    observed = result.result or {}
    seen = {
        k: observed[k]
        for k in ("observed_value", "unexpected_count", "partial_unexpected_list")
        if k in observed
    }
    if "partial_unexpected_list" in seen:
        seen["partial_unexpected_list"] = seen["partial_unexpected_list"][:5]
    if result.exception_info and result.exception_info.get("raised_exception"):
        seen["exception"] = str(result.exception_info.get("exception_message"))[:200]
    return f"{config.type} {kwargs}: {seen}"


def validation_frame(name: str, frame: DataFrame) -> pd.DataFrame:
    """The staged Spark output as pandas for the checkpoint; skill vectors reduced to their
    length, minimum and maximum (what the expectations check).

    Validating in pandas costs one Arrow transfer of the output (a million learners take seconds)
    instead of one Spark job per metric.
    """
    from pyspark.sql import functions as F

    if name == "learner_features":
        vector = F.col("skill_vector")
        frame = frame.withColumns(
            {
                "skill_vector_length": F.size(vector),
                "skill_vector_min": F.array_min(vector),
                "skill_vector_max": F.array_max(vector),
            }
        ).drop("skill_vector")
    return frame.toArrow().to_pandas()


def run_checkpoint(frames: dict[str, pd.DataFrame], expected: Expected, label: str) -> None:
    """Validate the outputs (``learner_features``, ``course_features``; see ``validation_frame``)
    with one checkpoint each; raise FeatureQualityError listing every failed expectation."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas(name="learnrec_features")
    suites = {"learner_features": learner_expectations, "course_features": course_expectations}
    failures = []
    for name, frame in frames.items():
        batch = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(f"{name}_run")
        suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite"))
        for check in suites[name](expected):
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
