"""The business rules on hand-made score matrices: each rule can be seen to act."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from ml.ranking.catalog import build_catalog
from ml.ranking.rules import (
    COMPLETED,
    IN_PROGRESS,
    OPEN,
    ChunkState,
    RuleConfig,
    rank_chunk,
    row_scale,
    standardise_rows,
)


def catalog(
    n: int = 30, prerequisites: dict[int, list[int]] | None = None, clusters: int = 10, formats=None, hard=()
):
    prerequisites = prerequisites or {}
    rows = [
        {
            "course_id": f"c{i:02d}",
            "title": f"Course {i}",
            "domain": "data" if i < n // 2 else "design",
            "format": (formats or ["video"] * n)[i],
            "difficulty_score": 5.0 if i in hard else 2.0,
            "skill_tags": [f"s{i % clusters}"],
            "prerequisites": [f"c{p:02d}" for p in prerequisites.get(i, [])],
            "quality_score": 0.5,
        }
        for i in range(n)
    ]
    return build_catalog(pa.Table.from_pylist(rows))


def state(b: int, n: int, *, status=None, fmt=-1, level=np.nan) -> ChunkState:
    return ChunkState.from_dense(
        np.zeros((b, n), np.int8) if status is None else status,
        np.full((b, 2), level, np.float32),
        np.full(b, fmt, np.int8),
        np.ones(b, np.float32),
    )


def descending(b: int, n: int) -> torch.Tensor:
    return torch.arange(n, 0, -1, dtype=torch.float32).repeat(b, 1)


def test_completed_and_in_progress_courses_are_never_recommended():
    cat = catalog(clusters=30)
    status = np.zeros((1, 30), np.int8)
    status[0, 0], status[0, 1] = COMPLETED, IN_PROGRESS
    ranked = rank_chunk(descending(1, 30), state(1, 30, status=status), cat, RuleConfig(top_n=5))
    assert ranked.course[0].tolist() == [2, 3, 4, 5, 6]


def test_missing_prerequisite_is_recommended_instead_of_the_course():
    # c00 (best) needs c20 which needs c21; the learner completed neither
    cat = catalog(prerequisites={0: [20], 20: [21]}, clusters=30)
    ranked = rank_chunk(descending(1, 30), state(1, 30), cat, RuleConfig(top_n=5))
    assert ranked.course[0, 0] == 21  # the first course of the chain the learner can take
    assert ranked.unlocks[0, 0] == 0  # recommended for c00
    assert 0 not in ranked.course[0] and 20 not in ranked.course[0]
    # once c21 is completed, c20 is the step to take
    status = np.zeros((1, 30), np.int8)
    status[0, 21] = COMPLETED
    ranked = rank_chunk(descending(1, 30), state(1, 30, status=status), cat, RuleConfig(top_n=5))
    assert ranked.course[0, 0] == 20 and ranked.unlocks[0, 0] == 0


def test_a_chain_deeper_than_the_walk_is_left_out():
    # c00 needs c20 needs c21 needs c22: three steps down
    cat = catalog(prerequisites={0: [20], 20: [21], 21: [22]}, clusters=30)
    deep = rank_chunk(descending(1, 30), state(1, 30), cat, RuleConfig(top_n=5, prerequisite_depth=3))
    assert deep.course[0, 0] == 22 and deep.unlocks[0, 0] == 0
    shallow = rank_chunk(descending(1, 30), state(1, 30), cat, RuleConfig(top_n=5, prerequisite_depth=2))
    assert shallow.course[0].tolist() == [1, 2, 3, 4, 5]  # nothing on the way to c00 is offered


def test_prerequisite_in_progress_leaves_the_course_out():
    cat = catalog(prerequisites={0: [20]}, clusters=30)
    status = np.zeros((1, 30), np.int8)
    status[0, 20] = IN_PROGRESS
    ranked = rank_chunk(descending(1, 30), state(1, 30, status=status), cat, RuleConfig(top_n=5))
    assert 0 not in ranked.course[0] and 20 not in ranked.course[0]


def test_substitutes_do_not_duplicate_courses():
    # c00 and c01 both need c25: recommend c25 once
    cat = catalog(prerequisites={0: [25], 1: [25]}, clusters=30)
    ranked = rank_chunk(descending(1, 30), state(1, 30), cat, RuleConfig(top_n=10))
    assert ranked.course[0].tolist().count(25) == 1
    assert len(set(ranked.course[0].tolist())) == 10


def test_at_most_k_courses_of_one_cluster_in_the_top_window():
    cat = catalog(n=30, clusters=5)  # course i is in cluster s(i % 5)
    scores = torch.linspace(1, 0, 30).repeat(1, 1)
    scores[0, ::5] += 100  # every s0 course outscores everything else
    ranked = rank_chunk(scores, state(1, 30), cat, RuleConfig(top_n=20, diversity_k=3))
    top10 = cat.cluster_code[ranked.course[0, :10]]
    assert np.bincount(top10).max() == 3
    assert (cat.cluster_code[ranked.course[0, :3]] == cat.cluster_code[0]).all()  # the best come first
    assert (cat.cluster_code[ranked.course[0, 10:13]] == cat.cluster_code[0]).all()  # deferred, not dropped
    without = rank_chunk(scores.clone(), state(1, 30), cat, RuleConfig(top_n=20, diversity_k=10))
    assert (
        cat.cluster_code[without.course[0, :6]] == cat.cluster_code[0]
    ).all()  # the rule made the difference


def test_diversity_is_relaxed_only_when_the_catalogue_cannot_satisfy_it():
    cat = catalog(n=30, clusters=1)
    ranked = rank_chunk(descending(1, 30), state(1, 30), cat, RuleConfig(top_n=12, diversity_k=3))
    assert (ranked.course[0] >= 0).all()  # still N courses


def test_preferred_format_is_weighted_in():
    formats = ["video", "text"] * 15
    cat = catalog(formats=formats, clusters=30)
    flat = torch.zeros(2, 30)
    flat[:, :] = torch.linspace(0.01, 0, 30)  # nearly tied
    ranked = rank_chunk(flat, state(2, 30, fmt=1), cat, RuleConfig(top_n=5))  # text learners
    assert all(formats[c] == "text" for c in ranked.course[0])


def test_courses_far_above_the_learners_level_are_pushed_down():
    cat = catalog(clusters=30, hard=range(5))  # the five best-scored courses are expert level
    scores = descending(1, 30) / 100  # small score differences
    beginner = rank_chunk(scores.clone(), state(1, 30, level=0.0), cat, RuleConfig(top_n=5))
    expert = rank_chunk(scores.clone(), state(1, 30, level=1.0), cat, RuleConfig(top_n=5))
    assert not set(beginner.course[0]) & {0, 1, 2, 3, 4}
    assert set(expert.course[0]) == {0, 1, 2, 3, 4}


def test_constant_or_non_finite_rows_are_no_results():
    scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [1.0, float("nan"), 2.0]])
    empty = standardise_rows(scores)
    assert empty.tolist() == [False, True, True]
    assert torch.isfinite(scores).all()


def test_row_scale_is_the_spread_of_the_sampled_columns_whatever_the_offset():
    # 5000 columns: the spread is estimated on runs of columns, far from 0 and at two scales
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((4, 5000)) * np.array([[1.0], [0.01], [3.0], [0.0]]) + 1e4
    scores = torch.from_numpy(raw.astype(np.float32))
    std, empty = row_scale(scores)
    assert empty.tolist() == [False, False, False, True]  # the constant row: no information
    assert np.allclose(std[:3], [1.0, 0.01, 3.0], rtol=0.1)  # a sample of ~1k columns
    sampled = torch.cat([scores[:, i * 625 : i * 625 + 128] for i in range(8)], dim=1).double()
    assert np.allclose(std[:3], sampled.std(dim=1)[:3].numpy(), rtol=1e-3)


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunking_does_not_change_results(chunk):
    rng = np.random.default_rng(3)
    cat = catalog(n=30, prerequisites={0: [20]}, clusters=4)
    scores = torch.from_numpy(rng.standard_normal((64, 30)).astype(np.float32))
    status = (rng.random((64, 30)) < 0.1).astype(np.int8)
    full = rank_chunk(scores.clone(), state(64, 30, status=status), cat, RuleConfig(top_n=8))
    parts = [
        rank_chunk(
            scores[i : i + chunk].clone(),
            state(len(scores[i : i + chunk]), 30, status=status[i : i + chunk]),
            cat,
            RuleConfig(top_n=8),
        )
        for i in range(0, 64, chunk)
    ]
    assert np.array_equal(np.concatenate([p.course for p in parts]), full.course)
    assert OPEN == 0


def test_a_pool_that_runs_dry_is_widened_until_n_are_found():
    # the 30 best courses all need c59 (not completed): they collapse onto one recommendation
    cat = catalog(n=60, prerequisites={i: [59] for i in range(30)}, clusters=60)
    ranked = rank_chunk(descending(1, 60), state(1, 60), cat, RuleConfig(top_n=20, candidate_pool=25))
    assert ranked.n_valid[0] == 20
    assert ranked.course[0].tolist().count(59) == 1
