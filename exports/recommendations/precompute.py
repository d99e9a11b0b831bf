"""Precompute every active learner's top-N recommendations and learning path as a new version.

Each learner takes one route (``route_learners``):

* ``COLD``: fewer than 10 behavioural events (incl. skipped onboarding) -> the product's cold
  start: most popular courses in the stated career category, then platform-wide popularity;
* ``CHAMPION`` / ``CONTENT``: the scorer the learner's privacy tier allows (``ml.ranking.privacy``);
* ``NO_RESULTS``: the scorer is unavailable, returned nothing informative for the learner, or
  fewer than N courses survived the rules -> the product's fallback: content-based only,
  top-rated courses in the declared interest area first.

Every route goes through the same business rules (``ml.ranking.rules``). Learners are processed
in chunks of ``chunk_size`` so memory stays bounded whatever the number of learners; each chunk's
rows are appended to ``recs.learner_recommendations`` under the new ``run_id`` before the next.
Nothing here is visible to apps until the gate passed and ``publish`` switched the version.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from exports.recommendations import tables
from exports.recommendations.control import in_control
from exports.recommendations.inputs import RunInputs, load_inputs, retention_cutoff
from learnrec.tables import DIM_LEARNERS, LEARNER_COURSE_INTERACTIONS
from learnrec.warehouse import Warehouse
from ml.buffers import reuse_freed_buffers
from ml.ranking.explain import Reason, reasons
from ml.ranking.paths import static_paths
from ml.ranking.privacy import COLD_START_SIGNALS, NO_RESULTS_SIGNALS, policy_for
from ml.ranking.rules import (
    COMPLETED,
    ChunkState,
    RankedChunk,
    RuleConfig,
    rank_chunk,
    row_scale,
    standardise_rows,
)
from ml.scoring import CandidateScorer

log = logging.getLogger(__name__)

COLD, CHAMPION, CONTENT, NO_RESULTS = 0, 1, 2, 3
FALLBACK_NAME = {COLD: "cold_start", NO_RESULTS: "no_results"}
#: Prior tiers: listed fallback courses outrank platform-wide ones whatever the rule adjustments.
LIST_TIER, GLOBAL_TIER = 10.0, 5.0
#: Rows buffered before an append to recs.learner_recommendations (~50 MB of Arrow).
WRITE_ROWS = 250_000


def log_ids(run_date: date, learners: pa.Array, courses: pa.Array) -> pa.Array:
    """The Recommendation Log key: ``<run_date>:<learner_id>:<course_id>``, the same in every
    version of a run date, so a rerun, retry or backfill of the date logs a course it serves
    again under the key already logged (publication logs each key once), never twice."""
    return pc.binary_join_element_wise(run_date.isoformat(), learners, courses, ":")


def new_run_id(run_date: date) -> str:
    return f"{run_date:%Y%m%d}-{uuid.uuid4().hex[:8]}"


@dataclass
class PrecomputeReport:
    run_id: str
    run_date: date
    n_learners: int = 0
    n_recommendations: int = 0
    n_short: int = 0  # learners with fewer than top_n recommendations
    fallbacks: Counter = field(default_factory=Counter)
    model_versions: Counter = field(default_factory=Counter)
    n_path_rows: int = 0
    seconds: float = 0.0


def _prior(
    groups: list[str | None], lists: pa.Table, key: str, rank_col: str, catalog, global_rank
) -> np.ndarray:
    """[len(groups), C]: LIST_TIER+ for the group's list (by rank), GLOBAL_TIER+ by ``global_rank``
    (course -> rank, 1-based, NaN unranked), else the course's quality (0..1)."""
    n = catalog.n_courses
    base = np.where(
        np.isnan(global_rank), catalog.quality, GLOBAL_TIER + 1.0 - np.nan_to_num(global_rank) / (n + 1)
    )
    prior = np.tile(base.astype(np.float32), (len(groups), 1))
    col = catalog.index_of(lists.column("course_id").combine_chunks())
    ranks = lists.column(rank_col).to_numpy(zero_copy_only=False).astype(np.float64)
    names = lists.column(key).to_pylist()
    for g, group in enumerate(groups):
        mine = np.array([name == group for name in names], bool) & (col >= 0) if group is not None else None
        if mine is None or not mine.any():
            continue
        prior[g, col[mine]] = LIST_TIER + 1.0 - ranks[mine] / (ranks[mine].max() + 1)
    return prior


