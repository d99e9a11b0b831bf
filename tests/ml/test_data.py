"""The data layer reads the marts' columns for a window and refuses missing tables clearly."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from learnrec.warehouse import connect_warehouse
from ml.data import MissingTableError, among, load_daily_activity, load_training_data
from tests.ml.conftest import RUN_DATE, START


def test_window_keeps_pairs_first_seen_in_it(warehouse) -> None:
    everything = load_training_data(warehouse, RUN_DATE)
    cut = RUN_DATE - timedelta(days=4)
    before = load_training_data(warehouse, cut)
    after = everything.window(cut, RUN_DATE)
    first = lambda f: pd.to_datetime(f["first_event_at"], utc=True).dt.date  # noqa: E731
    assert (first(before.interactions) <= cut).all()
    assert (first(after.interactions) > cut).all()
    assert len(before.interactions) + len(after.interactions) == len(everything.interactions)
    assert everything.skill_ids == ("S001", "S002", "S003", "S004")
    assert len(everything.learner_features) == 40
    whole = everything.window(None, RUN_DATE).interactions
    pd.testing.assert_frame_equal(whole, everything.interactions)
    without = load_training_data(warehouse, RUN_DATE, learner_features=False)
    assert without.learner_features.empty and len(without.interactions) == len(everything.interactions)


def test_courses_published_after_the_window_are_not_candidates(warehouse) -> None:
    warehouse.execute(
        "update marts.dim_courses set published_at = ? where course_id = 'C00'",
        [pd.Timestamp(RUN_DATE + timedelta(days=3), tz="UTC")],
    )
    data = load_training_data(warehouse, RUN_DATE)
    assert "C00" not in set(data.courses["course_id"])
    assert "C01" in set(data.courses["course_id"])


def test_missing_marts_fail_with_a_clear_error(settings) -> None:
    with (
        connect_warehouse(settings) as warehouse,
        pytest.raises(MissingTableError, match=r"marts\.fct_learner_course_interactions"),
    ):
        load_training_data(warehouse, RUN_DATE)


def test_daily_activity_counts_events_per_learner_day(warehouse) -> None:
    daily = load_daily_activity(warehouse, START, RUN_DATE)
    events = warehouse.query("select count(*) from marts.fct_learner_events").column(0)[0].as_py()
    assert daily["n_events"].sum() == events
    assert (daily["n_completes"] <= daily["n_events"]).all()
    assert not daily.duplicated(["learner_id", "event_date"]).any()


def test_among_matches_isin_for_categorical_and_plain_ids() -> None:
    ids = ["a", None, "b", "c", "a"]
    allowed = {"a", "c"}
    expected = [True, False, False, True, True]
    assert among(pd.Series(ids, dtype="category"), allowed).tolist() == expected
    assert among(pd.Series(ids, dtype=object), allowed).tolist() == expected
