"""learning_style: preferred_format (video | text | mixed), affinity_score in [0, 1], style_updated_at.

Evidence is watch time over the 30-day window by the format of the course watched (video and live
courses count as video, text as text, mixed half each; see ``aggregates``). With
``s = video_seconds / (video_seconds + text_seconds)``:

* preferred_format: ``video`` if s >= 2/3, ``text`` if s <= 1/3, otherwise ``mixed``;
* affinity_score = purity * confidence, where purity is s (video), 1 - s (text) or 1 - |2s - 1|
  (mixed), and confidence = 1 - exp(-(video_seconds + text_seconds) / CONFIDENCE_SECONDS): an hour
  of watching gives 0.63, so a preference read from two short clips stays weak;
* style_updated_at: the latest watch event in the window, i.e. when the evidence last changed.

A learner without watch time in the window gets ``mixed``, affinity 0 and no style_updated_at
(downstream may fall back to the format declared at onboarding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

VIDEO_THRESHOLD = 2.0 / 3.0
TEXT_THRESHOLD = 1.0 / 3.0
CONFIDENCE_SECONDS = 3600.0
NO_EVIDENCE_FORMAT = "mixed"


def style_columns(video_seconds: Column, text_seconds: Column) -> tuple[Column, Column]:
    """(preferred_format, affinity_score) from the window's watch seconds by format."""
    from pyspark.sql import functions as F

    total = video_seconds + text_seconds
    s = video_seconds / total
    preferred = (
        F.when(total <= 0, NO_EVIDENCE_FORMAT)
        .when(s >= VIDEO_THRESHOLD, "video")
        .when(s <= TEXT_THRESHOLD, "text")
        .otherwise("mixed")
    )
    purity = (
        F.when(s >= VIDEO_THRESHOLD, s)
        .when(s <= TEXT_THRESHOLD, 1.0 - s)
        .otherwise(1.0 - F.abs(2.0 * s - 1.0))
    )
    confidence = 1.0 - F.exp(-total / CONFIDENCE_SECONDS)
    affinity = F.when(total <= 0, 0.0).otherwise(purity * confidence)
    return preferred, affinity


def aggregates() -> list[Column]:
    """Per-learner aggregates over the window's daily_learner rollups (see :func:`columns`)."""
    from pyspark.sql import functions as F

    return [
        F.sum("video_seconds").alias("video_seconds"),
        F.sum("text_seconds").alias("text_seconds"),
        F.max("last_watch_at").alias("last_watch_at"),
    ]


def columns() -> list[Column]:
    """preferred_format, affinity_score, style_updated_at from :func:`aggregates`."""
    from pyspark.sql import functions as F

    preferred, affinity = style_columns(F.col("video_seconds"), F.col("text_seconds"))
    return [
        preferred.alias("preferred_format"),
        affinity.alias("affinity_score"),
        F.when(F.col("video_seconds") + F.col("text_seconds") > 0, F.col("last_watch_at"))
        .cast("timestamp")
        .alias("style_updated_at"),
    ]