@dataclass(frozen=True)
class _Fallbacks:
    popular: np.ndarray  # [G, C]
    popular_group: np.ndarray  # int [L]
    top_rated: np.ndarray  # [H, C]
    rated_group: np.ndarray  # int [L]


def _build_fallbacks(inputs: RunInputs) -> _Fallbacks:
    catalog = inputs.catalog
    total = inputs.popular.group_by("course_id").aggregate([("n_learners", "sum")])
    global_pop = np.full(catalog.n_courses, np.nan)
    cols = catalog.index_of(total.column("course_id").combine_chunks())
    counts = total.column("n_learners_sum").to_numpy(zero_copy_only=False).astype(np.float64)
    ok = cols >= 0
    global_pop[cols[ok]] = (-counts[ok]).argsort(kind="stable").argsort() + 1
    careers = sorted({c for c in inputs.career_goal if c is not None})
    career_groups: list[str | None] = [None, *careers]
    pos = {c: i for i, c in enumerate(career_groups)}
    interests = sorted({i for i in inputs.interest_area if i is not None})
    interest_groups: list[str | None] = [None, *interests]
    ipos = {c: i for i, c in enumerate(interest_groups)}
    quality_rank = (-catalog.quality).argsort(kind="stable").argsort().astype(np.float64) + 1
    return _Fallbacks(
        popular=_prior(career_groups, inputs.popular, "career_goal", "popularity_rank", catalog, global_pop),
        popular_group=np.array([pos.get(c, 0) for c in inputs.career_goal], np.int64),
        top_rated=_prior(
            interest_groups, inputs.top_rated, "interest_area", "rating_rank", catalog, quality_rank
        ),
        rated_group=np.array([ipos.get(c, 0) for c in inputs.interest_area], np.int64),
    )


def route_learners(
    inputs: RunInputs,
    champion: CandidateScorer | None,
    content: CandidateScorer | None,
    control: np.ndarray,
) -> np.ndarray:
    """Each learner's route; the ``control`` group takes the no-results fallback (cold start stays
    cold start: it is the non-personalised default of those learners anyway)."""
    route = np.full(inputs.n_learners, NO_RESULTS, np.int8)
    for i, tier in enumerate(inputs.data_tier):
        which = policy_for(tier).scorer
        if which == "champion" and champion is not None:
            route[i] = CHAMPION
        elif which == "content" and content is not None:
            route[i] = CONTENT
    route[control] = NO_RESULTS
    route[inputs.is_cold] = COLD
    return route


