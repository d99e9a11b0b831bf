"""Privacy: erasure requests and retention expiry enforced in every store a learner's data lives
in (``learnrec privacy``, the ``privacy_retention`` DAG); see :mod:`exports.privacy.eraser`."""
