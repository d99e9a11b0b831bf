"""The publication gate: a great-expectations checkpoint over a precomputed version.

The checks run on one row per active learner, aggregated in the warehouse (so the gate costs a
few SQL aggregates plus a 1-row-per-learner frame, not the 20 rows per learner themselves):

* every active learner has exactly N recommendations (and nobody else has any);
* none is a course the learner completed;
* no duplicates (same course twice for a learner) and ranks are 1..n;
* the prerequisite rule holds: every prerequisite of a recommended course is completed;
* every score is finite;
* the learning path each learner is served (``tables.SERVED_PATH``: the LLM one where the agent
  wrote one, else the static one) is one path of steps 1..n from one source, has no course twice,
  no completed course, no course missing from the catalogue, and every prerequisite of a step is
  completed or an earlier step. The agent checks its paths against the same rules before writing
  them, so a failure here is a bug, not an LLM mistake.

A failing version is marked ``failed`` in ``recs.runs`` and an alert row lands in ``ops.alerts``;
the current version keeps serving (``publish`` refuses anything not ``validated``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from exports.recommendations import tables
from exports.recommendations.inputs import retention_cutoff
from learnrec.alerts import Alert, raise_alert
from learnrec.tables import DIM_COURSES, DIM_LEARNERS, LEARNER_COURSE_INTERACTIONS
from learnrec.warehouse import Warehouse

PREREQUISITE_PAIRS = "recs.gate_prerequisite_pairs"
#: Per-learner counts of rule violations: each must be 0.
ZERO_COLUMNS = (
    "n_duplicates",
    "rank_gaps",
    "n_not_finite",
    "n_completed",
    "n_prerequisite_violations",
    "path_step_errors",
    "n_path_duplicates",
    "n_path_completed",
    "n_path_unknown_courses",
    "n_path_prerequisite_violations",
)


@dataclass(frozen=True)
class GateResult:
    run_id: str
    success: bool
    n_learners: int
    failures: dict[str, int] = field(default_factory=dict)  # expectation -> unexpected learners

    def describe(self) -> str:
        if self.success:
            return f"gate passed for {self.run_id} ({self.n_learners:,} learners)"
        problems = ", ".join(f"{name}: {count:,} learners" for name, count in sorted(self.failures.items()))
        return f"gate failed for {self.run_id}: {problems}"


def _prerequisite_pairs(warehouse: Warehouse) -> None:
    """(course_id, prerequisite_id) from ``marts.dim_courses``, flattened here rather than in SQL
    (DuckDB's unnest and Snowflake's FLATTEN differ). A prerequisite outside the catalogue (or the
    course itself) is left out, as the precompute's catalogue leaves it out: nobody could take it."""
    courses = warehouse.query(f"SELECT course_id, prerequisites FROM {DIM_COURSES}")
    ids = courses.column("course_id").to_pylist()
    catalogue = set(ids)
    pairs = {"course_id": [], "prerequisite_id": []}
    for course, prereqs in zip(ids, courses.column("prerequisites").to_pylist(), strict=True):
        for pre in prereqs or []:
            if pre not in catalogue or pre == course:
                continue
            pairs["course_id"].append(course)
            pairs["prerequisite_id"].append(pre)
    schema = pa.schema([("course_id", pa.string()), ("prerequisite_id", pa.string())])
    warehouse.load_arrow(PREREQUISITE_PAIRS, pa.Table.from_pydict(pairs, schema=schema), mode="replace")


