"""Compact aggregates of raw events: the only thing the feature jobs keep between runs.

Two kinds, both pure ``DataFrame -> DataFrame`` functions of the :func:`blocks` of raw events
(``raw_event_schema``), the one aggregation that reads the events:

* **daily rollups**, one row per learner (``daily_learner``) and per course (``daily_course``) and
  event day. They hold everything the 30-day window features need, including what is not
  additive across days (sessions, the distinct courses of a day) already reduced per day, and a
  mergeable HyperLogLog sketch of a course's learners. A day's rollups are rebuilt from all of
  that day's event files whenever a late file lands in it, so they are exact.
* **lifetime deltas**, per learner (events, first and last activity) and per learner and course
  (completions and quiz results), computed from *new* event files only. Their columns are sums,
  minima and maxima, so folding a delta into the previous state is exact: events are unique by
  ``event_id`` across files, so new files only ever add events.

Definitions used by the features:

* a *course-day* is a (learner, course, day) with at least one event other than ``search``
  (search results name a course without the learner engaging with it); it is *completed* if it
  has a ``complete`` event and *skipped* if it has a ``skip`` event;
* a *session* is a run of a learner's events with gaps of at most ``SESSION_GAP_SECONDS``;
  sessions are cut at midnight UTC (a day's rollup sees only that day);
* watch time counts towards the format of the course watched: ``video`` and ``live`` as video,
  ``text`` as text, ``mixed`` half each (the learning style's evidence).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SESSION_GAP_SECONDS = 30 * 60
#: lgConfigK of the course learner sketches: ~1.6% standard error, ~2 KiB per course and day.
HLL_LG_K = 12

DAILY_LEARNER = "daily_learner"
DAILY_COURSE = "daily_course"
STATE_LEARNER = "learner"
STATE_LEARNER_COURSE = "learner_course"


def blocks(events: DataFrame) -> DataFrame:
    """The one aggregation over raw events: per (event_date, learner, course, session block, new).

    A *block* is a ``SESSION_GAP_SECONDS``-wide slice of the clock. Two events of the same block
    are never more than the session gap apart, so no session boundary falls inside a block, and
    a learner's sessions of a day follow exactly from the first and last event of each of their
    blocks (``_sessions``). Everything else the rollups and the lifetime deltas need is a sum,
    minimum or maximum per course, so every later step reads these rows (~6x fewer than events
    at a few events per session) instead of the events again. ``new`` marks events of files the
    lifetime state has not folded yet (see ``incremental.prepare``).
    """
    from pyspark.sql import functions as F

    t = F.col("event_type")
    watch = F.when(t == "watch", F.coalesce(F.col("watch_duration_seconds"), F.lit(0))).otherwise(0)
    block = F.floor(F.unix_micros("event_at") / (SESSION_GAP_SECONDS * 1_000_000)).cast("long")
    return events.groupBy("event_date", "learner_id", "course_id", block.alias("block"), "new").agg(
        F.count(F.lit(1)).alias("n_events"),
        F.sum(F.when(t != "search", 1).otherwise(0)).alias("n_engaged"),
        F.sum(F.when(t == "complete", 1).otherwise(0)).alias("n_complete"),
        F.sum(F.when(t == "skip", 1).otherwise(0)).alias("n_skip"),
        F.sum(F.when(t == "quiz_score", 1).otherwise(0)).alias("n_quiz"),
        F.sum(F.when(t == "quiz_score", F.col("quiz_score")).otherwise(0.0)).alias("quiz_sum"),
        F.sum(watch).cast("long").alias("watch_seconds"),
        F.max(F.when(t == "watch", F.col("event_at"))).alias("last_watch_at"),
        F.min("event_at").alias("first_event_at"),
        F.max("event_at").alias("last_event_at"),
    )


def _pairs(blocks: DataFrame, catalog: DataFrame) -> DataFrame:
    """Per (event_date, learner, course): the counts every rollup is built from.

    The course's format splits its watch time into video and text seconds here, per pair rather
    than per event: the same (exact) sums from a join over far fewer rows.
    """
    from pyspark.sql import functions as F

    sums = ("n_events", "n_engaged", "n_complete", "n_skip", "n_quiz", "quiz_sum", "watch_seconds")
    pairs = blocks.groupBy("event_date", "learner_id", "course_id").agg(
        *[F.sum(c).alias(c) for c in sums],
        F.max("last_watch_at").alias("last_watch_at"),
        F.max("last_event_at").alias("last_event_at"),
    )
    fmt = F.col("format")
    video_share = F.when(fmt.isin("video", "live"), 1.0).when(fmt == "mixed", 0.5).otherwise(0.0)
    text_share = F.when(fmt == "text", 1.0).when(fmt == "mixed", 0.5).otherwise(0.0)
    return (
        pairs.join(F.broadcast(catalog.select("course_id", "format")), "course_id", "left")
        .withColumn("video_seconds", F.col("watch_seconds") * video_share)
        .withColumn("text_seconds", F.col("watch_seconds") * text_share)
        .drop("format")
    )


def _sessions(blocks: DataFrame) -> DataFrame:
    """Per (event_date, learner): number of sessions, from the first and last event of each block.

    Blocks sorted by their first event: a block starts a session when its first event is more
    than the gap after the latest event of the blocks before it (a running maximum: blocks of
    different courses may overlap in time).
    """
    from pyspark.sql import functions as F

    gap = SESSION_GAP_SECONDS * 1_000_000
    spans = F.array_sort(
        F.collect_list(
            F.struct(F.unix_micros("first_event_at").alias("a"), F.unix_micros("last_event_at").alias("b"))
        )
    )
    counted = F.aggregate(
        F.col("spans"),
        F.struct(F.lit(0).alias("n"), F.lit(None).cast("long").alias("end")),
        lambda acc, s: F.struct(
            (acc["n"] + F.when(acc["end"].isNull() | (s["a"] - acc["end"] > gap), 1).otherwise(0)).alias("n"),
            F.greatest(acc["end"], s["b"]).alias("end"),
        ),
    )
    return (
        blocks.groupBy("event_date", "learner_id")
        .agg(spans.alias("spans"))
        .select("event_date", "learner_id", counted["n"].alias("sessions"))
    )


def daily_rollups(blocks: DataFrame, catalog: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(daily_learner, daily_course) rollups from the :func:`blocks` of one or more whole days."""
    from pyspark.sql import functions as F

    pairs = _pairs(blocks, catalog)
    engaged = F.col("n_engaged") > 0
    course_day = F.when(engaged, 1).otherwise(0)
    completed = F.when(engaged & (F.col("n_complete") > 0), 1).otherwise(0)
    skipped = F.when(engaged & (F.col("n_skip") > 0), 1).otherwise(0)
    learner = (
        pairs.groupBy("event_date", "learner_id")
        .agg(
            F.sum("n_events").alias("n_events"),
            F.sum(course_day).alias("course_days"),
            F.sum(completed).alias("completed_course_days"),
            F.sum(skipped).alias("skipped_course_days"),
            F.sum("n_quiz").alias("n_quiz"),
            F.sum("quiz_sum").alias("quiz_sum"),
            F.sum("watch_seconds").alias("watch_seconds"),
            F.sum("video_seconds").alias("video_seconds"),
            F.sum("text_seconds").alias("text_seconds"),
            F.max("last_watch_at").alias("last_watch_at"),
            F.max("last_event_at").alias("last_event_at"),
        )
        .join(_sessions(blocks), ["event_date", "learner_id"])
    )
    course = pairs.groupBy("event_date", "course_id").agg(
        F.sum("n_events").alias("n_events"),
        F.sum(course_day).alias("learner_days"),
        F.sum(completed).alias("completed_learner_days"),
        F.sum(skipped).alias("skipped_learner_days"),
        F.sum("n_quiz").alias("n_quiz"),
        F.sum("quiz_sum").alias("quiz_sum"),
        F.sum("watch_seconds").alias("watch_seconds"),
        F.hll_sketch_agg(F.when(engaged, F.col("learner_id")), HLL_LG_K).alias("learners_sketch"),
    )
    return learner, course


