"""Training inputs read from the warehouse tables of INTERFACES.md, for one time window.

The models never read raw events or the synthetic world: they read the dbt marts
(``marts.fct_learner_course_interactions``, ``marts.dim_courses``, ``marts.dim_learners``,
``marts.fct_learner_events``) and Spark's ``features.learner_features``. A window is
``(start, end]`` over event dates; an interaction belongs to the window where the learner first
touched the course (``first_event_at``), which is what makes a time split possible on an
aggregated mart: train on pairs first seen up to day T, test on pairs first seen after T.

Known approximation (documented in the evaluation report): the mart aggregates a pair over all
history, so a train pair's *weight* may include events after T. That leaks how much a learner
liked a course already seen, never which new courses they will pick, which is what is tested.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from learnrec.tables import CAREER_GOALS, LEARNER_FEATURES, SKILLS
from learnrec.tables import DIM_COURSES as COURSES
from learnrec.tables import DIM_LEARNERS as LEARNERS
from learnrec.tables import LEARNER_COURSE_INTERACTIONS as INTERACTIONS
from learnrec.tables import LEARNER_EVENTS_MART as EVENTS
from learnrec.warehouse import Warehouse

INTERACTION_COLUMNS = (
    "learner_id",
    "course_id",
    "weight",
    "n_events",
    "watch_share",
    "completed",
    "skipped",
    "avg_quiz_score",
    "first_event_at",
    "last_event_at",
)
COURSE_COLUMNS = (
    "course_id",
    "title",
    "description",
    "format",
    "duration_hours",
    "domain",
    "level",
    "skill_tags",
    "difficulty_score",
    "avg_rating",
    "n_ratings",
    "completion_rate",
    "quality_score",
    "published_at",
)
LEARNER_COLUMNS = (
    "learner_id",
    "career_goal",
    "current_role",
    "interest_area",
    "data_tier",
    "onboarding_skipped",
    "n_behavioural_events",
    "is_cold_start",
)
FEATURE_COLUMNS = (
    "learner_id",
    "feature_date",
    "skill_vector",
    "engagement_score",
    "preferred_format",
)


class MissingTableError(LookupError):
    """A table the models need is not in the warehouse yet (dbt / Spark have not run)."""


class MissingColumnsError(KeyError):
    """A frame given to :meth:`TrainingData.from_frames` lacks required columns (all named)."""

    def __str__(self) -> str:
        return str(self.args[0])


class NothingToLearnWarning(UserWarning):
    """A privacy tier or a filter left a model no interactions: it will score zeros / noise."""


#: optional columns of the frames a data team brings, and the value each defaults to
INTERACTION_DEFAULTS: dict[str, object] = {
    "weight": 1.0,
    "n_events": 1,
    "watch_share": np.nan,
    "completed": False,
    "skipped": False,
    "avg_quiz_score": np.nan,
}
COURSE_DEFAULTS: dict[str, object] = {
    "title": "",
    "description": "",
    "format": None,
    "duration_hours": np.nan,
    "domain": None,
    "level": None,
    "skill_tags": None,
    "difficulty_score": np.nan,
    "avg_rating": np.nan,
    "n_ratings": 0,
    "completion_rate": np.nan,
    "quality_score": np.nan,
    "published_at": pd.NaT,
}
LEARNER_DEFAULTS: dict[str, object] = {
    "career_goal": None,
    "current_role": None,
    "interest_area": None,
    "onboarding_skipped": False,
    "n_behavioural_events": 0,
    "is_cold_start": False,
}


def _with_defaults(
    frame: pd.DataFrame, name: str, required: tuple[str, ...], defaults: dict[str, object]
) -> pd.DataFrame:
    """``frame`` with every missing optional column at its default and ids as strings (a data
    team's ids may be integers; the models index strings)."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MissingColumnsError(f"{name} frame lacks required column(s): {', '.join(missing)}")
    out = frame.copy()
    for column, default in defaults.items():
        if column not in out.columns:
            out[column] = default
    for column in ("learner_id", "course_id"):
        if column in out.columns:
            out[column] = out[column].astype(str)
    return out


@dataclass(frozen=True)
class TrainingData:
    """Frames of one window. ``interactions`` has one row per learner x course first touched in
    the window; ``courses`` and ``learners`` are the dimensions (all rows, the catalogue as of the
    window end); ``learner_features`` is each learner's latest Spark feature row at or before the
    window end (empty when Spark has not run: the models then use the dimensions alone);
    ``skill_ids`` is the skill index of ``skill_vector`` (INTERFACES.md)."""

    interactions: pd.DataFrame
    courses: pd.DataFrame
    learners: pd.DataFrame
    learner_features: pd.DataFrame
    skill_ids: tuple[str, ...]
    start: date | None
    end: date

    @classmethod
    def from_frames(
        cls,
        interactions: pd.DataFrame,
        courses: pd.DataFrame | None = None,
        learners: pd.DataFrame | None = None,
        *,
        data_tier: str = "default",
        skill_ids: tuple[str, ...] = (),
    ) -> TrainingData:
        """A data team's own data, without the warehouse: ``interactions`` needs ``learner_id``,
        ``course_id`` and ``first_event_at`` (the time split reads it); every other column of
        INTERACTION_COLUMNS, COURSE_COLUMNS and LEARNER_COLUMNS defaults
        (``INTERACTION_DEFAULTS`` ...). Courses and learners default to the ids seen in the
        interactions. A learner without ``data_tier`` gets ``data_tier``: "default" (the
        product's privacy default: collaborative models do not learn from them, and warn);
        pass "opted_in" when the learners consented to cross-learner modelling."""
        inter = _with_defaults(
            interactions, "interactions", ("learner_id", "course_id", "first_event_at"), INTERACTION_DEFAULTS
        )
        inter["first_event_at"] = pd.to_datetime(inter["first_event_at"], utc=True)
        inter["last_event_at"] = pd.to_datetime(inter.get("last_event_at", inter["first_event_at"]), utc=True)
        inter["weight"] = inter["weight"].astype(np.float32)
        if courses is None:
            courses = pd.DataFrame({"course_id": inter["course_id"].unique()})
        if learners is None:
            learners = pd.DataFrame({"learner_id": inter["learner_id"].unique()})
        course_frame = _with_defaults(courses, "courses", ("course_id",), COURSE_DEFAULTS)
        learner_frame = _with_defaults(
            learners, "learners", ("learner_id",), {**LEARNER_DEFAULTS, "data_tier": data_tier}
        )
        return cls(
            interactions=inter[list(INTERACTION_COLUMNS)],
            courses=course_frame.sort_values("course_id", ignore_index=True),
            learners=learner_frame.sort_values("learner_id", ignore_index=True),
            learner_features=pd.DataFrame(columns=list(FEATURE_COLUMNS)),
            skill_ids=skill_ids,
            start=None,
            end=inter["first_event_at"].max().date(),
        )

    def window(self, start: date | None, end: date) -> TrainingData:
        """Interactions first seen in ``(start, end]`` and the catalogue as published by ``end``."""
        return TrainingData(
            interactions=interactions_between(self.interactions, start, end),
            courses=published_by(self.courses, end),
            learners=self.learners,
            learner_features=self.learner_features,
            skill_ids=self.skill_ids,
            start=start,
            end=end,
        )


OPTED_IN = "opted_in"


def opted_in_only(data: TrainingData) -> TrainingData:
    """The part of ``data`` that cross-learner models and inferred profiles may use.

    Privacy tiers (DESIGN principle 6; the policy is written down in ml/ranking/privacy.py):
    only ``opted_in`` learners' behaviour trains collaborative models and the blend, and only
    their inferred features (skill vector, learning style) are read. Default-tier learners keep
    what they declared (goal, role, interest) and their own history for the content scorer;
    catalogue-wide aggregates (popularity) count everyone.
    """
    allowed = _opted_in(data)
    return replace(
        data,
        interactions=data.interactions.loc[among(data.interactions["learner_id"], allowed)].reset_index(
            drop=True
        ),
        learner_features=opted_in_features(data, allowed),
    )


def warn_if_nothing_to_learn(model: str, before: TrainingData, after: pd.DataFrame) -> None:
    """Warn when ``before`` had interactions and the tier or filter left ``after`` none: the
    model would return zeros or random scores for everyone with no sign of why."""
    if len(before.interactions) and not len(after):
        tiers = before.learners.get("data_tier", pd.Series(dtype=object)).value_counts(dropna=False).to_dict()
        warnings.warn(
            f"{model}: no interactions left to learn from after the privacy tier / filters "
            f"({len(before.interactions)} before; learners by data_tier: {tiers}; only "
            f"{OPTED_IN!r} learners train cross-learner models): it will score zeros or noise",
            NothingToLearnWarning,
            stacklevel=3,
        )


def _opted_in(data: TrainingData) -> set[str]:
    """Learners of the opted-in tier (none when the frame has no ``data_tier``: the default tier)."""
    if "data_tier" not in data.learners.columns:
        return set()
    return set(data.learners.loc[data.learners["data_tier"] == OPTED_IN, "learner_id"])


def opted_in_features(data: TrainingData, allowed: set[str] | None = None) -> pd.DataFrame:
    """The learner features of :func:`opted_in_only` alone (no filtering of the interactions,
    for a model that reads only the features of the tier)."""
    feats = data.learner_features
    if not len(feats):
        return feats
    allowed = _opted_in(data) if allowed is None else allowed
    return feats.loc[among(feats["learner_id"], allowed)].reset_index(drop=True)


def among(ids: pd.Series, allowed: set[str]) -> np.ndarray:
    """Boolean mask of ``ids`` in ``allowed``. The interactions' categorical ids are looked up
    once per category and gathered by code (pandas' isin hashed all 20M rows: ~5 s a call, and
    every cut of ALS, LightFM and content filters the privacy tier)."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        known = np.append(ids.cat.categories.isin(list(allowed)), False)  # code -1 (null): not in
        return known[ids.cat.codes.to_numpy()]
    return ids.isin(list(allowed)).to_numpy()


def _day_after(day: date) -> pd.Timestamp:
    """UTC midnight after ``day``: ``date(t) <= day`` is ``t < _day_after(day)`` for UTC instants."""
    return pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)


def interactions_between(frame: pd.DataFrame, start: date | None, end: date) -> pd.DataFrame:
    """Rows of an interaction frame whose first event falls in ``(start, end]`` (UTC dates).

    Compared as instants against day boundaries (vectorised), not through ``.dt.date``, which
    builds a Python date per row (~1 s per million rows, and every model windows three cuts)."""
    first = pd.to_datetime(frame["first_event_at"], utc=True)
    keep = first < _day_after(end)
    if start is not None:
        keep &= first >= _day_after(start)
    if keep.all():  # the serving cut: no copy of every column (20M rows at 1M learners)
        return frame
    return frame.loc[keep.to_numpy()].reset_index(drop=True)


def published_by(courses: pd.DataFrame, end: date) -> pd.DataFrame:
    """Courses published on or before ``end`` (a course without a date counts as published)."""
    published = pd.to_datetime(courses["published_at"], utc=True).dt.date
    return courses.loc[published.isna() | (published <= end)].reset_index(drop=True)


def _require(warehouse: Warehouse, table: str) -> None:
    if not warehouse.table_exists(table):
        raise MissingTableError(f"{table} does not exist yet: run dbt (marts) / Spark (features) first")


def _select_arrow(
    warehouse: Warehouse, table: str, columns: tuple[str, ...], where: str = "", params=None
) -> pa.Table:
    _require(warehouse, table)
    return warehouse.query(f"select {', '.join(columns)} from {table} {where}", params)


def _select(
    warehouse: Warehouse, table: str, columns: tuple[str, ...], where: str = "", params=None
) -> pd.DataFrame:
    return _select_arrow(warehouse, table, columns, where, params).to_pandas()


def load_training_data(
    warehouse: Warehouse, end: date, start: date | None = None, *, learner_features: bool = True
) -> TrainingData:
    """Interactions first seen in ``(start, end]`` plus the dimensions and features as of ``end``.

    ``learner_features=False`` leaves Spark's learner features out (an empty frame, as before
    Spark has run): the models that do not read them skip 1M skill vectors (~11 s at 1M)."""
    where = "where cast(first_event_at as date) <= ?"
    params: list[object] = [end]
    if start is not None:
        where += " and cast(first_event_at as date) > ?"
        params.append(start)
    table = _select_arrow(warehouse, INTERACTIONS, INTERACTION_COLUMNS, where, params)
    for column in ("learner_id", "course_id"):
        # categorical ids: no Python string per row (20M rows), and every id lookup downstream
        # (matrices, tier filter) works on codes (see ml.models.IdIndex.positions)
        position = table.schema.get_field_index(column)
        table = table.set_column(position, column, pc.dictionary_encode(table[column].combine_chunks()))
    interactions = table.to_pandas()
    interactions["weight"] = interactions["weight"].astype(np.float32)
    interactions["skipped"] = interactions["skipped"].fillna(False).astype(bool)
    interactions["completed"] = interactions["completed"].fillna(False).astype(bool)
    courses = published_by(_select(warehouse, COURSES, COURSE_COLUMNS).sort_values("course_id"), end)
    learners = _select(warehouse, LEARNERS, LEARNER_COLUMNS).sort_values("learner_id", ignore_index=True)
    return TrainingData(
        interactions=interactions,
        courses=courses,
        learners=learners,
        learner_features=load_learner_features(warehouse, end)
        if learner_features
        else pd.DataFrame(columns=list(FEATURE_COLUMNS)),
        skill_ids=load_skill_ids(warehouse),
        start=start,
        end=end,
    )


def load_learner_features(warehouse: Warehouse, end: date) -> pd.DataFrame:
    """Each learner's latest ``features.learner_features`` row at or before ``end``."""
    if not warehouse.table_exists(LEARNER_FEATURES):
        return pd.DataFrame(columns=list(FEATURE_COLUMNS))
    frame = _select(
        warehouse,
        LEARNER_FEATURES,
        FEATURE_COLUMNS,
        f"where feature_date = (select max(feature_date) from {LEARNER_FEATURES} where feature_date <= ?)",
        [end],
    )
    return frame.sort_values("learner_id", ignore_index=True)


