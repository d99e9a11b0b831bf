"""skill_vector: a learner's level per taxonomy skill in [0, 1], in skill-index order.

Every completed course is evidence for each skill it is tagged with (catalogue, see ``catalog``):

    evidence(course) = min(MAX_EVIDENCE, quiz_factor * difficulty_factor)
    quiz_factor       = mean quiz score of the learner on that course / 100, or NO_QUIZ_FACTOR
                        when the learner took no quiz on it
    difficulty_factor = 0.4 + 0.6 * (difficulty - 1) / 4          (1 -> 0.4, 5 -> 1.0)
    level(skill)      = 1 - prod over completed courses tagged with the skill of (1 - evidence)

The noisy-OR combination makes every completion raise the level with diminishing returns, keeps
it in [0, 1), and does not depend on the order completions (or late events) arrive in, which is
what makes the lifetime state exact to fold incrementally. A course completed twice counts once;
quizzes taken later on a completed course update its evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

NO_QUIZ_FACTOR = 0.6
MAX_EVIDENCE = 0.99


def skill_vectors(state_learner_course: DataFrame, catalog: DataFrame, n_skills: int) -> DataFrame:
    """learner_id, skill_vector (array<double> of n_skills) for learners with completions.

    Learners without completions are absent; :func:`zero_vector` fills them in.
    """
    from pyspark.sql import functions as F

    quiz_factor = F.when(F.col("n_quiz") > 0, F.col("quiz_sum") / F.col("n_quiz") / 100.0).otherwise(
        NO_QUIZ_FACTOR
    )
    difficulty_factor = 0.4 + 0.6 * (F.col("difficulty_score") - 1.0) / 4.0
    evidence = F.least(F.lit(MAX_EVIDENCE), F.greatest(F.lit(0.0), quiz_factor * difficulty_factor))
    per_skill = (
        state_learner_course.where(F.col("n_complete") > 0)
        .join(F.broadcast(catalog.select("course_id", "difficulty_score", "skill_idx")), "course_id")
        .select("learner_id", evidence.alias("evidence"), F.explode("skill_idx").alias("idx"))
        .groupBy("learner_id", "idx")
        .agg((1.0 - F.exp(F.sum(F.log1p(-F.col("evidence"))))).alias("level"))
    )
    levels = F.map_from_entries(F.collect_list(F.struct("idx", "level")))
    return (
        per_skill.groupBy("learner_id")
        .agg(levels.alias("levels"))
        .select(
            "learner_id",
            F.transform(
                F.sequence(F.lit(0), F.lit(n_skills - 1)),
                lambda i: F.coalesce(F.element_at(F.col("levels"), i), F.lit(0.0)),
            ).alias("skill_vector"),
        )
    )


def zero_vector(n_skills: int):
    from pyspark.sql import functions as F

    return F.array_repeat(F.lit(0.0), n_skills)
