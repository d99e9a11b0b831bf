"""Everything the precompute reads from the warehouse for one run date, in array form.

Learners are the *active* ones: in ``marts.dim_learners`` with their retention not expired by the
end of the day the version serves (``retention_cutoff``; expired learners' data must not be
processed or served at all). Interactions become a CSR layout over the learner order so each
chunk gets its rows by slicing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from learnrec.tables import (
    CAREER_GOALS,
    DIM_COURSES,
    DIM_LEARNERS,
    LEARNER_COURSE_INTERACTIONS,
    LEARNERS,
    POPULAR_BY_CAREER,
    SKILLS,
    TOP_RATED_BY_INTEREST,
)
from learnrec.warehouse import Warehouse
from ml.ranking.catalog import LEARNER_FORMATS, CourseCatalog, build_catalog
from ml.ranking.privacy import POLICIES
from ml.ranking.rules import COMPLETED, IN_PROGRESS

#: Behavioural events a learner needs before the models take over from the cold-start fallback.
COLD_START_EVENTS = 10


def retention_cutoff(run_date: date) -> date:
    """Learners whose retention expires on or before this day get no version of ``run_date``.

    The version is precomputed and published after the run date closed and serves through the
    next day: a learner still unexpired on the run date but expiring that next day would be
    processed and served past their expiry."""
    return run_date + timedelta(days=1)


def columns_of(warehouse: Warehouse, table: str) -> list[str]:
    return warehouse.query(f"SELECT * FROM {table} LIMIT 0").schema.names


@dataclass(frozen=True)
class RunInputs:
    run_date: date
    catalog: CourseCatalog
    learner_ids: np.ndarray  # object [L], sorted
    career_goal: np.ndarray  # object [L] (None: not stated)
    interest_area: np.ndarray  # object [L]
    data_tier: np.ndarray  # object [L]
    n_events: np.ndarray  # int64 [L]
    onboarding_skipped: np.ndarray  # bool [L]
    declared_format: np.ndarray  # int8 [L], index into LEARNER_FORMATS, -1 unknown
    profile_format: np.ndarray  # int8 [L]: inferred learning style (features), -1 unknown
    profile_affinity: np.ndarray  # float32 [L]
    skill_level: np.ndarray  # float32 [L, D]: from the inferred skill vector (opted-in only), NaN unknown
    offsets: np.ndarray  # int64 [L + 1]: interactions of learner i are [offsets[i], offsets[i+1])
    inter_course: np.ndarray  # int32: catalogue column
    inter_status: np.ndarray  # int8: COMPLETED or IN_PROGRESS
    popular: pa.Table  # career_goal, course_id, popularity_rank, n_learners
    top_rated: pa.Table  # interest_area, course_id, rating_rank
    goal_domain: dict[str, str]
    skill_domain: np.ndarray  # int16 [S]: catalogue domain code of skill index i (-1 unknown)
    career_goals: pa.Table  # raw.career_goals
    skills: pa.Table  # raw.skills

    @property
    def n_learners(self) -> int:
        return len(self.learner_ids)

    @property
    def is_cold(self) -> np.ndarray:
        """The product's cold start: fewer than 10 behavioural events so far (whether or not the
        learner skipped onboarding; a skipper with 10+ events is personalised)."""
        return self.n_events < COLD_START_EVENTS


def _format_codes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    found = pc.index_in(values, value_set=pa.array(LEARNER_FORMATS))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int8)


def _strings(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_pylist(), dtype=object)


def load_inputs(warehouse: Warehouse, run_date: date) -> RunInputs:
    courses = warehouse.query(
        "SELECT course_id, title, domain, format, difficulty_score, skill_tags, prerequisites, "
        f"quality_score FROM {DIM_COURSES}"
    )
    catalog = build_catalog(courses)
    dim_cols = set(columns_of(warehouse, DIM_LEARNERS))
    inferred = "preferred_format" in dim_cols and "affinity_score" in dim_cols
    learners = warehouse.query(
        "SELECT d.learner_id, d.career_goal, d.interest_area, d.data_tier, "
        "coalesce(d.n_behavioural_events, 0) AS n_events, coalesce(d.onboarding_skipped, false) AS skipped, "
        "r.preferred_format AS declared_format, "
        + (
            "d.preferred_format AS profile_format, d.affinity_score AS affinity "
            if inferred
            else "CAST(NULL AS VARCHAR) AS profile_format, CAST(NULL AS DOUBLE) AS affinity "
        )
        + f"FROM {DIM_LEARNERS} d LEFT JOIN {LEARNERS} r ON r.learner_id = d.learner_id "
        "WHERE d.retention_expiry IS NULL OR CAST(d.retention_expiry AS DATE) > ? ORDER BY d.learner_id",
        [retention_cutoff(run_date)],
    )
    learner_ids = _strings(learners, "learner_id")
    interactions = warehouse.query(
        "SELECT i.learner_id, i.course_id, i.completed, i.skipped, i.watch_share "
        f"FROM {LEARNER_COURSE_INTERACTIONS} i "
        "WHERE i.completed OR i.skipped OR i.watch_share > 0 "
        "ORDER BY i.learner_id, i.last_event_at, i.course_id"
    )
    row = pc.index_in(interactions.column("learner_id"), value_set=pa.array(learner_ids, pa.string()))
    row = row.fill_null(-1).to_numpy(zero_copy_only=False)
    col = catalog.index_of(interactions.column("course_id").combine_chunks())
    keep = (row >= 0) & (col >= 0)
    completed = interactions.column("completed").fill_null(False).to_numpy(zero_copy_only=False)
    status = np.where(completed, COMPLETED, IN_PROGRESS).astype(np.int8)
    order = np.argsort(row[keep], kind="stable")  # already sorted by learner id; keep recency order
    offsets = np.searchsorted(row[keep][order], np.arange(len(learner_ids) + 1)).astype(np.int64)
    skills = warehouse.query(f"SELECT skill_id, name, domain FROM {SKILLS} ORDER BY skill_id")
    domain_index = {d: i for i, d in enumerate(catalog.domains)}
    skill_domain = np.array([domain_index.get(d, -1) for d in skills.column("domain").to_pylist()], np.int16)
    career_goals = warehouse.query(f"SELECT career_goal, domain, target_skill_ids FROM {CAREER_GOALS}")
    return RunInputs(
        run_date=run_date,
        catalog=catalog,
        learner_ids=learner_ids,
        career_goal=_strings(learners, "career_goal"),
        interest_area=_strings(learners, "interest_area"),
        data_tier=_strings(learners, "data_tier"),
        n_events=learners.column("n_events").to_numpy(zero_copy_only=False).astype(np.int64),
        onboarding_skipped=learners.column("skipped").to_numpy(zero_copy_only=False).astype(bool),
        declared_format=_format_codes(learners.column("declared_format")),
        profile_format=_format_codes(learners.column("profile_format")),
        profile_affinity=np.clip(
            np.nan_to_num(
                learners.column("affinity").to_numpy(zero_copy_only=False).astype(np.float32), nan=0.5
            ),
            0.0,
            1.0,
        ),
        skill_level=load_skill_levels(warehouse, learner_ids, skill_domain, len(catalog.domains))
        if "skill_vector" in dim_cols
        else np.full((len(learner_ids), len(catalog.domains)), np.nan, np.float32),
        offsets=offsets,
        inter_course=col[keep][order].astype(np.int32),
        inter_status=status[keep][order],
        popular=warehouse.query(
            f"SELECT career_goal, course_id, popularity_rank, n_learners FROM {POPULAR_BY_CAREER}"
        ),
        top_rated=warehouse.query(
            f"SELECT interest_area, course_id, rating_rank FROM {TOP_RATED_BY_INTEREST}"
        ),
        goal_domain=dict(
            zip(
                career_goals.column("career_goal").to_pylist(),
                career_goals.column("domain").to_pylist(),
                strict=True,
            )
        ),
        skill_domain=skill_domain,
        career_goals=career_goals,
        skills=skills,
    )


def domain_levels(vectors: np.ndarray, skill_domain: np.ndarray, n_domains: int) -> np.ndarray:
    """Mean level of the skills a learner has in each domain (0 where none)."""
    onehot = np.zeros((len(skill_domain), n_domains), np.float32)
    known = skill_domain >= 0
    onehot[np.flatnonzero(known), skill_domain[known]] = 1.0
    v = np.nan_to_num(vectors)
    total, count = v @ onehot, (v > 0).astype(np.float32) @ onehot
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


#: Learners per skill-vector query: bounds the memory of reading the vectors.
SKILL_BATCH = 100_000


def load_skill_levels(
    warehouse: Warehouse, learner_ids: np.ndarray, skill_domain: np.ndarray, n_domains: int
) -> np.ndarray:
    """[L, D] skill level per domain from the inferred skill vector, NaN where not allowed or
    absent. Only tiers whose policy allows the inferred profile are read at all (privacy)."""
    levels = np.full((len(learner_ids), n_domains), np.nan, np.float32)
    tiers = [tier for tier, policy in POLICIES.items() if policy.inferred_profile]
    n_skills = len(skill_domain)
    value_set = pa.array(learner_ids, pa.string())
    for lo in range(0, len(learner_ids), SKILL_BATCH):
        first, last = learner_ids[lo], learner_ids[min(lo + SKILL_BATCH, len(learner_ids)) - 1]
        found = warehouse.query(
            f"SELECT learner_id, skill_vector FROM {DIM_LEARNERS} WHERE learner_id BETWEEN ? AND ? "
            f"AND skill_vector IS NOT NULL AND data_tier IN ({', '.join('?' * len(tiers))})",
            [first, last, *tiers],
        )
        # the id range also holds learners left out of ``learner_ids`` (expired retention, erased):
        # only rows of the run's learners with a whole vector are read
        vectors = found.column("skill_vector").combine_chunks()
        rows = pc.index_in(found.column("learner_id"), value_set=value_set)
        whole = pc.and_(
            pc.equal(pc.list_value_length(vectors).fill_null(0), n_skills), pc.is_valid(rows)
        ).to_numpy(zero_copy_only=False)
        if not whole.any():
            continue
        keep = pa.array(whole)
        values = pc.list_flatten(vectors.filter(keep)).to_numpy(zero_copy_only=False)
        values = values.astype(np.float32).reshape(-1, n_skills)
        levels[rows.filter(keep).to_numpy(zero_copy_only=False).astype(np.int64)] = domain_levels(
            np.clip(values, 0.0, 1.0), skill_domain, n_domains
        )
    return levels
