"""OULAD, real learners' data, as the dropout model's input: a development set that no one here
wrote, so that the model is judged on real withdrawal and not only on the synthetic world.

OULAD: Open University Learning Analytics Dataset, Kuzilek, Hlosta & Zdrahal, "Open University
Learning Analytics dataset", Scientific Data 4:170171 (2017), licence CC-BY 4.0. The full files
live in ``../shared/datasets/oulad/``; ``tests/data/oulad_sample/`` is a small attributed sample.

Mapping (days are OULAD's integer offsets from the presentation start, negative before it):
a learner is an enrolment (``AAA-2013J-11391``: a student may take several presentations);
a day's ``n_events`` is its VLE clicks plus its assessment submissions, ``n_completes`` the
submissions, ``avg_quiz_score`` their mean score; the calendar is the registration day and
the presentation start (day 0); the assessments are every dated assessment of the learner's
presentation, submitted or not (exams have no date and are left out). Only presentations whose
VLE clicks are in the files are read (the shared copy holds three of them completely).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ml.dropout import DailyActivity, features_as_of
from ml.dropout_signals import Assessments, Calendar

PRESENTATION = ["code_module", "code_presentation"]
WITHDRAWN = "Withdrawn"


@dataclass(frozen=True)
class Oulad:
    """The dropout input (``activity``) and, per enrolment id, its student, registration,
    unregistration day and final result (``enrolments``)."""

    activity: DailyActivity
    enrolments: pd.DataFrame


def _key(frame: pd.DataFrame) -> pd.Series:
    return frame["code_module"] + "-" + frame["code_presentation"] + "-" + frame["id_student"].astype(str)


def load_oulad(path: Path) -> Oulad:
    """Read the OULAD csv files of ``path`` (``studentVle*.csv`` may be split in several)."""
    vle = pd.concat([pd.read_csv(f) for f in sorted(path.glob("studentVle*.csv"))], ignore_index=True)
    presentations = vle[PRESENTATION].drop_duplicates()
    enrolments = (
        pd.read_csv(path / "studentInfo.csv")
        .merge(pd.read_csv(path / "studentRegistration.csv"), on=[*PRESENTATION, "id_student"])
        .merge(presentations, on=PRESENTATION)
    )
    enrolments.index = pd.Index(_key(enrolments), name="learner_id")
    dated = pd.read_csv(path / "assessments.csv").dropna(subset=["date"])
    submissions = pd.read_csv(path / "studentAssessment.csv", na_values="?")
    expected = (
        enrolments.reset_index()[["learner_id", *PRESENTATION, "id_student"]]
        .merge(dated, on=PRESENTATION)
        .merge(submissions, on=["id_student", "id_assessment"], how="left")
    )
    clicks = (
        vle.assign(learner_id=_key(vle)).groupby(["learner_id", "date"], as_index=False)["sum_click"].sum()
    )
    handed_in = (
        expected.dropna(subset=["date_submitted"])
        .groupby(["learner_id", "date_submitted"], as_index=False)
        .agg(n_completes=("id_assessment", "size"), avg_quiz_score=("score", "mean"))
        .rename(columns={"date_submitted": "date"})
    )
    daily = clicks.merge(handed_in, on=["learner_id", "date"], how="outer")
    daily = daily.loc[daily["learner_id"].isin(enrolments.index)]
    completes = daily["n_completes"].fillna(0.0).to_numpy(float)
    table = pa.table(
        {
            "learner_id": pa.array(daily["learner_id"].to_numpy(), pa.string()),
            "event_date": pa.array(daily["date"].to_numpy(np.int64)),
            "n_events": daily["sum_click"].fillna(0.0).to_numpy(float) + completes,
            "n_completes": completes,
            "n_skips": np.zeros(len(daily)),
            "watch_seconds": np.zeros(len(daily)),
            "avg_quiz_score": daily["avg_quiz_score"].to_numpy(float),
        }
    )
    act = DailyActivity.from_table(table, roster=list(enrolments.index))
    registered = np.full(len(act.learner_ids), np.nan)
    # a few enrolments have no registration day: taken as registered at the start
    registered[act.positions(enrolments.index)] = enrolments["date_registration"].fillna(0).to_numpy(float)
    calendar = Calendar(registered_day=registered, start_day=np.zeros(len(act.learner_ids)))
    assessments = Assessments(
        code=act.positions(expected["learner_id"]),
        assessment=expected["id_assessment"].to_numpy(np.int64),
        due_day=expected["date"].to_numpy(float),
        submitted_day=expected["date_submitted"].to_numpy(float),
        score=expected["score"].to_numpy(float),
        weight=expected["weight"].to_numpy(float),
    )
    return Oulad(replace(act, calendar=calendar, assessments=assessments), enrolments)


@dataclass(frozen=True)
class WithdrawalTask:
    """Features as of a day of the presentation, the withdrawal label and each row's student
    (cross-validation folds group by student: one student's enrolments never straddle folds)."""

    x: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray


def withdrawal_task(data: Oulad, as_of: int = 60, horizon: int | None = None) -> WithdrawalTask:
    """Which learners still registered on day ``as_of`` withdraw later: within ``horizon`` days
    after it, or (``None``) by the presentation's end. Learners withdrawn without a recorded day
    count as withdrawing later (they were registered on ``as_of`` by the record)."""
    e = data.enrolments
    gone = e["date_unregistration"]
    still = (e["date_registration"].fillna(0) <= as_of) & ~(gone <= as_of)
    e = e.loc[still]
    later = e["date_unregistration"].isna() | (
        e["date_unregistration"] <= as_of + (horizon if horizon is not None else np.inf)
    )
    y = ((e["final_result"] == WITHDRAWN) & later).to_numpy(np.int8)
    x = features_as_of(data.activity, as_of).reindex(e.index)
    return WithdrawalTask(x, y, e["id_student"].to_numpy())
