"""The evaluation report: train everything on a synthetic world, check the issue's targets.

``learnrec evaluate`` builds the mart-shaped tables of the world under LEARNREC_HOME into a
scratch warehouse (:mod:`benchmarks.world_marts`; or reads the real marts with ``--source warehouse``),
runs the nightly training in a scratch MLflow store, and writes a Markdown report with the time
split's metrics per model and segment, the learned blend, the dropout model against the world's
ground truth, timings and whether each target is met. Numbers are written as measured.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from ml import dropout as dropout_lib
from ml.data import daily_activity_table, load_training_data
from ml.evaluation import RANKING_METRICS, classification_metrics, evaluate_ranking, metric_table
from ml.models import load_model
from ml.real_data import existing_section
from ml.registry import MODEL_ARTIFACT, client_for
from ml.training import COMPONENTS, TrainConfig, evaluate_and_promote, split_dates, train_dropout, train_model

TARGET_LIFT = 0.30
TARGET_DROPOUT_AUC = 0.80
TARGET_TRAINING_SECONDS = 600
TRAINING_BENCHMARK = ("training.nightly_total_seconds", "1M x 10k x 20M")


def training_benchmark(results: Path) -> dict | None:
    """The nightly-training benchmark record at the target scale from ``benchmarks/results.json``
    (written by ``make bench``), or None when it has not been run."""
    if not results.exists():
        return None
    for record in json.loads(results.read_text()):
        if (record["name"], record["scale"]) == TRAINING_BENCHMARK:
            return record
    return None


@dataclass
class Measured:
    run_date: date
    world: dict
    runs: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)


def run_world_training(settings: Settings, run_date: date, config: TrainConfig) -> Measured:
    """``train_all``'s steps one by one, timed."""
    measured = Measured(run_date, {}, {})
    for name in COMPONENTS:
        started = time.perf_counter()
        measured.runs[name] = train_model(settings, run_date, name, config)
        measured.seconds[name] = time.perf_counter() - started
    started = time.perf_counter()
    measured.runs["blend"] = evaluate_and_promote(settings, run_date, measured.runs, config)
    measured.seconds["blend (evaluate + promote)"] = time.perf_counter() - started
    started = time.perf_counter()
    measured.runs["dropout"] = train_dropout(settings, run_date, config)
    measured.seconds["dropout"] = time.perf_counter() - started
    return measured


def _fmt(value: float, digits: int = 4) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    header = "| " + " | ".join([frame.index.name or ""] + [str(c) for c in frame.columns]) + " |"
    rule = "|" + "---|" * (len(frame.columns) + 1)
    rows = [
        "| "
        + " | ".join([str(i)] + [_fmt(v, digits) if isinstance(v, float) else str(v) for v in row])
        + " |"
        for i, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]
    return "\n".join([header, rule, *rows])


def dropout_against_truth(
    settings: Settings, run_date: date, config: TrainConfig, truth: pd.DataFrame
) -> dict:
    """Torch model and logistic baseline fitted on every labelled as-of date up to the run date,
    scored on the run date, compared with the world's truth: dropped within the horizon after the
    window, among learners still active at its end."""
    horizon = config.dropout_horizon_days
    with connect_warehouse(settings) as warehouse:
        # held as columns once, as the nightly training does (every as-of date reads them)
        daily = dropout_lib.DailyActivity.from_table(
            daily_activity_table(warehouse, run_date - timedelta(days=config.history_days), run_date)
        )
    dates = dropout_lib.training_dates(
        run_date, daily.first_day or run_date, horizon, step=config.dropout_step_days
    )
    x, y = dropout_lib.labelled_rows(daily, dates, horizon)
    model = dropout_lib.fit_dropout(x, y, horizon_days=horizon, seed=settings.seed)
    baseline = dropout_lib.fit_baseline(x, y, seed=settings.seed)
    feats = dropout_lib.features_as_of(daily, run_date)
    t = truth.set_index("learner_id").reindex(feats.index)
    alive = ~t["dropped_in_window"].astype("boolean").fillna(True).to_numpy(bool)
    labels = t["dropped_in_horizon"].astype("boolean").fillna(False).to_numpy(int)[alive]
    xs = feats.to_numpy(np.float32)[alive]
    everyone = truth.loc[~truth["dropped_in_window"] & truth["learner_id"].isin(feats.index)]
    quits = everyone["dropped_in_horizon"].astype(int).to_numpy()
    return {
        "torch": classification_metrics(labels, model.predict(xs)),
        "logistic": classification_metrics(labels, baseline.predict_proba(xs)[:, 1]),
        "oracle_engagement": classification_metrics(
            quits, 1.0 - everyone["engagement_at_window_end"].fillna(0.0)
        ),
        "oracle_hidden_state": classification_metrics(
            quits, _hidden_state_oracle(everyone, quits, settings.seed)
        ),
        "as_of_dates": [d.isoformat() for d in dates],
        "training_rows": len(y),
        "proxy_base_rate": float(y.mean()),
    }


