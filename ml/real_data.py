"""Dropout on real data: the OULAD as-of-day withdrawal task, cross-validated by learner.

    python -m ml.real_data --data ../shared/datasets/oulad --write ml/EVALUATION.md

The shipped model (:func:`ml.dropout.fit_dropout`) against a logistic-regression and a
histogram gradient-boosting baseline, all on the same features and the same folds (5-fold,
stratified, grouped by student, fixed seed), so that the comparison is the models' and not the
split's. ``--write`` replaces the real-data section of the evaluation report (kept when
``learnrec evaluate`` rewrites the rest).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ml.dropout import fit_baseline, fit_dropout
from ml.evaluation import classification_metrics
from ml.oulad import WithdrawalTask, load_oulad, withdrawal_task

SECTION_START = "<!-- real-data: written by python -m ml.real_data -->"
SECTION_END = "<!-- /real-data -->"
Fit = Callable[[np.ndarray, np.ndarray, int], Callable[[np.ndarray], np.ndarray]]


def _shipped(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    return fit_dropout(x, y, horizon_days=0, seed=seed).predict


def _logistic(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    m = fit_baseline(x, y, seed)
    return lambda z: m.predict_proba(z)[:, 1]


def _boosting(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    m = HistGradientBoostingClassifier(random_state=seed).fit(x, y)
    return lambda z: m.predict_proba(z)[:, 1]


MODELS: dict[str, Fit] = {"shipped": _shipped, "logistic": _logistic, "gradient_boosting": _boosting}


def cross_validate(
    task: WithdrawalTask, columns: list[str] | None = None, folds: int = 5, seed: int = 7
) -> dict[str, dict[str, float]]:
    """Out-of-fold metrics per model of :data:`MODELS` on ``columns`` of the task's features."""
    from sklearn.model_selection import StratifiedGroupKFold

    x = task.x[columns or list(task.x.columns)].to_numpy(np.float32)
    splits = list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, task.y, task.groups))
    out = {}
    for name, fit in MODELS.items():
        scores = np.zeros(len(task.y))
        for train, test in splits:
            scores[test] = fit(x[train], task.y[train], seed)(x[test])
        out[name] = classification_metrics(task.y, scores)
    return out


def report(data_path: Path, as_of: int = 60, seed: int = 7) -> str:
    """The markdown section: every feature, and the activity features alone for comparison."""
    from ml.dropout import FEATURES

    task = withdrawal_task(load_oulad(data_path), as_of)
    rows = [
        ("all features", cross_validate(task, seed=seed)),
        ("daily-activity features only", cross_validate(task, list(FEATURES), seed=seed)),
    ]
    lines = [
        SECTION_START,
        "## Dropout on real data (OULAD)",
        "",
        f"`python -m ml.real_data --data {data_path} --write ml/EVALUATION.md`. "
        "Data: OULAD, the Open University Learning Analytics Dataset (Kuzilek, Hlosta & Zdrahal, "
        "Scientific Data 4:170171, 2017; CC-BY 4.0), the presentations with complete VLE clicks "
        f"in the files. Task: of the learners still registered on day {as_of} of the presentation, "
        "who withdraws later (final_result Withdrawn). Features as of that day (`ml.oulad`: "
        "daily clicks and submissions, registration day, assessment deadlines and scores); "
        f"5-fold cross-validation stratified and grouped by student, seed {seed}; every model on "
        "the same features and folds. n = "
        f"{len(task.y)} enrolments, withdrawal rate {task.y.mean():.3f}.",
        "",
        "| features | model | ROC-AUC | PR-AUC | Brier |",
        "|---|---|---|---|---|",
    ]
    for label, metrics in rows:
        for model, m in metrics.items():
            lines.append(f"| {label} | {model} | {m['roc_auc']:.3f} | {m['pr_auc']:.3f} | {m['brier']:.3f} |")
    return "\n".join([*lines, SECTION_END])


_SECTION = re.compile(re.escape(SECTION_START) + ".*?" + re.escape(SECTION_END), re.S)


def write_section(report_path: Path, section: str) -> None:
    """Replace the real-data section of ``report_path`` (appended when absent)."""
    text = report_path.read_text() if report_path.exists() else ""
    text = (
        _SECTION.sub(lambda _: section, text) if _SECTION.search(text) else text.rstrip() + "\n\n" + section
    )
    report_path.write_text(text.rstrip() + "\n")


def existing_section(report_path: Path) -> str | None:
    """The real-data section of ``report_path``, if any (kept when the rest is regenerated)."""
    found = _SECTION.search(report_path.read_text()) if report_path.exists() else None
    return found.group(0) if found else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of the OULAD csv files")
    parser.add_argument("--as-of", type=int, default=60, help="day of the presentation")
    parser.add_argument("--write", type=Path, help="evaluation report whose real-data section to replace")
    args = parser.parse_args(argv)
    section = report(args.data, args.as_of)
    print(section)
    if args.write:
        write_section(args.write, section)


if __name__ == "__main__":
    main()
