"""The course catalogue as dense arrays, so the rules can index it per score-matrix column.

Built once per run from ``marts.dim_courses``; column ``j`` of every score matrix is course
``course_ids[j]`` (the scorer's column order is mapped onto it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from learnrec import safetext

#: Course formats in the order of ``CourseCatalog.format_code``.
COURSE_FORMATS = ("video", "text", "live", "mixed")
#: Learner preferred formats in the order of the format-weight table's rows.
LEARNER_FORMATS = ("video", "text", "mixed")
#: How well a course format suits a learner's preferred format (rows: LEARNER_FORMATS).
FORMAT_FIT = np.array(
    [
        [1.0, 0.0, 0.5, 0.5],  # video learners: video, live and mixed courses suit
        [0.0, 1.0, 0.0, 0.5],  # text learners
        [0.5, 0.5, 0.5, 1.0],  # mixed learners
    ],
    dtype=np.float32,
)
#: Longest course title shown in a reason.
TITLE_CHARS = 120
#: Longest prerequisite list kept per course (the catalogue's lists are short; longer ones are cut).
MAX_PREREQUISITES = 8


@dataclass(frozen=True)
class CourseCatalog:
    course_ids: np.ndarray  # object [C]
    titles: np.ndarray  # object [C]
    domains: tuple[str, ...]  # domain names; domain_code indexes them
    domain_code: np.ndarray  # int16 [C]
    format_code: np.ndarray  # int8 [C], index into COURSE_FORMATS (-1 unknown)
    difficulty: np.ndarray  # float32 [C], 1..5
    cluster_code: np.ndarray  # int32 [C]: the course's primary skill (diversity unit)
    clusters: tuple[str, ...]
    prerequisites: np.ndarray  # int32 [C, P <= MAX_PREREQUISITES], -1 padded, course indexes
    quality: np.ndarray  # float32 [C], 0..1
    skill_tags: tuple[tuple[str, ...], ...]  # per course, primary skill first
    # courses grouped by what the format and difficulty rules look at: (domain, format, difficulty
    # to 0.25): the rules compute one adjustment per group and learner, then gather per course
    group_code: np.ndarray  # int64 [C]
    group_domain: np.ndarray  # int16 [T]
    group_format: np.ndarray  # int8 [T]
    group_difficulty: np.ndarray  # float32 [T]

    @property
    def n_courses(self) -> int:
        return len(self.course_ids)

    def index_of(self, course_ids: pa.Array | np.ndarray | list[str]) -> np.ndarray:
        """Column index of each id (-1 when not in the catalogue)."""
        value_set = pa.array(self.course_ids, pa.string())
        found = pa.compute.index_in(pa.array(course_ids, pa.string()), value_set=value_set)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)

    def aligned_to(self, scorer_course_ids: np.ndarray) -> np.ndarray:
        """For each catalogue column, the scorer column holding it (-1: the scorer lacks it)."""
        value_set = pa.array(np.asarray(scorer_course_ids, dtype=object), pa.string())
        found = pa.compute.index_in(pa.array(self.course_ids, pa.string()), value_set=value_set)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _codes(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, tuple[str, ...]]:
    encoded = pa.compute.dictionary_encode(pa.compute.fill_null(values, "unknown")).combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False), tuple(encoded.dictionary.to_pylist())


def build_catalog(courses: pa.Table) -> CourseCatalog:
    """Arrays from ``marts.dim_courses`` rows (course_id, title, domain, format, difficulty_score,
    skill_tags, prerequisites, quality_score). Prerequisites outside the catalogue are ignored:
    nobody could take them, so they cannot block anyone either."""
    courses = courses.sort_by("course_id")
    ids = np.asarray(courses.column("course_id").to_pylist(), dtype=object)
    domain_code, domains = _codes(courses.column("domain"))
    fmt = courses.column("format").to_pylist()
    format_code = np.array([COURSE_FORMATS.index(f) if f in COURSE_FORMATS else -1 for f in fmt], np.int8)
    primary = (
        pa.compute.list_element(
            pa.compute.fill_null(courses.column("skill_tags"), pa.scalar([], pa.list_(pa.string()))), 0
        )
        if courses.num_rows
        else pa.array([], pa.string())
    )
    # a course without skill tags is its own cluster (never limited by diversity)
    primary = pa.compute.coalesce(primary, courses.column("course_id"))
    cluster_code, clusters = _codes(primary)
    position = {cid: i for i, cid in enumerate(ids)}
    prereq = np.full((len(ids), MAX_PREREQUISITES), -1, np.int32)
    for i, plist in enumerate(courses.column("prerequisites").to_pylist()):
        known = [position[p] for p in (plist or []) if p in position and p != ids[i]]
        prereq[i, : len(known[:MAX_PREREQUISITES])] = known[:MAX_PREREQUISITES]
    prereq = prereq[:, : max(1, int((prereq >= 0).sum(axis=1).max(initial=0)))]  # no all-empty columns
    # one course's odd values (missing, infinite, out of range) must not skew the rules for all
    difficulty = np.clip(
        np.nan_to_num(
            courses.column("difficulty_score").to_numpy(zero_copy_only=False).astype(np.float32), nan=3.0
        ),
        1.0,
        5.0,
    )
    quality = np.clip(
        np.nan_to_num(
            courses.column("quality_score").to_numpy(zero_copy_only=False).astype(np.float32), nan=0.0
        ),
        0.0,
        1.0,
    )
    keys = np.stack(
        [
            domain_code.astype(np.int64),
            format_code.astype(np.int64),
            np.round(difficulty * 4).astype(np.int64),
        ],
        axis=1,
    )
    groups, group_code = (
        np.unique(keys, axis=0, return_inverse=True)
        if len(ids)
        else (np.zeros((0, 3), np.int64), np.zeros(0, np.int64))
    )
    return CourseCatalog(
        group_code=group_code.reshape(-1).astype(np.int64),
        group_domain=groups[:, 0].astype(np.int16),
        group_format=groups[:, 1].astype(np.int8),
        group_difficulty=(groups[:, 2] / 4.0).astype(np.float32),
        course_ids=ids,
        # titles reach learners in reasons ("Because you completed ..."): catalogue text is untrusted
        titles=np.asarray(
            [safetext.clean(t, TITLE_CHARS) for t in courses.column("title").to_pylist()], dtype=object
        ),
        domains=domains,
        domain_code=domain_code.astype(np.int16),
        format_code=format_code,
        difficulty=difficulty,
        cluster_code=cluster_code.astype(np.int32),
        clusters=clusters,
        prerequisites=prereq,
        quality=quality,
        skill_tags=tuple(tuple(t or ()) for t in courses.column("skill_tags").to_pylist()),
    )
