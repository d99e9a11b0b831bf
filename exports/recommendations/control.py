"""The A/B control group: a stable share of learners served the non-personalised fallback.

Membership is a hash of the learner id (salted, so it is independent of any other hash of the
id), not a random draw: a learner stays in or out of the group night after night, which the lift
of the models (treatment vs control outcomes in the Recommendation Log) needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

_SALT = b"learnrec-control-group:"


def in_control(learner_ids: Sequence[str], share: float) -> np.ndarray:
    """Boolean mask: which of ``learner_ids`` are in the control group of ``share`` (0..1)."""
    if share <= 0:
        return np.zeros(len(learner_ids), bool)
    buckets = np.fromiter(
        (int.from_bytes(hashlib.blake2b(_SALT + i.encode(), digest_size=8).digest()) for i in learner_ids),
        np.uint64,
        len(learner_ids),
    )
    return buckets < np.uint64(share * 2**64)
