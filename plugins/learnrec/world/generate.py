"""Generate a whole synthetic learning world: sources, landing files and the ground truth.

Outputs (``settings`` decides the folders):

* ``<landing>/learner_events/date=.../hour=.../*.jsonl``: the events as the apps deliver them;
* ``<landing>/sources/<table>.parquet``: learners, courses, course_ratings, skills, career_goals
  (contracts in :mod:`learnrec.contracts.sources`);
* ``<home>/world/ground_truth/*.parquet``: what really happened (latent skills and interests,
  future interactions, dropouts, quiz skill gaps, bad-input counts): for evaluation only;
* ``<home>/world/manifest.json``: the config and the counts.

Same config, same bytes: every random draw comes from one generator seeded by ``config.seed``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from learnrec.contracts.sources import CAREER_GOALS, COURSE_RATINGS, SKILLS
from learnrec.settings import Settings
from learnrec.world.catalog import Catalog, generate_catalog
from learnrec.world.config import WorldConfig
from learnrec.world.landing import EVENTS_FOLDER, DeliveryStats, LandingWriter
from learnrec.world.learners import LEARNER_FORMATS, Population, generate_population
from learnrec.world.simulation import DAY_MS, DayEvents, Simulator, Truth
from learnrec.world.taxonomy import Taxonomy, build_taxonomy

SOURCES_FOLDER = "sources"
GROUND_TRUTH_FOLDER = "ground_truth"


@dataclass(frozen=True)
class WorldSummary:
    window_start: str
    window_end: str
    learners: int
    courses: int
    skills: int
    events: int
    lines: int
    duplicates: int
    late: int
    bad_lines: int
    files: int
    dropouts_in_window: int
    seconds: float
    landing: str
    ground_truth: str


def window_start_of(config: WorldConfig) -> datetime:
    first = config.end_date - timedelta(days=config.days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC)


def generate_world(config: WorldConfig, settings: Settings) -> WorldSummary:
    """Write a world for ``config`` under ``settings``' landing and world folders (replacing any)."""
    import time

    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    start = window_start_of(config)
    start_ms = int(start.timestamp() * 1000)
    landing, world = settings.landing_path, settings.world_path
    for folder in (landing / EVENTS_FOLDER, landing / SOURCES_FOLDER, world):
        shutil.rmtree(folder, ignore_errors=True)
    (landing / SOURCES_FOLDER).mkdir(parents=True)
    (world / GROUND_TRUTH_FOLDER).mkdir(parents=True)

    tax = build_taxonomy()
    catalog = generate_catalog(tax, config.n_courses, start, config.days, rng)
    pop = generate_population(
        tax,
        config.n_learners,
        start,
        config.days,
        config.onboarding_skip_share,
        config.opted_in_share,
        config.new_learner_share,
        rng,
    )
    sim = Simulator(
        tax,
        catalog,
        pop,
        window_start_ms=start_ms,
        days=config.days,
        horizon_days=config.horizon_days,
        activity=config.activity,
        rng=rng,
    )
    writer = LandingWriter(
        landing,
        pop.learner_ids,
        catalog.course_ids,
        seed=config.seed,
        window_start_ms=start_ms,
        days=config.days,
        duplicate_share=config.duplicate_share,
        late_share=config.late_share,
        bad_share=config.bad_share,
        max_lines_per_file=config.max_lines_per_file,
        rng=rng,
    )
    events_per_learner = np.zeros(pop.n_learners, dtype=np.int32)
    future: list[DayEvents] = []
    for day, events in sim.run():
        if day < config.days:
            writer.add_day(day, events)
            in_window = events.learner[events.ts_ms < start_ms + config.days * DAY_MS]
            events_per_learner += np.bincount(in_window, minlength=pop.n_learners).astype(np.int32)
        else:
            future.append(events)
    stats = writer.finish()

    window_end_ms = start_ms + config.days * DAY_MS
    _write_sources(landing / SOURCES_FOLDER, tax, catalog, pop, sim.truth, window_end_ms)
    _write_ground_truth(
        world / GROUND_TRUTH_FOLDER,
        config,
        tax,
        catalog,
        pop,
        sim.truth,
        future,
        events_per_learner,
        writer.bad_by_day,
    )
    summary = WorldSummary(
        window_start=start.date().isoformat(),
        window_end=config.end_date.isoformat(),
        learners=pop.n_learners,
        courses=catalog.n_courses,
        skills=tax.n_skills,
        events=stats.good_events,
        lines=stats.lines,
        duplicates=stats.duplicates,
        late=stats.late,
        bad_lines=sum(stats.bad.values()),
        files=stats.files,
        dropouts_in_window=int(((sim.truth.dropout_day >= 0) & (sim.truth.dropout_day < config.days)).sum()),
        seconds=round(time.perf_counter() - started, 2),
        landing=str(landing),
        ground_truth=str(world / GROUND_TRUTH_FOLDER),
    )
    _write_manifest(world / "manifest.json", config, summary, stats)
    return summary