def load_skill_ids(warehouse: Warehouse) -> tuple[str, ...]:
    """The skill index (``raw.skills`` by skill_id ascending), empty when the taxonomy is absent."""
    if not warehouse.table_exists(SKILLS):
        return ()
    rows = warehouse.query(f"select skill_id from {SKILLS} order by skill_id")
    return tuple(rows.column(0).to_pylist())


def daily_activity_table(warehouse: Warehouse, start: date, end: date) -> pa.Table:
    """Per learner and event day in ``[start, end]``: event counts by kind, watch time, quiz mean.

    The dropout model's as-of features are built from these daily rows, so that features for any
    past date can be rebuilt for training labels (bounded window: cost follows the window, not
    the history). Arrow, because the dropout features are numpy group-bys over its columns
    (``ml.dropout.DailyActivity``): no Python object per row on the way (18M rows at 1M learners).
    """
    _require(warehouse, EVENTS)
    sql = f"""
        select learner_id, cast(event_date as date) as event_date,
               cast(count(*) as double) as n_events,
               cast(sum(case when event_type = 'complete' then 1 else 0 end) as double) as n_completes,
               cast(sum(case when event_type = 'skip' then 1 else 0 end) as double) as n_skips,
               cast(sum(case when event_type = 'watch' then 1 else 0 end) as double) as n_watches,
               cast(sum(coalesce(watch_duration_seconds, 0)) as double) as watch_seconds,
               cast(avg(quiz_score) as double) as avg_quiz_score
        from {EVENTS}
        where cast(event_date as date) between ? and ?
        group by 1, 2
    """
    return warehouse.query(sql, [start, end])


