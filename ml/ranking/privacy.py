"""Which signals a learner's recommendations may use, by privacy tier (product: ``data_tier``).

The policy, enforced by the precompute (it picks the scorer and the learner inputs from here and
records them in ``signals_used``):

* ``opted_in``: everything: the champion blend (collaborative filtering over all learners'
  behaviour, content, skills, popularity), the inferred learning style (preferred format and its
  affinity) and the inferred skill vector for the difficulty rule.
* ``default``: only what the learner gave us for this purpose or did on the platform, no
  behavioural profiling and no cross-learner modelling of their behaviour: the content-based
  scorer over their own course history, the *declared* preferred format (onboarding), a skill
  level read from the difficulty of courses they completed, their declared career goal and
  interest area, and catalogue-wide aggregates (popularity, ratings). Not used: collaborative
  factors, the inferred skill vector, the inferred learning style, engagement or dropout scores.

Cold-start and no-result fallbacks use only declared profile fields and catalogue aggregates, so
they are the same for both tiers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TierPolicy:
    scorer: str  # "champion" (blend) or "content"
    inferred_profile: bool  # may the inferred skill vector and learning style be used?
    extra_signals: tuple[str, ...]  # recorded in signals_used beside the scorer's own signals


POLICIES: dict[str, TierPolicy] = {
    "opted_in": TierPolicy("champion", True, ("learning_style", "skill_vector", "course_history")),
    "default": TierPolicy("content", False, ("declared_format", "completed_levels", "course_history")),
}

#: Signals of the two fallbacks (declared profile + catalogue aggregates + own history for exclusions).
COLD_START_SIGNALS = ("popularity", "career_goal", "declared_format", "course_history")
NO_RESULTS_SIGNALS = ("content", "ratings", "interest_area", "declared_format", "course_history")


def policy_for(data_tier: str | None) -> TierPolicy:
    """Unknown or missing tiers get the most restrictive policy."""
    return POLICIES.get(data_tier or "default", POLICIES["default"])