def skills_table(tax: Taxonomy) -> pa.Table:
    """The taxonomy as the skills snapshot (``raw.skills``) exports it."""
    return pa.table(
        {
            "skill_id": tax.skill_ids.tolist(),
            "name": tax.names.tolist(),
            "domain": tax.domains.tolist(),
            "level": tax.levels,
            "prerequisite_skill_ids": [[str(tax.skill_ids[k]) for k in p] for p in tax.prerequisites],
        },
        schema=SKILLS,
    )


def _timestamps(ms: np.ndarray) -> pa.Array:
    return pa.array(ms.astype("datetime64[ms]").astype("datetime64[us]"), pa.timestamp("us", tz="UTC"))


def _write_sources(
    folder: Path, tax: Taxonomy, catalog: Catalog, pop: Population, truth: Truth, window_end_ms: int
) -> None:
    pq.write_table(pop.table, folder / "learners.parquet")
    pq.write_table(catalog.table, folder / "courses.parquet")
    if truth.ratings:
        learner, course, ts, rating = (np.concatenate(c) for c in zip(*truth.ratings, strict=True))
    else:
        learner = course = ts = rating = np.empty(0, dtype=np.int64)
    seen = ts < window_end_ms  # ratings given after the window have not been exported yet
    ratings = pa.table(
        {
            "learner_id": pa.array(pop.learner_ids[learner[seen]]),
            "course_id": pa.array(catalog.course_ids[course[seen]]),
            "rating": pa.array(rating[seen].astype(np.int8)),
            "rated_at": _timestamps(ts[seen]),
        },
        schema=COURSE_RATINGS,
    )
    pq.write_table(ratings, folder / "course_ratings.parquet")
    pq.write_table(skills_table(tax), folder / "skills.parquet")
    pq.write_table(
        pa.table(
            {
                "career_goal": list(tax.goal_names),
                "domain": list(tax.goal_domains),
                "target_skill_ids": [[str(tax.skill_ids[k]) for k in t] for t in tax.goal_targets],
            },
            schema=CAREER_GOALS,
        ),
        folder / "career_goals.parquet",
    )


def _or_nan(values: np.ndarray | None, n: int) -> np.ndarray:
    """A hidden state recorded at the window end as float32 (NaN without a horizon)."""
    return np.full(n, np.nan, np.float32) if values is None else values.astype(np.float32)


