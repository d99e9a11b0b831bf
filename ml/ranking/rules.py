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
#: Rows per block when the per-group adjustments are gathered onto the score matrix.
ADJUST_BLOCK = 256
#: Columns sampled per row to estimate its spread: runs x contiguous columns per run.
SPREAD_RUNS, SPREAD_RUN = 8, 128


@dataclass(frozen=True)
class RuleConfig:
    top_n: int = 20
    diversity_k: int = 3  # at most this many courses of one skill cluster ...
    diversity_window: int = 10  # ... among the first this many
    format_weight: float = 0.3  # bonus (in row standard deviations) for a perfectly suited format
    difficulty_weight: float = 0.5  # penalty per difficulty level outside the learner's band
    prerequisite_depth: int = 4  # how far down a chain of missing prerequisites we walk
    candidate_pool: int = 0  # top-k kept before the sparse rules; 0 = top_n + 20

    @property
    def pool(self) -> int:
        return self.candidate_pool or self.top_n + 20


@dataclass(frozen=True)
class ChunkState:
    """What the rules know about each learner of a chunk (row ``i`` = learner ``i``).

    Course status is sparse (a learner touched a few dozen of 10k courses): ``keys`` are
    ``row * n_courses + column`` sorted ascending with their ``codes``; everything else is OPEN.
    """

    n_courses: int
    keys: np.ndarray  # int64 [nnz], sorted
    codes: np.ndarray  # int8 [nnz]: COMPLETED or IN_PROGRESS (in progress or skipped)
    domain_level: np.ndarray  # float32 [b, D]: skill level 0..1 per catalogue domain, NaN unknown
    preferred_format: np.ndarray  # int8 [b]: index into LEARNER_FORMATS, -1 unknown
    format_affinity: np.ndarray  # float32 [b]: how strongly the format preference holds, 0..1

    @classmethod
    def build(
        cls,
        n_courses: int,
        rows: np.ndarray,
        cols: np.ndarray,
        codes: np.ndarray,
        domain_level: np.ndarray,
        preferred_format: np.ndarray,
        format_affinity: np.ndarray,
    ) -> ChunkState:
        keys = rows.astype(np.int64) * n_courses + cols
        order = np.argsort(keys, kind="stable")
        return cls(
            n_courses,
            keys[order],
            codes[order].astype(np.int8),
            domain_level,
            preferred_format,
            format_affinity,
        )

    @classmethod
    def from_dense(cls, status: np.ndarray, domain_level, preferred_format, format_affinity) -> ChunkState:
        rows, cols = np.nonzero(status)
        return cls.build(
            status.shape[1], rows, cols, status[rows, cols], domain_level, preferred_format, format_affinity
        )

    def status(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Status of (row, column) pairs (broadcast), vectorised by binary search."""
        query = np.asarray(rows, np.int64) * self.n_courses + cols
        if not len(self.keys):
            return np.zeros(query.shape, np.int8)
        at = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
        return np.where(self.keys[at] == query, self.codes[at], OPEN).astype(np.int8)

    def subset(self, rows: np.ndarray) -> ChunkState:
        """The state of some rows, renumbered 0..len(rows)-1 in the given order."""
        new_row = np.full(len(self.preferred_format), -1, np.int64)
        new_row[rows] = np.arange(len(rows))
        old_row, cols = np.divmod(self.keys, self.n_courses)
        keep = new_row[old_row] >= 0
        return ChunkState.build(
            self.n_courses,
            new_row[old_row[keep]],
            cols[keep],
            self.codes[keep],
            self.domain_level[rows],
            self.preferred_format[rows],
            self.format_affinity[rows],
        )


@dataclass(frozen=True)
class RankedChunk:
    course: np.ndarray  # int32 [b, top_n]: catalogue column, -1 where fewer were eligible
    score: np.ndarray  # float32 [b, top_n]: adjusted score of the course that put it there
    unlocks: np.ndarray  # int32 [b, top_n]: the course this prerequisite was recommended for, or -1

    @property
    def n_valid(self) -> np.ndarray:
        return (self.course >= 0).sum(axis=1)


def _spread_sample(scores: torch.Tensor) -> torch.Tensor:
    """A view ``[b, runs, width]`` of about 1k columns in a few contiguous runs spread over each
    row: a strided sample touches every cache line of the matrix (a full pass), runs read a tenth
    of it at 10k courses."""
    b, n = scores.shape
    if n <= SPREAD_RUNS * SPREAD_RUN:
        return scores[:, None, :]
    row, col = scores.stride()
    return scores.as_strided(
        (b, SPREAD_RUNS, SPREAD_RUN), (row, n // SPREAD_RUNS * col, col), scores.storage_offset()
    )


def _row_std_mean(sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row sample standard deviation and mean of ``[b, runs, width]``, summed by BLAS (a
    matrix-vector product is ~10x faster than torch's row reductions on these shapes). Values are
    taken relative to the row's first one: float32 sums stay accurate whatever the row's offset,
    a constant row has a spread of exactly 0 and a non-finite value makes both non-finite."""
    b, m = sample.shape[0], sample.shape[1] * sample.shape[2]
    if m < 2:
        nan = torch.full((b,), float("nan"))
        return nan, nan
    first = sample[:, :1, :1]
    deviation = (sample - first).view(b, m)
    ones = torch.ones(m)
    total = deviation @ ones
    squares = deviation.square_() @ ones
    var = (squares - total * total / m).clamp_(min=0.0) / (m - 1)
    return var.sqrt_(), first.view(b) + total / m


def row_scale(scores: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-row standard deviation (the unit the rule weights are expressed in) and a mask of rows
    that carry no information (constant or non-finite): the "engine returned no results" case.
    Non-finite values of such rows are zeroed in place so they cannot win a top-k."""
    # a sample of columns estimates the spread well at a fraction of the cost; a constant or
    # all-NaN row is caught just the same (isolated NaNs are dropped later as non-finite)
    std, mean = _row_std_mean(_spread_sample(scores))
    empty = ~torch.isfinite(std) | ~torch.isfinite(mean) | (std <= 1e-12)
    if bool(empty.any()):
        bad = torch.nonzero(empty).squeeze(1)
        scores[bad] = torch.nan_to_num(scores[bad], nan=0.0, posinf=0.0, neginf=0.0)
    return torch.where(empty, 1.0, std).numpy().astype(np.float32), empty.numpy()


def standardise_rows(scores: torch.Tensor) -> torch.Tensor:
    """In place: each row to mean 0, sd 1; returns the no-information mask (see ``row_scale``)."""
    std, empty = row_scale(scores)
    mean = scores.mean(dim=1, keepdim=True)
    scores.sub_(mean).div_(torch.from_numpy(std)[:, None])
    return torch.from_numpy(empty)


def adjustments(state: ChunkState, catalog: CourseCatalog, config: RuleConfig) -> np.ndarray:
    """[b, T] score adjustment per learner and course group: preferred format bonus minus the
    penalty for a difficulty outside the learner's band (one level either side of
    1.5 + 4 * skill level in the course's domain: a beginner's band is 1 to 2.5)."""
    fmt = catalog.group_format
    fit = FORMAT_FIT[:, np.maximum(fmt, 0)] * (fmt >= 0)  # [3, T]
    adjust = np.zeros((len(state.preferred_format), len(fmt)), np.float32)
    known = state.preferred_format >= 0
    adjust[known] = fit[state.preferred_format[known]] * (
        config.format_weight * state.format_affinity[known, None]
    )
    level = state.domain_level[:, catalog.group_domain]
    gap = catalog.group_difficulty[None, :] - (1.5 + 4.0 * level)
    penalty = np.maximum(gap - 1.0, 0.0) + 0.5 * np.maximum(-gap - 1.0, 0.0)
    adjust -= config.difficulty_weight * np.nan_to_num(penalty, nan=0.0)
    return adjust


def apply_dense_rules(
    scores: torch.Tensor,
    state: ChunkState,
    catalog: CourseCatalog,
    config: RuleConfig,
    scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1 (in place on ``scores``): format and difficulty adjustments (in units of ``scale``,
    per row; 1 when None), exclusions, then the top-k candidates. Two passes over the matrix plus
    the top-k: the adjustments are computed per course group and gathered."""
    adjust = adjustments(state, catalog, config)
    if scale is not None:
        adjust *= scale[:, None]
    adjust_t, code = torch.from_numpy(adjust), torch.from_numpy(catalog.group_code)
    for lo in range(0, scores.shape[0], ADJUST_BLOCK):  # row blocks: the gathered block stays in cache
        scores[lo : lo + ADJUST_BLOCK].add_(adjust_t[lo : lo + ADJUST_BLOCK].index_select(1, code))
    rows, cols = np.divmod(state.keys, state.n_courses)
    scores[torch.from_numpy(rows), torch.from_numpy(cols)] = float("-inf")
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


def _substitute_prerequisites(
    course: np.ndarray, valid: np.ndarray, state: ChunkState, catalog: CourseCatalog, depth: int
) -> np.ndarray:
    """In place on ``course`` / ``valid`` (``[rows, width]``, C-contiguous) of one chunk: a course
    with a prerequisite the learner has not completed becomes its first missing prerequisite,
    walked down a chain up to ``depth`` times; a chain deeper than that is dropped rather than
    break the rule. Returns ``unlocks``: the course each substitute was recommended for, or -1.

    Only the elements still blocked are looked at again: few courses have prerequisites, so after
    the first step the walk touches a small fraction of the chunk."""
    width = course.shape[-1]
    course, valid = course.reshape(-1), valid.reshape(-1)
    unlocks = np.full(course.shape, -1, np.int32)
    has_prerequisite = (catalog.prerequisites >= 0).any(axis=1)
    at = np.flatnonzero(valid & has_prerequisite[course])
    for step in range(depth + 1):
        prereq = catalog.prerequisites[course[at]]  # [n, P]
        has = prereq >= 0
        missing = np.zeros(prereq.shape, bool)
        rows = np.broadcast_to((at // width)[:, None], prereq.shape)
        missing[has] = state.status(rows[has], prereq[has]) != COMPLETED
        blocked = missing.any(axis=1)
        at, prereq, missing = at[blocked], prereq[blocked], missing[blocked]
        if not len(at):
            break
        if step == depth:
            valid[at] = False
            break
        unlocks[at] = np.where(unlocks[at] < 0, course[at], unlocks[at])
        course[at] = prereq[np.arange(len(at)), missing.argmax(axis=1)]
    # a substitute may itself be completed, in progress or skipped: never recommend it
    at = np.flatnonzero((unlocks >= 0) & valid)
    valid[at] = state.status(at // width, course[at]) == OPEN
    return unlocks.reshape(-1, width)


def apply_sparse_rules(
    candidates: np.ndarray,
    cand_scores: np.ndarray,
    state: ChunkState,
    catalog: CourseCatalog,
    config: RuleConfig,
) -> RankedChunk:
    """Stage 2: prerequisite substitution, de-duplication, diversity, then the final top-N.
    Candidates with a finite score are open courses: the dense stage excluded the others."""
    m = candidates.shape[1]
    valid = np.isfinite(cand_scores)
    course = np.where(valid, candidates, 0)
    unlocks = _substitute_prerequisites(course, valid, state, catalog, config.prerequisite_depth)
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
    scores: torch.Tensor,
    state: ChunkState,
    catalog: CourseCatalog,
    config: RuleConfig,
    scale: np.ndarray | None = None,
) -> RankedChunk:
    """All rules on one chunk: ``scores`` is ``[b, C]`` in catalogue column order (modified);
    ``scale`` is the per-row unit of the rule weights (``row_scale``), 1 when None."""
    candidates, cand_scores = apply_dense_rules(scores, state, catalog, config, scale)
    ranked = apply_sparse_rules(candidates, cand_scores, state, catalog, config)
    # Rows whose pool ran dry (e.g. a newcomer: many candidates collapse onto the same missing
    # prerequisite) get a pool four times larger, on the already adjusted scores, until N are
    # found or the catalogue is exhausted. Rare, so the common path stays one small top-k.
    pool = candidates.shape[1]
    short = np.flatnonzero(ranked.n_valid < config.top_n)
    while len(short) and pool < scores.shape[1]:
        pool = min(scores.shape[1], pool * 4)
        index = torch.from_numpy(short)
        top = torch.topk(scores.index_select(0, index), pool, dim=1, sorted=True)
        retry = apply_sparse_rules(
            top.indices.numpy().astype(np.int32), top.values.numpy(), state.subset(short), catalog, config
        )
        ranked.course[short], ranked.score[short], ranked.unlocks[short] = (
            retry.course,
            retry.score,
            retry.unlocks,
        )
        short = short[retry.n_valid < config.top_n]
    return ranked
