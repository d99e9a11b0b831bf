"""The product's business rules, applied to a chunk of learners at once.

Two stages keep 1M learners x 10k courses fast and bounded in memory:

1. dense, on the whole ``[chunk, courses]`` score matrix (torch, in place): the preferred format
   is weighted in, courses far from the learner's level are penalised, completed / in-progress /
   skipped courses are masked out, and only the best ``candidate_pool`` columns survive (top-k);
2. sparse, on those few candidates per learner (numpy, vectorised over the chunk): a course the
   learner cannot take yet is replaced by its missing prerequisite, duplicates go, and at most
   ``diversity_k`` courses of one skill cluster may sit in the top ``diversity_window``.

Scores arrive on any scale; :func:`standardise_rows` puts each learner's row on a unit scale so
the rule weights mean the same for every scorer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ml.ranking.catalog import FORMAT_FIT, CourseCatalog

#: ``ChunkState.status`` values.
OPEN, COMPLETED, IN_PROGRESS = 0, 1, 2


@dataclass(frozen=True)
class RuleConfig:
    top_n: int = 20
    diversity_k: int = 3  # at most this many courses of one skill cluster ...
    diversity_window: int = 10  # ... among the first this many
    format_weight: float = 0.3  # bonus (in row standard deviations) for a perfectly suited format
    difficulty_weight: float = 0.5  # penalty per difficulty level outside the learner's band
    prerequisite_depth: int = 4  # how far down a chain of missing prerequisites we walk
    candidate_pool: int = 0  # top-k kept before the sparse rules; 0 = 3 * top_n + 20

    @property
    def pool(self) -> int:
        return self.candidate_pool or 3 * self.top_n + 20


@dataclass(frozen=True)
class ChunkState:
    """What the rules know about each learner of a chunk (row ``i`` = learner ``i``)."""

    status: np.ndarray  # int8 [b, C]: OPEN, COMPLETED or IN_PROGRESS (in progress or skipped)
    domain_level: np.ndarray  # float32 [b, D]: skill level 0..1 per catalogue domain, NaN unknown
    preferred_format: np.ndarray  # int8 [b]: index into LEARNER_FORMATS, -1 unknown
    format_affinity: np.ndarray  # float32 [b]: how strongly the format preference holds, 0..1


@dataclass(frozen=True)
class RankedChunk:
    course: np.ndarray  # int32 [b, top_n]: catalogue column, -1 where fewer were eligible
    score: np.ndarray  # float32 [b, top_n]: adjusted score of the course that put it there
    unlocks: np.ndarray  # int32 [b, top_n]: the course this prerequisite was recommended for, or -1

    @property
    def n_valid(self) -> np.ndarray:
        return (self.course >= 0).sum(axis=1)


def standardise_rows(scores: torch.Tensor) -> torch.Tensor:
    """In place: each row to mean 0, sd 1. Returns a bool mask of rows that carry no
    information (constant or non-finite): the "engine returned no results" case."""
    finite = torch.isfinite(scores).all(dim=1)
    scores.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
    std, mean = torch.std_mean(scores, dim=1, keepdim=True)
    empty = ~finite | (std.squeeze(1) <= 1e-12)
    scores.sub_(mean).div_(std.clamp_min(1e-12))
    return empty


def apply_dense_rules(
    scores: torch.Tensor, state: ChunkState, catalog: CourseCatalog, config: RuleConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1 (in place on ``scores``): format, difficulty, exclusions, then top-k candidates."""
    known = torch.from_numpy(state.preferred_format >= 0)
    if bool(known.any()):
        fit = torch.from_numpy(FORMAT_FIT[:, np.maximum(catalog.format_code, 0)])  # [3, C]
        fit[:, torch.from_numpy(catalog.format_code < 0)] = 0.0
        rows = torch.from_numpy(np.flatnonzero(state.preferred_format >= 0))
        weight = torch.from_numpy(state.format_affinity[rows.numpy()]).mul_(config.format_weight)
        bonus = fit[torch.from_numpy(state.preferred_format[rows.numpy()].astype(np.int64))]
        scores[rows] += bonus.mul_(weight[:, None])
    level = torch.from_numpy(state.domain_level)[:, torch.from_numpy(catalog.domain_code.astype(np.int64))]
    # the learner's band: one level either side of 1.5 + 4 * skill (a beginner starts at 1-2.5)
    target = level.mul_(4.0).add_(1.5)
    gap = torch.from_numpy(catalog.difficulty)[None, :] - target
    penalty = (gap - 1.0).clamp_min_(0.0).add_((-gap - 1.0).clamp_min_(0.0).mul_(0.5))
    scores.sub_(penalty.nan_to_num_(nan=0.0).mul_(config.difficulty_weight))
    scores.masked_fill_(torch.from_numpy(state.status != OPEN), float("-inf"))
    k = min(config.pool, scores.shape[1])
    top = torch.topk(scores, k, dim=1, sorted=True)
    return top.indices.numpy().astype(np.int32), top.values.numpy()