def _write_ground_truth(
    folder: Path,
    config: WorldConfig,
    tax: Taxonomy,
    catalog: Catalog,
    pop: Population,
    truth: Truth,
    future: list[DayEvents],
    events_per_learner: np.ndarray,
    bad_by_day: list[dict[str, object]],
) -> None:
    dropout = truth.dropout_day
    window_start = date.fromisoformat(window_start_of(config).date().isoformat())
    dropout_date = pa.array(
        [None if d < 0 else window_start + timedelta(days=int(d)) for d in dropout], pa.date32()
    )
    pq.write_table(
        pa.table(
            {
                "learner_id": pop.learner_ids.tolist(),
                "true_career_goal": np.array(tax.goal_names)[pop.goal],
                "declared_career_goal": pop.declared_goal,
                "true_format": LEARNER_FORMATS[pop.fmt],
                "signup_day": pop.signup_day,
                "events_in_window": events_per_learner,
                "dropout_date": dropout_date,
                "dropped_in_window": (dropout >= 0) & (dropout < config.days),
                "dropped_in_horizon": dropout >= config.days,
                "engagement_at_window_end": _or_nan(truth.engagement_at_window_end, pop.n_learners),
                "fade_progress_at_window_end": _or_nan(truth.fade_progress_at_window_end, pop.n_learners),
                "idle_days_at_window_end": _or_nan(truth.idle_days_at_window_end, pop.n_learners),
                "true_interest_skill_ids": pa.array(
                    [[str(tax.skill_ids[k]) for k in targets] for targets in tax.goal_targets]
                ).take(pa.array(pop.goal)),
            }
        ),
        folder / "learners.parquet",
    )

    fut = DayEvents.concat(future)
    if len(fut):
        key = fut.learner.astype(np.int64) * catalog.n_courses + fut.course
        uniq, inverse = np.unique(key, return_inverse=True)
        completed = np.zeros(len(uniq), dtype=bool)
        completed[inverse[fut.etype == 3]] = True
        counts = np.bincount(inverse)
        learner, course = uniq // catalog.n_courses, uniq % catalog.n_courses
    else:
        learner = course = counts = np.empty(0, np.int64)
        completed = np.empty(0, bool)
    pq.write_table(
        pa.table(
            {
                "learner_id": pa.array(pop.learner_ids[learner]),
                "course_id": pa.array(catalog.course_ids[course]),
                "n_events": pa.array(counts.astype(np.int32)),
                "completed": pa.array(completed),
            }
        ),
        folder / "future_interactions.parquet",
    )

    if truth.quiz_rows:
        learner, course, ts, gap, deficit, score = (
            np.concatenate(c) for c in zip(*truth.quiz_rows, strict=True)
        )
    else:
        learner = course = ts = np.empty(0, np.int64)
        gap = deficit = score = np.empty(0, np.float32)
    pq.write_table(
        pa.table(
            {
                "learner_id": pa.array(pop.learner_ids[learner]),
                "course_id": pa.array(catalog.course_ids[course]),
                "quizzed_at": _timestamps(ts),
                "skill_gap": gap,
                "prerequisite_deficit": deficit,
                "quiz_score": score,
            }
        ),
        folder / "quizzes.parquet",
    )

    pq.write_table(
        pa.table(
            {
                "course_id": catalog.course_ids.tolist(),
                "skill_ids": [[str(tax.skill_ids[k]) for k in tags] for tags in catalog.skill_tags],
                "difficulty": catalog.difficulty,
                "quality": catalog.quality,
                "popularity": catalog.popularity,
                "prerequisite_course_ids": [
                    [str(catalog.course_ids[p]) for p in pre] for pre in catalog.prerequisites
                ],
            }
        ),
        folder / "courses.parquet",
    )

    kinds = sorted({k for row in bad_by_day for k in row if k != "arrival_date"})
    bad = pa.table(
        {
            "arrival_date": [str(r["arrival_date"]) for r in bad_by_day],
            **{k: [int(r.get(k, 0)) for r in bad_by_day] for k in kinds},
        }
    )
    pq.write_table(bad, folder / "bad_input.parquet")


def _write_manifest(path: Path, config: WorldConfig, summary: WorldSummary, stats: DeliveryStats) -> None:
    path.write_text(
        json.dumps(
            {
                "config": {**asdict(config), "end_date": config.end_date.isoformat()},
                "summary": asdict(summary),
                "bad_lines_by_kind": dict(sorted(stats.bad.items())),
            },
            indent=2,
        )
        + "\n"
    )
