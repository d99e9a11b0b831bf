"""Benchmark suite ``recommendations``: precompute throughput with all the rules, vs a bare top-k.

Synthetic but shaped like production: 64-factor learner/course embeddings (the scorer is a BLAS
matrix product, as a factorisation model's), 10k courses with prerequisites (20% of courses),
400 skill clusters, 2 domains' worth of skill levels, ~20 interactions per learner (a third
completed), every learner with a preferred format. Both runs score the same chunks:

* ``bare``: chunked score + top-20 (torch), nothing else: the floor;
* ``rules``: chunked score, row scale (no-result detection), format weighting, difficulty penalty,
  exclusions, top-k candidates, prerequisite substitution, de-duplication, diversity, final
  top-20 and the reason strings.

The full scale is 1M learners x 10k courses; a run can measure a fraction of the learners (the
work is linear in learners: every chunk is the same size) and the suite extrapolates, saying so.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pyarrow as pa
import torch

from benchmarks.harness import Recorder, peak_rss_mb
from ml.buffers import reuse_freed_buffers
from ml.ranking.catalog import build_catalog
from ml.ranking.explain import Reason, reasons
from ml.ranking.rules import COMPLETED, IN_PROGRESS, ChunkState, RuleConfig, rank_chunk, row_scale

FULL_LEARNERS = 1_000_000
N_COURSES = 10_000
FACTORS = 64
CHUNK = 2048
TOP_N = 20
#: label -> learners measured (extrapolated to FULL_LEARNERS when fewer)
SCALES = {"1M learners x 10k courses": FULL_LEARNERS}
QUICK_SCALES = {"1M learners x 10k courses (20k measured)": 20_000}


def synthetic_catalog(n_courses: int, rng: np.random.Generator):
    prereq = [
        [f"c{int(p):05d}" for p in rng.choice(i, size=min(i, 1 + (rng.random() < 0.3)), replace=False)]
        if i > 10 and rng.random() < 0.2
        else []
        for i in range(n_courses)
    ]
    rows = pa.table(
        {
            "course_id": [f"c{i:05d}" for i in range(n_courses)],
            "title": [f"Course {i}" for i in range(n_courses)],
            "domain": rng.choice(["data", "software", "design", "business"], n_courses),
            "format": rng.choice(["video", "text", "live", "mixed"], n_courses),
            "difficulty_score": rng.integers(1, 6, n_courses).astype(np.float64),
            "skill_tags": [[f"s{int(s)}"] for s in rng.integers(0, 400, n_courses)],
            "prerequisites": prereq,
            "quality_score": rng.random(n_courses),
        }
    )
    return build_catalog(rows)


def _state(b: int, n_courses: int, rng: np.random.Generator, n_domains: int) -> ChunkState:
    rows = np.repeat(np.arange(b), 20)
    cols = rng.integers(0, n_courses, b * 20)
    keep = np.unique(rows.astype(np.int64) * n_courses + cols, return_index=True)[1]
    codes = np.where(rng.random(b * 20) < 0.33, COMPLETED, IN_PROGRESS)
    return ChunkState.build(
        n_courses,
        rows[keep],
        cols[keep],
        codes[keep],
        rng.random((b, n_domains), dtype=np.float32),
        rng.integers(0, 3, b).astype(np.int8),
        rng.random(b, dtype=np.float32),
    )


def measure(n_learners: int, *, seed: int = 0) -> dict[str, float]:
    """Seconds for ``n_learners`` learners: bare top-k and full rules, same chunks."""
    rng = np.random.default_rng(seed)
    catalog = synthetic_catalog(N_COURSES, rng)
    users = rng.standard_normal((n_learners, FACTORS), dtype=np.float32)
    items = rng.standard_normal((N_COURSES, FACTORS), dtype=np.float32)
    items_t = torch.from_numpy(items)
    # states are built outside the timed loop: in production they come from the warehouse
    states = [_state(CHUNK, N_COURSES, rng, len(catalog.domains)) for _ in range(4)]
    config = RuleConfig(top_n=TOP_N)

    start = time.perf_counter()
    for lo in range(0, n_learners, CHUNK):
        scores = torch.from_numpy(users[lo : lo + CHUNK]) @ items_t.T
        torch.topk(scores, TOP_N, dim=1)
    bare = time.perf_counter() - start

    start = time.perf_counter()
    produced = 0
    for i, lo in enumerate(range(0, n_learners, CHUNK)):
        chunk_users = users[lo : lo + CHUNK]
        scores = torch.from_numpy(chunk_users) @ items_t.T  # the same product as the bare run
        state = states[i % len(states)]
        if len(chunk_users) < CHUNK:
            state = state.subset(np.arange(len(chunk_users)))
        scale, _ = row_scale(scores)
        ranked = rank_chunk(scores, state, catalog, config, scale)
        valid = ranked.course >= 0
        kind = np.where(ranked.unlocks >= 0, Reason.PREREQUISITE, Reason.SIMILAR_LEARNERS)
        text = reasons(kind[valid], catalog.titles[np.maximum(ranked.unlocks, 0)][valid])
        produced += len(text)
    rules = time.perf_counter() - start
    return {"bare": bare, "rules": rules, "recommendations": produced}


def run(recorder: Recorder, quick: bool) -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    reuse_freed_buffers()  # as the precompute does
    for label, learners in (QUICK_SCALES if quick else SCALES).items():
        result = measure(learners)
        factor = FULL_LEARNERS / learners
        notes = {
            "learners_measured": learners,
            "extrapolated_x": round(factor, 2),
            "courses": N_COURSES,
            "factors": FACTORS,
            "chunk": CHUNK,
            "top_n": TOP_N,
            "load_average_1m": round(os.getloadavg()[0], 1),  # the machine is shared: say how busy
        }
        recorder.record("bare_score_topk_seconds", result["bare"] * factor, "s", label, **notes)
        recorder.record("rules_seconds", result["rules"] * factor, "s", label, **notes)
        recorder.record("rules_over_bare", result["rules"] / result["bare"], "x", label)
        recorder.record(
            "learners_per_second_with_rules",
            learners / result["rules"],
            "learners/s",
            label,
            recommendations=result["recommendations"],
        )
    recorder.record("peak_rss", peak_rss_mb(), "MiB", "largest scale above", chunk=CHUNK)