def load_daily_activity(warehouse: Warehouse, start: date, end: date) -> pd.DataFrame:
    """:func:`daily_activity_table` as a frame with ``event_date`` as ``datetime.date`` objects
    (Arrow's date32 arrives as dates directly, not via datetime64 and back)."""
    return daily_activity_table(warehouse, start, end).to_pandas(date_as_object=True)


def load_goal_texts(warehouse: Warehouse, goals: list[str]) -> list[str]:
    """Text for each career goal: its name and, when ``raw.career_goals``/``raw.skills`` exist,
    the names of the skills it targets (what the content model embeds for a learner's goal)."""
    if not (warehouse.table_exists(CAREER_GOALS) and warehouse.table_exists(SKILLS)):
        return [f"Career goal: {g}." for g in goals]
    skills = load_skill_names(warehouse)
    targets = warehouse.query(f"select career_goal, target_skill_ids from {CAREER_GOALS}").to_pandas()
    by_goal = {g: ", ".join(skills.get(s, s) for s in ids) for g, ids in targets.itertuples(index=False)}
    return [f"Career goal: {g}. Skills: {by_goal.get(g, '')}." for g in goals]


def load_skill_names(warehouse: Warehouse) -> dict[str, str]:
    """Skill id -> name from the taxonomy (empty when it is absent)."""
    if not warehouse.table_exists(SKILLS):
        return {}
    return dict(warehouse.query(f"select skill_id, name from {SKILLS}").to_pandas().itertuples(index=False))


def load_skill_texts(warehouse: Warehouse, skill_ids: tuple[str, ...]) -> list[str]:
    """Text for each skill of the index (name and domain)."""
    if not skill_ids:
        return []
    frame = warehouse.query(f"select skill_id, name, domain from {SKILLS}").to_pandas().set_index("skill_id")
    return [f"{frame.at[s, 'name']} ({frame.at[s, 'domain']})" for s in skill_ids]