def learner_summary(warehouse: Warehouse, run_id: str, run_date) -> pa.Table:
    """One row per learner that is active, or has recommendations or a learning path in ``run_id``."""
    _prerequisite_pairs(warehouse)
    return warehouse.query(
        f"""
        WITH active AS (
            SELECT learner_id FROM {DIM_LEARNERS}
            WHERE retention_expiry IS NULL OR CAST(retention_expiry AS DATE) > ?
        ),
        r AS (SELECT * FROM {tables.RECOMMENDATIONS} WHERE run_id = ?),
        done AS (
            SELECT learner_id, course_id FROM {LEARNER_COURSE_INTERACTIONS} WHERE completed
        ),
        per AS (
            SELECT r.learner_id, count(*) AS n_recs, count(DISTINCT r.course_id) AS n_distinct,
                   count(DISTINCT r.rank) AS n_ranks, max(r.rank) AS max_rank, min(r.rank) AS min_rank,
                   sum(CASE WHEN r.score BETWEEN -1e300 AND 1e300 THEN 0 ELSE 1 END) AS n_not_finite,
                   sum(CASE WHEN d.course_id IS NULL THEN 0 ELSE 1 END) AS n_completed
            FROM r LEFT JOIN done d ON d.learner_id = r.learner_id AND d.course_id = r.course_id
            GROUP BY r.learner_id
        ),
        violations AS (
            SELECT r.learner_id, count(*) AS n_prerequisite_violations
            FROM r JOIN {PREREQUISITE_PAIRS} p ON p.course_id = r.course_id
            LEFT JOIN done d ON d.learner_id = r.learner_id AND d.course_id = p.prerequisite_id
            WHERE d.course_id IS NULL
            GROUP BY r.learner_id
        ),
        path AS (SELECT p.* FROM {tables.LEARNING_PATHS} p WHERE p.run_id = ? AND {tables.SERVED_PATH}),
        path_per AS (
            SELECT p.learner_id, count(*) AS n_steps, count(DISTINCT p.step) AS n_distinct_steps,
                   min(p.step) AS min_step, max(p.step) AS max_step,
                   count(DISTINCT p.course_id) AS n_path_courses, count(DISTINCT p.source) AS n_sources,
                   sum(CASE WHEN d.course_id IS NULL THEN 0 ELSE 1 END) AS n_path_completed,
                   sum(CASE WHEN c.course_id IS NULL THEN 1 ELSE 0 END) AS n_path_unknown_courses
            FROM path p
            LEFT JOIN done d ON d.learner_id = p.learner_id AND d.course_id = p.course_id
            LEFT JOIN {DIM_COURSES} c ON c.course_id = p.course_id
            GROUP BY p.learner_id
        ),
        path_violations AS (
            SELECT p.learner_id, count(*) AS n_path_prerequisite_violations
            FROM path p JOIN {PREREQUISITE_PAIRS} pp ON pp.course_id = p.course_id
            LEFT JOIN done d ON d.learner_id = p.learner_id AND d.course_id = pp.prerequisite_id
            WHERE d.course_id IS NULL AND NOT EXISTS (
                SELECT 1 FROM path e
                WHERE e.learner_id = p.learner_id AND e.course_id = pp.prerequisite_id AND e.step < p.step)
            GROUP BY p.learner_id
        ),
        everyone AS (
            SELECT learner_id FROM active UNION SELECT learner_id FROM per
            UNION SELECT learner_id FROM path_per
        )
        SELECT e.learner_id,
               a.learner_id IS NOT NULL AS is_active,
               coalesce(per.n_recs, 0) AS n_recs,
               coalesce(per.n_recs, 0) - coalesce(per.n_distinct, 0) AS n_duplicates,
               -- ranks exactly 1..n: a span-minus-count test alone passes 2..n+1 and 1,2,2,4..n
               CASE WHEN per.learner_id IS NULL OR (per.n_ranks = per.n_recs AND per.min_rank = 1
                    AND per.max_rank = per.n_recs) THEN 0 ELSE 1 END AS rank_gaps,
               coalesce(per.n_not_finite, 0) AS n_not_finite,
               coalesce(per.n_completed, 0) AS n_completed,
               coalesce(v.n_prerequisite_violations, 0) AS n_prerequisite_violations,
               coalesce(pp.n_sources, 0) AS n_path_sources,
               CASE WHEN pp.learner_id IS NULL OR (pp.n_distinct_steps = pp.n_steps AND pp.min_step = 1
                    AND pp.max_step = pp.n_steps) THEN 0 ELSE 1 END AS path_step_errors,
               coalesce(pp.n_steps - pp.n_path_courses, 0) AS n_path_duplicates,
               coalesce(pp.n_path_completed, 0) AS n_path_completed,
               coalesce(pp.n_path_unknown_courses, 0) AS n_path_unknown_courses,
               coalesce(pv.n_path_prerequisite_violations, 0) AS n_path_prerequisite_violations
        FROM everyone e
        LEFT JOIN active a ON a.learner_id = e.learner_id
        LEFT JOIN per ON per.learner_id = e.learner_id
        LEFT JOIN violations v ON v.learner_id = e.learner_id
        LEFT JOIN path_per pp ON pp.learner_id = e.learner_id
        LEFT JOIN path_violations pv ON pv.learner_id = e.learner_id
        """,
        [retention_cutoff(run_date), run_id, run_id],
    )


def _checkpoint(frame, top_n: int):
    """Build and run the GE 1.x checkpoint (ephemeral context: nothing written to disk)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas(name="recommendations")
        .add_dataframe_asset(name="per_learner")
        .add_batch_definition_whole_dataframe("run")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="recommendations_gate"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column="learner_id"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="is_active", value_set=[True]))
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(column="n_recs", min_value=top_n, max_value=top_n)
    )
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="n_path_sources", value_set=[0, 1]))
    for column in ZERO_COLUMNS:
        suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[0]))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="recommendations_gate", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name="recommendations_gate", validation_definitions=[definition])
    )
    return checkpoint.run(batch_parameters={"dataframe": frame})


def run_gate(warehouse: Warehouse, run_id: str, *, top_n: int) -> GateResult:
    """Validate ``run_id``; record the verdict in ``recs.runs`` (``validated``/``failed``) and, on
    failure, an alert in ``ops.alerts``. Never touches the current version."""
    tables.ensure_tables(warehouse)
    run_date = warehouse.scalar(
        f"SELECT run_date FROM {tables.RUNS} WHERE run_id = ? AND status <> 'precomputing'", [run_id]
    )
    if run_date is None:  # unknown, or still being written / crashed half-way: never validated
        raise ValueError(f"no precomputed version {run_id!r} in {tables.RUNS}")
    summary = learner_summary(warehouse, run_id, run_date)
    frame = summary.to_pandas()
    failures: dict[str, int] = {}
    if frame.empty:
        failures["no learners"] = 0
    else:
        result = _checkpoint(frame, top_n)
        for validation in result.run_results.values():
            for check in validation.results:
                if not check.success:
                    config = check.expectation_config
                    column = config.kwargs.get("column", "")
                    failures[f"{config.type}({column})"] = int(check.result.get("unexpected_count") or 0)
    gate = GateResult(run_id=run_id, success=not failures, n_learners=len(frame), failures=failures)
    now = datetime.now(UTC)
    with warehouse.transaction():
        warehouse.execute(
            f"UPDATE {tables.RUNS} SET status = ?, gated_at = ?, message = ? WHERE run_id = ?",
            ["validated" if gate.success else "failed", now, gate.describe(), run_id],
        )
        if not gate.success:
            alert = Alert("recommendations", f"gate:{run_id}", now.date(), gate.describe(), run_id=run_id)
            raise_alert(warehouse, alert, now=now)
    return gate
