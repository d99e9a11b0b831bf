"""Bring your own data: TrainingData from plain frames and the nothing-to-learn warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ml.data import MissingColumnsError, NothingToLearnWarning, TrainingData, opted_in_only
from ml.models import ALSModel, LightFMModel


def _interactions() -> pd.DataFrame:
    """Integer ids, two groups of learners each liking their own group of courses."""
    rows = [
        (learner, course) for learner in range(20) for course in range(6) if (learner % 2) == (course % 2)
    ]
    return pd.DataFrame(
        {
            "learner_id": [r[0] for r in rows],
            "course_id": [100 + r[1] for r in rows],
            "first_event_at": pd.Timestamp("2026-03-01", tz="UTC"),
        }
    )


def test_frames_with_only_the_required_columns_get_defaults_and_string_ids() -> None:
    data = TrainingData.from_frames(_interactions())
    assert data.interactions["learner_id"].iloc[0] == "0" and data.courses["course_id"].tolist()[0] == "100"
    assert (data.interactions["weight"] == 1.0).all() and not data.interactions["skipped"].any()
    assert set(data.learners["data_tier"]) == {"default"}
    assert len(data.courses) == 6 and len(data.learners) == 20
    assert len(opted_in_only(data).interactions) == 0  # no KeyError: the default tier


def test_every_missing_required_column_is_named() -> None:
    with pytest.raises(
        MissingColumnsError,
        match="interactions frame lacks required column\\(s\\): course_id, first_event_at",
    ):
        TrainingData.from_frames(pd.DataFrame({"learner_id": [1]}))
    with pytest.raises(MissingColumnsError, match="courses frame lacks required column\\(s\\): course_id"):
        TrainingData.from_frames(_interactions(), courses=pd.DataFrame({"title": ["x"]}))


@pytest.mark.parametrize(
    "model", [ALSModel(factors=4, iterations=3, threads=1), LightFMModel(components=4, epochs=2, threads=1)]
)
def test_a_tier_that_leaves_nothing_to_learn_warns(model) -> None:
    with pytest.warns(NothingToLearnWarning, match="data_tier"):
        model.fit(TrainingData.from_frames(_interactions()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NothingToLearnWarning)
        model.fit(TrainingData.from_frames(_interactions(), data_tier="opted_in"))


def test_opted_in_own_data_trains_als_on_integer_ids() -> None:
    data = TrainingData.from_frames(_interactions(), data_tier="opted_in")
    model = ALSModel(factors=4, iterations=15, threads=1).fit(data)
    scores = model.score(["0", "1"])
    odd = np.array([int(c) % 2 for c in model.course_ids]) == 1
    assert scores[0][~odd].mean() > scores[0][odd].mean() and scores[1][odd].mean() > scores[1][~odd].mean()