class _Chunk:
    """State of learners ``lo..hi`` for the rules and the reasons."""

    def __init__(self, inputs: RunInputs, lo: int, hi: int, route: np.ndarray) -> None:
        catalog = inputs.catalog
        self.lo, self.hi, self.b = lo, hi, hi - lo
        start, stop = inputs.offsets[lo], inputs.offsets[hi]
        rows = np.repeat(np.arange(self.b), np.diff(inputs.offsets[lo : hi + 1]))
        courses = inputs.inter_course[start:stop]
        done = inputs.inter_status[start:stop] == COMPLETED
        n_domains = len(catalog.domains)
        # skill level per domain from completed courses (allowed for every tier): hardest completed
        level = np.zeros((self.b, n_domains), np.float32)
        dom = catalog.domain_code[courses[done]]
        np.maximum.at(level, (rows[done], dom), (catalog.difficulty[courses[done]] - 1.0) / 4.0)
        # anchors for "Because you completed X": the latest completed course per domain
        anchor_pos = np.full((self.b, n_domains), -1, np.int64)
        np.maximum.at(anchor_pos, (rows[done], dom), np.flatnonzero(done))
        self.anchor = np.where(
            anchor_pos >= 0, courses[np.maximum(anchor_pos, 0)] if len(courses) else -1, -1
        )
        tiers = inputs.data_tier[lo:hi]
        inferred = np.array([policy_for(t).inferred_profile for t in tiers], bool)
        cold = route[lo:hi] == COLD
        # the fallbacks use the declared profile only, whatever the tier (ml.ranking.privacy):
        # their signals_used lists no inferred skill vector or learning style
        self.declared_level = level.copy()
        self.declared_level[cold] = np.nan
        self.declared_format = inputs.declared_format[lo:hi]
        inferred_level = inputs.skill_level[lo:hi]
        use_level = inferred & ~np.isnan(inferred_level[:, 0])
        level[use_level] = inferred_level[use_level]
        level[cold] = np.nan  # nothing known yet: no difficulty penalty on the popular lists
        fmt = inputs.declared_format[lo:hi].copy()
        affinity = np.ones(self.b, np.float32)
        use_profile = inferred & (inputs.profile_format[lo:hi] >= 0)
        fmt[use_profile] = inputs.profile_format[lo:hi][use_profile]
        affinity[use_profile] = inputs.profile_affinity[lo:hi][use_profile]
        self.state = ChunkState.build(
            catalog.n_courses, rows, courses, inputs.inter_status[start:stop], level, fmt, affinity
        )

    def subset(self, rows: np.ndarray, *, declared_only: bool = False) -> ChunkState:
        state = self.state.subset(rows)
        if not declared_only:
            return state
        return replace(
            state,
            domain_level=self.declared_level[rows],
            preferred_format=self.declared_format[rows],
            format_affinity=np.ones(len(rows), np.float32),
        )


def _aligned_scores(
    scorer: CandidateScorer, learner_ids: list[str], align: np.ndarray | None
) -> torch.Tensor:
    raw = np.asarray(scorer.score(learner_ids), dtype=np.float32)
    if align is None:
        return torch.from_numpy(np.ascontiguousarray(raw))
    out = torch.full((raw.shape[0], len(align)), float("nan"))
    have = align >= 0
    out[:, torch.from_numpy(np.flatnonzero(have))] = torch.from_numpy(raw[:, align[have]])
    # a course the scorer does not know scores as the row's mean (after standardising: 0)
    return out


def _alignment(scorer: CandidateScorer | None, inputs: RunInputs) -> np.ndarray | None:
    if scorer is None:
        return None
    ids = np.asarray(scorer.course_ids, dtype=object)
    if len(ids) == inputs.catalog.n_courses and (ids == inputs.catalog.course_ids).all():
        return None
    return inputs.catalog.aligned_to(ids)