#: the simulator's hidden dropout state at the window end (ground truth columns)
HIDDEN_STATE = ("engagement_at_window_end", "fade_progress_at_window_end", "idle_days_at_window_end")


def _hidden_state_oracle(truth: pd.DataFrame, quits: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold probabilities of a gradient-boosted model on the hidden state, fitted on the
    true labels (5-fold): roughly the best any model could do if it could see the simulator's
    state rather than the events it leaves (the rest is the world's own chance)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_predict

    state = truth.reindex(columns=list(HIDDEN_STATE)).to_numpy(float)
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, random_state=seed)
    return cross_val_predict(model, state, quits, cv=5, method="predict_proba")[:, 1]


def serving_against_truth(
    settings: Settings, measured: Measured, future: pd.DataFrame, k: int
) -> pd.DataFrame:
    """The serving models (fitted through the run date) against the world's true interactions in
    the horizon after it: the test the nightly pipeline can never run on itself."""
    client = client_for(settings)
    with connect_warehouse(settings) as warehouse:
        data = load_training_data(warehouse, measured.run_date)
    models = {}
    for name in [*COMPONENTS, "blend"]:
        target = settings.home / "ml" / "report" / name
        client.download_artifacts(measured.runs[name], MODEL_ARTIFACT, str(target))
        models[name] = load_model(target / MODEL_ARTIFACT)
    fresh = future.assign(
        weight=1.0,
        skipped=False,
        first_event_at=pd.Timestamp(measured.run_date + timedelta(days=1), tz="UTC"),
    )
    seen = data.interactions[["learner_id", "course_id"]].assign(seen=True)
    fresh = fresh.merge(seen, how="left", on=["learner_id", "course_id"])
    fresh = fresh.loc[fresh["seen"].isna()].drop(columns="seen")
    return evaluate_ranking(models, data, fresh, k=k, max_learners=50_000, seed=settings.seed)


def write_report(
    path: Path,
    settings: Settings,
    measured: Measured,
    config: TrainConfig,
    truth_dir: Path | None,
    command: str,
    benchmark_results: Path,
) -> dict[str, bool]:
    """Write the Markdown report; return the targets' pass/fail. ``benchmark_results`` is
    ``make bench``'s results.json, for the training-time target."""
    client = client_for(settings)
    k = config.k
    blend_run = client.get_run(measured.runs["blend"])
    target = settings.home / "ml" / "report" / "evaluation"
    client.download_artifacts(measured.runs["blend"], "evaluation", str(target))
    ranking = pd.read_csv(target / "evaluation" / "ranking.csv")
    blend_weights = json.loads((target / "evaluation" / "blend.json").read_text())
    overall = metric_table(ranking)[[f"{m}@{k}" for m in RANKING_METRICS] + [f"coverage@{k}"]]
    overall = overall.loc[[m for m in ["blend", *COMPONENTS, "random"] if m in overall.index]]
    ndcg = f"ndcg@{k}"
    seg = ranking.loc[ranking["metric"] == ndcg].pivot(index="model", columns="segment", values="value")
    counts = ranking.loc[(ranking["metric"] == ndcg) & (ranking["model"] == "blend")].set_index("segment")[
        "n_learners"
    ]
    seg = seg.loc[overall.index]
    seg.columns = [f"{c} (n={int(counts.get(c, 0))})" for c in seg.columns]
    blend, popularity = overall.at["blend", ndcg], overall.at["popularity", ndcg]
    best_single = overall.loc[list(COMPONENTS), ndcg]
    lift = blend / popularity - 1.0 if popularity > 0 else float("inf")
    targets = {
        "blend beats popularity by >= 30% NDCG@10": bool(lift >= TARGET_LIFT),
        "blend beats every single model (NDCG@10)": bool((blend > best_single).all()),
    }
    dropout_run = client.get_run(measured.runs["dropout"])
    dm = dropout_run.data.metrics
    truth_dropout = None
    truth_ranking = None
    if truth_dir is not None:
        truth_dropout = dropout_against_truth(
            settings, measured.run_date, config, pd.read_parquet(truth_dir / "learners.parquet")
        )
        targets[f"dropout ROC-AUC >= {TARGET_DROPOUT_AUC} vs ground truth"] = (
            truth_dropout["torch"]["roc_auc"] >= TARGET_DROPOUT_AUC
        )
        targets["dropout (torch) beats the logistic baseline vs ground truth (ROC-AUC)"] = (
            truth_dropout["torch"]["roc_auc"] > truth_dropout["logistic"]["roc_auc"]
        )
        truth_ranking = serving_against_truth(
            settings, measured, pd.read_parquet(truth_dir / "future_interactions.parquet"), k
        )
    cuts = split_dates(measured.run_date, config)
    lines = [
        "# Offline evaluation of the nightly models",
        "",
        f"Written by `{command}` (do not edit by hand: rerun it). Run date {measured.run_date}; "
        f"world: {json.dumps(measured.world)}.",
        "",
        "## Targets (issue #6)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| blend beats popularity by >= 30% NDCG@{k} | blend {_fmt(blend)} vs popularity {_fmt(popularity)}: {lift:+.0%} | {'yes' if targets['blend beats popularity by >= 30% NDCG@10'] else '**no**'} |",
        f"| blend beats every single model | best single: {best_single.idxmax()} {_fmt(best_single.max())} | {'yes' if targets['blend beats every single model (NDCG@10)'] else '**no**'} |",
    ]
    if truth_dropout is not None:
        auc, base_auc = truth_dropout["torch"]["roc_auc"], truth_dropout["logistic"]["roc_auc"]
        lines += [
            f"| dropout ROC-AUC >= 0.80 vs ground truth | {_fmt(auc, 3)} (reference: a model of the world's hidden state scores {_fmt(truth_dropout['oracle_hidden_state']['roc_auc'], 3)}) | {'yes' if auc >= TARGET_DROPOUT_AUC else '**no**'} |",
            f"| dropout beats the logistic baseline | torch {_fmt(auc, 4)} vs logistic {_fmt(base_auc, 4)} ROC-AUC (PR-AUC {_fmt(truth_dropout['torch']['pr_auc'], 3)} vs {_fmt(truth_dropout['logistic']['pr_auc'], 3)}) | {'yes' if auc > base_auc else '**no**'} |",
        ]
    bench = training_benchmark(benchmark_results)
    if bench is None:
        measured_training = "benchmark suite `training` (`make bench`, benchmarks/training.py) not run yet"
        met_training = "**not verified**"
    else:
        notes = bench.get("notes", {})
        measured_training = (
            f"{bench['value']:.0f} s on {bench['date'][:10]} (`make bench` suite `training`, benchmarks/RESULTS.md; "
            f"5-min load average {notes.get('load_average_5m', '?')})"
        )
        met_training = "yes" if bench["value"] < TARGET_TRAINING_SECONDS else "**no**"
    lines += [
        f"| training 1M learners x 10k courses x 20M interactions < 10 min on 2 cores | {measured_training} | {met_training} |",
        "",
        "## Ranking on the time split",
        "",
        f"Cuts: validation {cuts['validation']} (blend weights learned on ({cuts['validation']}, {cuts['test']}]), "
        f"test {cuts['test']} (models fitted up to it, evaluated on ({cuts['test']}, {measured.run_date}]); serving models "
        f"are fitted through {measured.run_date}. ALS and LightFM fit the validation cut from scratch (LightFM stops early "
        "on the validation window's NDCG@10) and warm-start each later cut from the one before, so the test model is "
        "trained exactly like the serving one. Test positives: interactions first seen in the test window with weight > 0 "
        "(weight 0 = skipped without watching); courses the learner touched before the cut are excluded from the ranking. "
        "`popularity` and `random` are the baselines.",
        "",
        _table(overall),
        "",
        f"### NDCG@{k} per segment",
        "",
        "cold_start = fewer than 10 events before the cut; no_onboarding = skipped onboarding (no goal); tier_* = data tier.",
        "",
        _table(seg),
        "",
    ]
    if truth_ranking is not None:
        truth_table = metric_table(truth_ranking)[[f"{m}@{k}" for m in RANKING_METRICS] + [f"coverage@{k}"]]
        lines += [
            "### Serving models against the world's ground truth",
            "",
            f"The serving models (fitted through {measured.run_date}) ranked against the interactions the world "
            "simulated in the horizon after it (new learner x course pairs only).",
            "",
            _table(truth_table.loc[[m for m in ["blend", *COMPONENTS] if m in truth_table.index]]),
            "",
        ]
    lines += [
        "## The learned blend",
        "",
        "Logistic regression on per-learner z-scores of each model (and each crossed with log(1 + interactions)), "
        "fitted on the validation window; these are the learned weights (no hand-set constants):",
        "",
        "| feature | weight |",
        "|---|---|",
        *[
            f"| {n} | {w:+.3f} |"
            for n, w in zip(blend_weights["features"], blend_weights["weights"], strict=True)
        ],
        "",
        f"Promotion of this run: {blend_run.data.tags.get('promotion')} ({blend_run.data.tags.get('promotion_reason')}).",
        "",
        "## Dropout",
        "",
        f"Target: no event in the {config.dropout_horizon_days} days after the as-of date (among learners with history). "
        "Time split inside the pipeline: trained on earlier as-of dates, tested on the latest labelled one (proxy labels). "
        "Model: a cross-fitted ensemble of wide & deep nets (one per fold, early-stopped on its fold) whose averaged "
        "logits are Platt-calibrated on out-of-fold logits; baseline: logistic regression on the same features "
        f"({', '.join(dropout_lib.FEATURES)}).",
        "",
        "| model | ROC-AUC | PR-AUC | Brier | base rate | n |",
        "|---|---|---|---|---|---|",
        *[
            f"| {m} (time split, proxy label) | {_fmt(dm.get(f'{m}.roc_auc', float('nan')), 3)} | {_fmt(dm.get(f'{m}.pr_auc', float('nan')), 3)} | {_fmt(dm.get(f'{m}.brier', float('nan')), 3)} | {_fmt(dm.get(f'{m}.base_rate', float('nan')), 3)} | {int(dm.get(f'{m}.n', 0))} |"
            for m in ("torch", "logistic")
        ],
    ]
    if truth_dropout is not None:
        lines += [
            *[
                f"| {m} (vs ground truth) | {_fmt(truth_dropout[m]['roc_auc'], 3)} | {_fmt(truth_dropout[m]['pr_auc'], 3)} | {_fmt(truth_dropout[m]['brier'], 3)} | {_fmt(truth_dropout[m]['base_rate'], 3)} | {int(truth_dropout[m]['n'])} |"
                for m in ("torch", "logistic", "oracle_engagement", "oracle_hidden_state")
            ],
            "",
            "Ground truth: the world's `dropped_in_horizon` (permanent dropout within the horizon after the window), "
            "among scored learners who had not dropped out by the window end. References that see what no model can: "
            "`oracle_engagement` scores each of them with 1 - the simulator's hidden engagement at the window end; "
            "`oracle_hidden_state` is a gradient-boosted model of the hidden dropout state (engagement, fade "
            "progress, days since the last session) fitted on the true labels, out of fold: the world's own "
            "predictability, of which the events reveal only part.",
        ]
    lines += [
        "",
        "## Timings (this machine, shared 2 cores)",
        "",
        "| step | seconds |",
        "|---|---|",
        *[f"| {name} | {sec:.1f} |" for name, sec in measured.seconds.items()],
        "",
        "## Known limitations",
        "",
        "- The interactions mart aggregates a learner x course pair over all history; the split assigns a pair by its "
        "first event, so a train pair's weight can include events after the cut (it never reveals which new courses "
        "a learner picks, which is what is tested).",
        "- Promotion compares a new version's test NDCG@10 with the champion's recorded one; consecutive nights are "
        "evaluated on overlapping but not identical windows.",
        "- The dropout label is observable inactivity, not the world's permanent dropout; learners who are simply "
        "infrequent count as positives in training.",
        "- Privacy tiers: ALS, LightFM and the blend learn only from opted-in learners' behaviour and inferred "
        "features; default-tier learners are served the content scorer by the recommendation stage, so the "
        "blend's tier_default column above is for comparison only.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = existing_section(path)  # written by python -m ml.real_data, from other data
    path.write_text("\n".join(lines) + (f"\n{kept}\n" if kept else ""))
    return targets
