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
    blocks (:func:`session_starts`). Everything else the rollups and the lifetime deltas need is
    a sum, minimum or maximum per course (:func:`pairs`), so later steps read these rows (~4x
    fewer than events at a few events per session) instead of the events again. ``new`` marks
    events of files the lifetime state has not folded yet (see ``incremental.prepare``).
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


#: Per-block counts that add up per (learner, course, day).
PAIR_SUMS = ("n_events", "n_engaged", "n_complete", "n_skip", "n_quiz", "quiz_sum", "watch_seconds")


def pairs(blocks: DataFrame, catalog: DataFrame) -> DataFrame:
    """Per (event_date, learner, course): the counts both rollups and the lifetime deltas read.

    One aggregation of the blocks serves every later step (kept in Spark's cache by the caller),
    so the blocks, ~4x more rows, are read twice in all (here and by :func:`session_starts`):

    * all files' sums, minima and maxima: the rollups of rebuilt days;
    * ``new_*``: the same from new files only (null without any): the lifetime deltas.

    The course's format splits the watch time into video and text seconds here, per pair rather
    than per event: the same (exact) sums from a join over far fewer rows.
    """
    from pyspark.sql import functions as F

    new = F.col("new")
    pairs = blocks.groupBy("event_date", "learner_id", "course_id").agg(
        *[F.sum(c).alias(c) for c in PAIR_SUMS],
        F.max("last_watch_at").alias("last_watch_at"),
        F.max("last_event_at").alias("last_event_at"),
        F.sum(F.when(new, F.col("n_events"))).alias("new_events"),
        F.min(F.when(new, F.col("first_event_at"))).alias("new_first_event_at"),
        F.max(F.when(new, F.col("last_event_at"))).alias("new_last_event_at"),
        F.sum(F.when(new, F.col("n_complete"))).alias("new_complete"),
        F.sum(F.when(new, F.col("n_quiz"))).alias("new_quiz"),
        F.sum(F.when(new, F.col("quiz_sum"))).alias("new_quiz_sum"),
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


def session_starts(blocks: DataFrame) -> DataFrame:
    """Per (event_date, learner, slice of the clock): ``sessions`` = 1 if a session starts in it.

    Blocks are slices of width SESSION_GAP_SECONDS, so two events of one slice are never more
    than the gap apart, and events of slices k and k + 2 always are: a session starts in slice k
    unless slice k - 1 has events and k's first event comes at most the gap after k - 1's last.
    Each block therefore stands for its first event at its own slice and carries its last event
    to the next slice; one aggregation per slice (across courses) compares the two. Summing the
    rows per learner and day counts the sessions. Only sums, minima and maxima (no per-learner
    lists to sort): every step is generated code, and the rows join the learner rollup's
    aggregation instead of a join.
    """
    from pyspark.sql import functions as F

    keys = ("event_date", "learner_id")
    slices = blocks.select(
        *keys,
        "block",
        F.unix_micros("first_event_at").alias("first"),
        F.lit(None).cast("long").alias("carried"),
    ).unionByName(
        blocks.select(
            *keys,
            (F.col("block") + 1).alias("block"),
            F.lit(None).cast("long").alias("first"),
            F.unix_micros("last_event_at").alias("carried"),
        )
    )
    first, carried = F.col("first"), F.col("carried")
    starts = first.isNotNull() & (carried.isNull() | (first - carried > SESSION_GAP_SECONDS * 1_000_000))
    return (
        slices.groupBy(*keys, "block")
        .agg(F.min("first").alias("first"), F.max("carried").alias("carried"))
        .select(*keys, F.when(starts, 1).otherwise(0).alias("sessions"))
    )


def daily_rollups(pairs: DataFrame, blocks: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(daily_learner, daily_course) rollups of whole days, from their :func:`pairs` and blocks."""
    from pyspark.sql import functions as F

    engaged = F.col("n_engaged") > 0
    per_pair = pairs.select(
        "event_date",
        "learner_id",
        "course_id",
        "n_events",
        F.when(engaged, 1).otherwise(0).alias("course_day"),
        F.when(engaged & (F.col("n_complete") > 0), 1).otherwise(0).alias("completed"),
        F.when(engaged & (F.col("n_skip") > 0), 1).otherwise(0).alias("skipped"),
        "n_quiz",
        "quiz_sum",
        "watch_seconds",
        "video_seconds",
        "text_seconds",
        "last_watch_at",
        "last_event_at",
    )
    learner = (
        per_pair.drop("course_id")
        .unionByName(session_starts(blocks), allowMissingColumns=True)
        .groupBy("event_date", "learner_id")
        .agg(
            F.sum("n_events").alias("n_events"),
            F.sum("course_day").alias("course_days"),
            F.sum("completed").alias("completed_course_days"),
            F.sum("skipped").alias("skipped_course_days"),
            F.sum("n_quiz").alias("n_quiz"),
            F.sum("quiz_sum").alias("quiz_sum"),
            F.sum("watch_seconds").alias("watch_seconds"),
            F.sum("video_seconds").alias("video_seconds"),
            F.sum("text_seconds").alias("text_seconds"),
            F.max("last_watch_at").alias("last_watch_at"),
            F.max("last_event_at").alias("last_event_at"),
            F.sum("sessions").cast("int").alias("sessions"),
        )
    )
    course = per_pair.groupBy("event_date", "course_id").agg(
        F.sum("n_events").alias("n_events"),
        F.sum("course_day").alias("learner_days"),
        F.sum("completed").alias("completed_learner_days"),
        F.sum("skipped").alias("skipped_learner_days"),
        F.sum("n_quiz").alias("n_quiz"),
        F.sum("quiz_sum").alias("quiz_sum"),
        F.sum("watch_seconds").alias("watch_seconds"),
        F.hll_sketch_agg(F.when(F.col("course_day") > 0, F.col("learner_id")), HLL_LG_K).alias(
            "learners_sketch"
        ),
    )
    return learner, course


def lifetime_deltas(pairs: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(learner, learner_course) lifetime contributions of the new files (the pairs' ``new_*``)."""
    from pyspark.sql import functions as F

    learner = (
        pairs.where(F.col("new_events").isNotNull())
        .groupBy("learner_id")
        .agg(
            F.sum("new_events").cast("long").alias("n_events"),
            F.min("new_first_event_at").alias("first_event_at"),
            F.max("new_last_event_at").alias("last_event_at"),
        )
    )
    learner_course = (
        pairs.where((F.col("new_complete") > 0) | (F.col("new_quiz") > 0))
        .groupBy("learner_id", "course_id")
        .agg(
            F.sum("new_complete").cast("long").alias("n_complete"),
            F.sum("new_quiz").cast("long").alias("n_quiz"),
            F.sum("new_quiz_sum").alias("quiz_sum"),
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