def _first_in_row(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each element, its occurrence number among equal keys of its row (0 = first by position);
    stable, so earlier (better-scored) positions count first. Returns (occurrence, order)."""
    order = np.argsort(keys, axis=1, kind="stable")
    ordered = np.take_along_axis(keys, order, axis=1)
    positions = np.broadcast_to(np.arange(keys.shape[1]), keys.shape)
    starts = np.ones(keys.shape, bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group_start = np.maximum.accumulate(np.where(starts, positions, 0), axis=1)
    occurrence = np.empty_like(order)
    np.put_along_axis(occurrence, order, positions - group_start, axis=1)
    return occurrence, order


def apply_sparse_rules(
    candidates: np.ndarray,
    cand_scores: np.ndarray,
    state: ChunkState,
    catalog: CourseCatalog,
    config: RuleConfig,
) -> RankedChunk:
    """Stage 2: prerequisite substitution, de-duplication, diversity, then the final top-N."""
    b, m = candidates.shape
    rows = np.arange(b)[:, None]
    valid = np.isfinite(cand_scores)
    course = np.where(valid, candidates, 0)
    unlocks = np.full(course.shape, -1, np.int32)
    for depth in range(config.prerequisite_depth + 1):
        prereq = catalog.prerequisites[course]  # [b, m, P]
        missing = (prereq >= 0) & (state.status[rows[..., None], np.maximum(prereq, 0)] != COMPLETED)
        blocked = missing.any(axis=2) & valid
        if not blocked.any():
            break
        if depth == config.prerequisite_depth:
            valid &= ~blocked  # a chain deeper than we walk: leave it out rather than break the rule
            break
        first_missing = np.take_along_axis(prereq, missing.argmax(axis=2)[..., None], axis=2)[..., 0]
        unlocks = np.where(blocked & (unlocks < 0), course, unlocks)
        course = np.where(blocked, first_missing, course)
    # a substituted prerequisite may itself be completed-in-progress or skipped: never recommend it
    valid &= state.status[rows, course] == OPEN
    positions = np.arange(m)[None, :]
    duplicate = _first_in_row(np.where(valid, course, -1 - positions))[0] > 0
    valid &= ~duplicate
    clusters = np.where(valid, catalog.cluster_code[course], -1 - positions)
    occurrence = _first_in_row(clusters)[0]
    eligible = valid & (occurrence < config.diversity_k)
    head = eligible & (np.cumsum(eligible, axis=1) <= config.diversity_window)
    tier = np.where(head, 0, np.where(valid, 1, 2))
    order = np.argsort(tier, axis=1, kind="stable")[:, : config.top_n]
    keep = np.take_along_axis(tier, order, axis=1) < 2
    pick = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    return RankedChunk(
        course=np.where(keep, pick(course), -1).astype(np.int32),
        score=np.where(keep, pick(cand_scores), np.nan).astype(np.float32),
        unlocks=np.where(keep, pick(unlocks), -1).astype(np.int32),
    )


def rank_chunk(
    scores: torch.Tensor, state: ChunkState, catalog: CourseCatalog, config: RuleConfig
) -> RankedChunk:
    """All rules on one chunk: ``scores`` is ``[b, C]`` in catalogue column order (modified)."""
    candidates, cand_scores = apply_dense_rules(scores, state, catalog, config)
    return apply_sparse_rules(candidates, cand_scores, state, catalog, config)
