"""The A/B control group: stable membership, its share, fallback rows flagged, off by default."""

from __future__ import annotations

import numpy as np

from exports.recommendations.control import in_control
from exports.recommendations.gate import run_gate
from exports.recommendations.precompute import precompute
from exports.recommendations.publish import publish
from ml.ranking.rules import RuleConfig

from .conftest import RUN_DATE, rows_of


def test_membership_is_stable_and_the_share_is_respected():
    ids = [f"learner-{i}" for i in range(100_000)]
    mask = in_control(ids, 0.05)
    assert abs(mask.mean() - 0.05) < 0.003  # ~4 standard errors at n=100k
    assert (in_control(list(reversed(ids)), 0.05)[::-1] == mask).all()  # by id, not by position
    assert (in_control(ids, 0.10) >= mask).all()  # a larger share keeps the learners already in it
    assert not in_control(ids, 0.0).any()


def run(warehouse, champion, content, **kw):
    return precompute(
        warehouse, RUN_DATE, champion=champion, content=content, config=RuleConfig(top_n=10), **kw
    )


def served(warehouse, run_id):
    return rows_of(
        warehouse,
        "SELECT learner_id, model_version, fallback, is_control FROM recs.learner_recommendations "
        "WHERE run_id = ? ORDER BY learner_id, rank",
        [run_id],
    )


def test_control_learners_get_the_fallback_flagged_in_recs_and_the_log(warehouse, champion, content):
    report = run(warehouse, champion, content, control_share=0.3)
    rows = served(warehouse, report.run_id)
    control = {r["learner_id"] for r in rows if r["is_control"]}
    learners = sorted({r["learner_id"] for r in rows})
    assert control == {lid for lid, c in zip(learners, in_control(learners, 0.3), strict=True) if c}
    assert control and len(control) < len(learners)
    # the non-personalised fallback: no-results, or cold start for learners who are cold anyway
    assert {r["fallback"] for r in rows if r["is_control"]} <= {"no_results", "cold_start"}
    assert any(r["fallback"] is None for r in rows if not r["is_control"])

    assert run_gate(warehouse, report.run_id, top_n=10).success
    publish(warehouse, report.run_id, keep_versions=3)
    logged = rows_of(warehouse, "SELECT learner_id, is_control FROM raw.served_recommendations", [])
    assert {r["learner_id"] for r in logged if r["is_control"]} == control
    assert all(r["is_control"] is not None for r in logged)


def test_default_share_zero_changes_nothing(warehouse, champion, content):
    base = served(warehouse, run(warehouse, champion, content).run_id)
    again = served(warehouse, run(warehouse, champion, content, control_share=0.0).run_id)
    assert base == again and not any(r["is_control"] for r in base)
    assert np.unique([r["fallback"] or "" for r in base]).size > 1  # the world has personalised routes
