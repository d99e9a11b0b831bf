"""Item-to-item: the courses nearest to a course in the content index (cosine of MiniLM vectors).

One core (:func:`nearest_courses`) for the whole catalogue at once, in blocks (the serving export
precomputes every course's neighbours) and for one course (:func:`similar_courses`). A course
without a stored vector has no neighbours and is nobody's neighbour.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ml.embeddings import VectorIndex

#: Query courses per block of the matrix product (bounds memory: block x catalogue floats).
BLOCK = 1024


def nearest_courses(
    course_ids: Sequence[str], vectors: np.ndarray, k: int, queries: Sequence[int] | None = None
) -> Iterator[tuple[str, int, str, float]]:
    """``(course_id, rank, similar_course_id, score)`` for the ``k`` nearest other courses of each
    query row (all rows by default); ``vectors`` is [len(course_ids), D], zero rows = not indexed."""
    matrix = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(matrix, axis=1)
    indexed = norms > 0
    matrix = matrix / np.maximum(norms, 1e-9)[:, None]
    rows = np.flatnonzero(indexed) if queries is None else np.asarray([q for q in queries if indexed[q]], int)
    take = min(k, int(indexed.sum()) - 1)
    if take <= 0:
        return
    for lo in range(0, len(rows), BLOCK):
        block = rows[lo : lo + BLOCK]
        sims = matrix[block] @ matrix.T
        sims[:, ~indexed] = -np.inf
        sims[np.arange(len(block)), block] = -np.inf  # never its own neighbour
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        order = np.take_along_axis(sims, top, axis=1).argsort(axis=1)[:, ::-1]
        top = np.take_along_axis(top, order, axis=1)
        for i, (row, neighbours) in enumerate(zip(block, top, strict=True)):
            for rank, other in enumerate(neighbours, start=1):
                yield course_ids[row], rank, course_ids[other], float(sims[i, other])


def similar_courses(
    index: VectorIndex, course_id: str, catalogue: Sequence[str], k: int = 10
) -> list[tuple[str, float]]:
    """The ``k`` courses of ``catalogue`` nearest to ``course_id`` with their cosine similarity."""
    ids = list(catalogue)
    if course_id not in ids:
        ids.append(course_id)
    found = nearest_courses(ids, index.vectors(ids), k, queries=[ids.index(course_id)])
    return [(other, score) for _, _, other, score in found]
