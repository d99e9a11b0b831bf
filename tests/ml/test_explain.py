"""Recommendation reasons carry profile and catalogue text: it reaches learners sanitised."""

from __future__ import annotations

import numpy as np

from ml.ranking.explain import Reason, reasons

HOSTILE_GOAL = "Eve\r\nBcc: victim@example.com <script>alert(1)</script> https://phish.example/x ${reason}"


def test_profile_text_in_reasons_is_sanitised_once_per_value_and_mapped_back_to_every_row() -> None:
    kind = np.array([Reason.CAREER_GOAL, Reason.TOP_RATED_INTEREST, Reason.CAREER_GOAL, Reason.POPULAR_ALL])
    argument = np.array([HOSTILE_GOAL, "Data Science", HOSTILE_GOAL, None], dtype=object)
    out = reasons(kind, argument).to_pylist()
    assert out[1] == "Top-rated in Data Science"
    assert out[3] == "Popular with learners across the platform"
    assert out[0] == out[2] and out[0].startswith("Builds skills for your goal: Eve")
    for bad in ("\r", "\n", "@", "<", ">", "phish.example", "${", "script>"):
        assert bad not in out[0], (bad, out[0])