def lifetime_deltas(blocks: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(learner, learner_course) lifetime contributions of the :func:`blocks` of new files."""
    from pyspark.sql import functions as F

    new = blocks.where(F.col("new"))
    learner = new.groupBy("learner_id").agg(
        F.sum("n_events").cast("long").alias("n_events"),
        F.min("first_event_at").alias("first_event_at"),
        F.max("last_event_at").alias("last_event_at"),
    )
    learner_course = (
        new.where((F.col("n_complete") > 0) | (F.col("n_quiz") > 0))
        .groupBy("learner_id", "course_id")
        .agg(
            F.sum("n_complete").cast("long").alias("n_complete"),
            F.sum("n_quiz").cast("long").alias("n_quiz"),
            F.sum("quiz_sum").alias("quiz_sum"),
        )
    )
    return learner, learner_course


def fold_learner(previous: DataFrame, delta: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return (
        previous.unionByName(delta)
        .groupBy("learner_id")
        .agg(
            F.sum("n_events").cast("long").alias("n_events"),
            F.min("first_event_at").alias("first_event_at"),
            F.max("last_event_at").alias("last_event_at"),
        )
    )


def fold_learner_course(previous: DataFrame, delta: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return (
        previous.unionByName(delta)
        .groupBy("learner_id", "course_id")
        .agg(
            F.sum("n_complete").cast("long").alias("n_complete"),
            F.sum("n_quiz").cast("long").alias("n_quiz"),
            F.sum("quiz_sum").alias("quiz_sum"),
        )
    )