def _model_scores(
    scorer: CandidateScorer, ids: list[str], align: np.ndarray | None
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """(scores in catalogue order, per-row unit for the rule weights, no-information mask)."""
    scores = _aligned_scores(scorer, ids, align)
    if align is not None:  # courses the scorer lacks score as the row's mean
        rowmean = torch.nanmean(scores, dim=1, keepdim=True)
        scores = torch.where(torch.isnan(scores), rowmean.expand_as(scores), scores)
    scale, empty = row_scale(scores)
    return scores, scale, empty


def _rank_chunk(
    chunk: _Chunk,
    inputs: RunInputs,
    route: np.ndarray,
    scorers: dict[int, CandidateScorer | None],
    aligns: dict[int, np.ndarray | None],
    fallbacks: _Fallbacks,
    config: RuleConfig,
) -> list[tuple[np.ndarray, RankedChunk, int]]:
    lo, hi = chunk.lo, chunk.hi
    local = route[lo:hi].copy()
    ids = inputs.learner_ids[lo:hi]
    out: list[tuple[np.ndarray, RankedChunk, int]] = []
    for r in (CHAMPION, CONTENT):
        rows = np.flatnonzero(local == r)
        if not len(rows):
            continue
        scores, scale, empty = _model_scores(scorers[r], list(ids[rows]), aligns[r])
        ranked = rank_chunk(scores, chunk.subset(rows), inputs.catalog, config, scale)
        bad = empty | (ranked.n_valid < config.top_n)
        local[rows[bad]] = NO_RESULTS
        good = ~bad
        out.append((rows[good], _take(ranked, good), r))
    for r in (COLD, NO_RESULTS):
        rows = np.flatnonzero(local == r)
        if not len(rows):
            continue
        if r == COLD:
            scores = torch.from_numpy(fallbacks.popular[fallbacks.popular_group[lo:hi][rows]])
        else:
            scores = torch.from_numpy(fallbacks.top_rated[fallbacks.rated_group[lo:hi][rows]])
            content = scorers[CONTENT]
            if content is not None:  # content-based order inside each prior tier
                z = _model_scores(content, list(ids[rows]), aligns[CONTENT])[0]
                z[standardise_rows(z)] = 0.0
                scores = scores + z.clamp_(-2.0, 2.0).mul_(0.2)
        ranked = rank_chunk(scores.clone(), chunk.subset(rows, declared_only=True), inputs.catalog, config)
        out.append((rows, ranked, r))
    return out


def _take(ranked: RankedChunk, mask: np.ndarray) -> RankedChunk:
    return RankedChunk(ranked.course[mask], ranked.score[mask], ranked.unlocks[mask])


def _reason_columns(
    rows: np.ndarray,
    ranked: RankedChunk,
    r: int,
    chunk: _Chunk,
    inputs: RunInputs,
    fallbacks: _Fallbacks,
    scorer_signals: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Reason kind and argument for each [row, position] of a ranked block."""
    catalog = inputs.catalog
    lo = chunk.lo
    course = np.maximum(ranked.course, 0)
    kind = np.empty(course.shape, np.int8)
    arg = np.full(course.shape, "", dtype=object)
    goal = inputs.career_goal[lo + rows][:, None]
    interest = inputs.interest_area[lo + rows][:, None]
    if r == COLD:
        listed = fallbacks.popular[fallbacks.popular_group[lo + rows][:, None], course] >= LIST_TIER
        kind[:] = np.where(listed, Reason.POPULAR_CAREER, Reason.POPULAR_ALL)
        arg = np.where(listed, np.broadcast_to(goal, course.shape), arg)
    elif r == NO_RESULTS:
        listed = fallbacks.top_rated[fallbacks.rated_group[lo + rows][:, None], course] >= LIST_TIER
        kind[:] = np.where(listed, Reason.TOP_RATED_INTEREST, Reason.TOP_RATED_ALL)
        arg = np.where(listed, np.broadcast_to(interest, course.shape), arg)
    else:
        anchor = chunk.anchor[rows[:, None], catalog.domain_code[course]]
        goal_dom = np.array([inputs.goal_domain.get(g) for g in goal[:, 0]], dtype=object)[:, None]
        in_goal = np.asarray(catalog.domains, dtype=object)[catalog.domain_code[course]] == goal_dom
        generic = Reason.SIMILAR_LEARNERS if "collaborative" in scorer_signals else Reason.CONTENT
        kind[:] = np.where(
            anchor >= 0, Reason.COMPLETED_SIMILAR, np.where(in_goal, Reason.CAREER_GOAL, generic)
        )
        arg = np.where(
            anchor >= 0,
            catalog.titles[np.maximum(anchor, 0)],
            np.where(in_goal, np.broadcast_to(goal, course.shape), arg),
        )
    prereq = ranked.unlocks >= 0
    kind[prereq] = Reason.PREREQUISITE
    arg = np.where(prereq, catalog.titles[np.maximum(ranked.unlocks, 0)], arg)
    return kind, arg


def _chunk_table(
    run_id: str,
    blocks: list[tuple[np.ndarray, RankedChunk, int]],
    chunk: _Chunk,
    inputs: RunInputs,
    fallbacks: _Fallbacks,
    scorers: dict[int, CandidateScorer | None],
    report: PrecomputeReport,
    top_n: int,
    control: np.ndarray,
) -> pa.Table:
    parts = []
    for rows, ranked, r in blocks:
        if not len(rows):
            continue
        scorer = scorers.get(r) if r in (CHAMPION, CONTENT) else None
        signals_of_scorer = tuple(scorer.signals) if scorer is not None else ()
        kind, arg = _reason_columns(rows, ranked, r, chunk, inputs, fallbacks, signals_of_scorer)
        valid = ranked.course >= 0
        row_of = np.broadcast_to(rows[:, None], valid.shape)[valid]
        learner = inputs.learner_ids[chunk.lo + row_of]
        if r == COLD:
            signals, version = COLD_START_SIGNALS, "fallback:popular_by_career"
        elif r == NO_RESULTS:
            content = scorers.get(CONTENT)
            signals = NO_RESULTS_SIGNALS
            version = "fallback:top_rated_by_interest" + (f"+{content.model_version}" if content else "")
        else:
            tiers = inputs.data_tier[chunk.lo + rows]
            extra = {t: policy_for(t).extra_signals for t in set(tiers)}
            per_row = [list(dict.fromkeys((*signals_of_scorer, *extra[t]))) for t in tiers]
            signals, version = None, scorer.model_version
        if signals is not None:
            signal_col = pa.array([list(signals)] * len(learner), pa.list_(pa.string()))
        else:
            signal_col = pa.array(per_row, pa.list_(pa.string())).take(
                pa.array(np.broadcast_to(np.arange(len(rows))[:, None], valid.shape)[valid])
            )
        rank = np.broadcast_to(np.arange(1, valid.shape[1] + 1)[None, :], valid.shape)[valid].astype(np.int32)
        learner_arr = pa.array(learner, pa.string())
        course_arr = pa.array(inputs.catalog.course_ids[ranked.course[valid]], pa.string())
        parts.append(
            pa.table(
                {
                    "run_id": pa.array(np.full(len(learner), run_id, dtype=object), pa.string()),
                    "learner_id": learner_arr,
                    "course_id": course_arr,
                    "rank": rank,
                    "score": ranked.score[valid].astype(np.float64),
                    "model_version": pa.array(np.full(len(learner), version, dtype=object), pa.string()),
                    "signals_used": signal_col,
                    "reason": reasons(kind[valid], arg[valid]),
                    "fallback": pa.array(
                        np.full(len(learner), FALLBACK_NAME.get(r), dtype=object), pa.string()
                    ),
                    "log_id": log_ids(inputs.run_date, learner_arr, course_arr),
                    "is_control": control[chunk.lo + row_of],
                },
                schema=tables.RECOMMENDATION_SCHEMA,
            )
        )
        report.n_short += int((valid.sum(axis=1) < top_n).sum())
        report.fallbacks[FALLBACK_NAME.get(r, "none")] += len(rows)
        report.model_versions[version] += len(rows)
    return pa.concat_tables(parts) if parts else tables.RECOMMENDATION_SCHEMA.empty_table()


def precompute(
    warehouse: Warehouse,
    run_date: date,
    *,
    champion: CandidateScorer | None,
    content: CandidateScorer | None,
    config: RuleConfig | None = None,
    chunk_size: int = 2048,
    run_id: str | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    control_share: float = 0.0,
) -> PrecomputeReport:
    """Write a new, unpublished version (recommendations + learning paths); returns its report.

    ``champion``/``content`` may be None (not trained yet): the affected learners take the
    no-results fallback. The version is registered in ``recs.runs`` with status ``precomputing``
    before its first row, ``precomputed`` once complete. A ``control_share`` of the learners
    (``exports.recommendations.control``) is served the no-results fallback, flagged ``is_control``.
    """
    started = datetime.now(UTC)
    config = config or RuleConfig()
    reuse_freed_buffers()
    tables.ensure_tables(warehouse)
    inputs = load_inputs(warehouse, run_date)
    run_id = run_id or new_run_id(run_date)
    report = PrecomputeReport(run_id=run_id, run_date=run_date, n_learners=inputs.n_learners)
    warehouse.execute(f"DELETE FROM {tables.RECOMMENDATIONS} WHERE run_id = ?", [run_id])
    warehouse.execute(f"DELETE FROM {tables.LEARNING_PATHS} WHERE run_id = ?", [run_id])
    warehouse.execute(f"DELETE FROM {tables.RUNS} WHERE run_id = ?", [run_id])
    # registered before the first row is written: a crashed run's rows stay known to keep-K
    # (expire_versions), where unregistered ones were never deleted; the gate refuses it
    warehouse.execute(
        f"INSERT INTO {tables.RUNS} (run_id, run_date, status, created_at) VALUES (?, ?, 'precomputing', ?)",
        [run_id, run_date, started],
    )
    control = in_control(inputs.learner_ids, control_share)
    route = route_learners(inputs, champion, content, control)
    fallbacks = _build_fallbacks(inputs)
    scorers = {CHAMPION: champion, CONTENT: content}
    aligns = {CHAMPION: _alignment(champion, inputs), CONTENT: _alignment(content, inputs)}
    pending: list[pa.Table] = []  # a few chunks per write: fewer warehouse commits, memory bounded
    for lo in range(0, inputs.n_learners, chunk_size):
        hi = min(lo + chunk_size, inputs.n_learners)
        chunk = _Chunk(inputs, lo, hi, route)
        blocks = _rank_chunk(chunk, inputs, route, scorers, aligns, fallbacks, config)
        pending.append(
            _chunk_table(run_id, blocks, chunk, inputs, fallbacks, scorers, report, config.top_n, control)
        )
        report.n_recommendations += pending[-1].num_rows
        if hi == inputs.n_learners or sum(t.num_rows for t in pending) >= WRITE_ROWS:
            tables.append_recommendations(warehouse, pa.concat_tables(pending))
            pending = []
        if on_chunk:
            on_chunk(hi, inputs.n_learners)
    report.n_path_rows = write_learning_paths(warehouse, inputs, run_id)
    report.seconds = (datetime.now(UTC) - started).total_seconds()
    warehouse.execute(
        f"UPDATE {tables.RUNS} SET status = 'precomputed', n_learners = ?, n_recommendations = ?, "
        "model_versions = ?, fallback_counts = ?, message = ? WHERE run_id = ?",
        [
            report.n_learners,
            report.n_recommendations,
            json.dumps(dict(report.model_versions), sort_keys=True),
            json.dumps(dict(report.fallbacks), sort_keys=True),
            f"{report.n_short} learners with fewer than {config.top_n} recommendations",
            run_id,
        ],
    )
    log.info("precomputed %s: %s", run_id, report)
    return report


def write_learning_paths(warehouse: Warehouse, inputs: RunInputs, run_id: str) -> int:
    """Static path per learner with a career goal: the goal's template minus completed courses,
    steps renumbered. Set-based in SQL, so it scales with the warehouse, not with Python."""
    templates = static_paths(inputs.catalog, inputs.career_goals, inputs.skills)
    templates = templates.append_column("run_id", pa.array([run_id] * templates.num_rows, pa.string()))
    warehouse.execute(
        f"CREATE TABLE IF NOT EXISTS {tables.CAREER_PATHS} AS SELECT * FROM (SELECT CAST(NULL AS VARCHAR) AS career_goal, CAST(NULL AS INTEGER) AS step, CAST(NULL AS VARCHAR) AS course_id, CAST(NULL AS VARCHAR) AS reason, CAST(NULL AS VARCHAR) AS run_id) WHERE 1 = 0"
    )
    warehouse.execute(f"DELETE FROM {tables.CAREER_PATHS} WHERE run_id = ?", [run_id])
    warehouse.load_arrow(tables.CAREER_PATHS, templates)
    warehouse.execute(
        f"""INSERT INTO {tables.LEARNING_PATHS}
        (run_id, learner_id, career_goal, step, course_id, reason, source)
        SELECT p.run_id, d.learner_id, p.career_goal,
               CAST(row_number() OVER (PARTITION BY d.learner_id ORDER BY p.step) AS INTEGER),
               p.course_id, p.reason, 'static'
        FROM {DIM_LEARNERS} d
        JOIN {tables.CAREER_PATHS} p ON p.career_goal = d.career_goal AND p.run_id = ?
        WHERE (d.retention_expiry IS NULL OR CAST(d.retention_expiry AS DATE) > ?)
          AND NOT EXISTS (
            SELECT 1 FROM {LEARNER_COURSE_INTERACTIONS} i
            WHERE i.learner_id = d.learner_id AND i.course_id = p.course_id AND i.completed)""",
        [run_id, retention_cutoff(inputs.run_date)],
    )
    return int(warehouse.scalar(f"SELECT count(*) FROM {tables.LEARNING_PATHS} WHERE run_id = ?", [run_id]))
