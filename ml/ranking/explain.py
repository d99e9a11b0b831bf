"""Readable reasons for recommendations, built column-wise (no per-row Python formatting).

A reason is a template chosen by kind plus one argument (a course title, the learner's career
goal or interest area); :func:`reasons` joins them with Arrow's vectorised string kernels.
Arguments come from learners' profiles and the catalogue, so they are untrusted text: each distinct
value passes the one sanitiser (:mod:`learnrec.safetext`) once, however many rows repeat it.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from learnrec import safetext

#: The longest argument a reason carries (a title, a goal, an interest area).
ARGUMENT_CHARS = 120


class Reason(IntEnum):
    PREREQUISITE = 0  # arg: title of the course it unlocks
    COMPLETED_SIMILAR = 1  # arg: title of a completed course in the same domain
    CAREER_GOAL = 2  # arg: career goal
    SIMILAR_LEARNERS = 3
    CONTENT = 4
    POPULAR_CAREER = 5  # arg: career goal
    POPULAR_ALL = 6
    TOP_RATED_INTEREST = 7  # arg: interest area
    TOP_RATED_ALL = 8


TEMPLATES: dict[Reason, tuple[str, str]] = {
    Reason.PREREQUISITE: ("Start here: it unlocks ", ""),
    Reason.COMPLETED_SIMILAR: ("Because you completed ", ""),
    Reason.CAREER_GOAL: ("Builds skills for your goal: ", ""),
    Reason.SIMILAR_LEARNERS: ("Learners with a similar history took this next", ""),
    Reason.CONTENT: ("Close to the courses you have been exploring", ""),
    Reason.POPULAR_CAREER: ("Popular with aspiring ", "s"),
    Reason.POPULAR_ALL: ("Popular with learners across the platform", ""),
    Reason.TOP_RATED_INTEREST: ("Top-rated in ", ""),
    Reason.TOP_RATED_ALL: ("Top-rated across the catalogue", ""),
}
_PREFIX = pa.array([TEMPLATES[r][0] for r in Reason])
_SUFFIX = pa.array([TEMPLATES[r][1] for r in Reason])


def reasons(kind: np.ndarray, argument: np.ndarray) -> pa.Array:
    """``kind`` int [n] of :class:`Reason`, ``argument`` object [n] of str (ignored where unused)."""
    kinds = pa.array(kind.astype(np.int32))
    args = pa.array(argument, pa.string()).fill_null("")
    distinct = pc.unique(args)
    cleaned = pa.array([safetext.clean(v, ARGUMENT_CHARS) for v in distinct.to_pylist()], pa.string())
    args = cleaned.take(pc.index_in(args, value_set=distinct))
    return pc.binary_join_element_wise(_PREFIX.take(kinds), args, _SUFFIX.take(kinds), "")
