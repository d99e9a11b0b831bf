"""Nightly training: one function per model, one to evaluate and promote, and ``train_all``.

Time split for a run date R (``TrainConfig.eval_days`` = d):

* validation cut V = R - 2d: components fitted on interactions first seen up to V; the blend's
  weights are learned on the interactions first seen in (V, T];
* test cut T = R - d: components refitted up to T, the blend applies the learned weights, and
  every model (plus popularity and random baselines) is evaluated on (T, R];
* serving: components fitted on everything up to R; the serving blend uses the same weights.

Every night fits all three cuts (the promotion gate needs tonight's test NDCG, and the blend's
weights are relearned), but convergence is paid once: ALS and LightFM fit the validation cut from
scratch (LightFM stops early on the validation window) and warm-start the test and serving cuts
from the cut before (``fit_stages``). The content model has no iterations (embeddings are synced
incrementally, only new or changed courses are encoded) and popularity is a count.

Each component model's training is its own MLflow run holding the three fitted stages as
artifacts (``model/`` = serving, ``stages/validation``, ``stages/test``), so the nightly DAG can
train the models in parallel and hand only run ids to :func:`evaluate_and_promote`, which logs
the blend run with the evaluation of everything and moves the ``champion`` aliases.
The dropout model (:func:`train_dropout`) is independent of the blend.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from learnrec.settings import Settings
from learnrec.vectors import MiniLMEmbedder
from learnrec.warehouse import Warehouse, connect_warehouse
from ml import dropout as dropout_lib
from ml.blend import BlendFit, build_blend, fit_blend
from ml.data import (
    OPTED_IN,
    TrainingData,
    daily_activity_table,
    load_goal_texts,
    load_skill_names,
    load_skill_texts,
    load_training_data,
)
from ml.embeddings import Encoder, sync_course_embeddings, vector_index
from ml.evaluation import classification_metrics, evaluate_ranking, held_out_ndcg, metric_value
from ml.models import (
    ALSModel,
    CatalogAligned,
    ContentInputs,
    ContentModel,
    IdIndex,
    LightFMModel,
    PopularityModel,
    RandomModel,
    Recommender,
    load_model,
)
from ml.registry import (
    MODEL_ARTIFACT,
    TrainingRun,
    champion,
    client_for,
    download_alias,
    promote,
    registered_name,
)

log = logging.getLogger(__name__)

#: component models of the blend, in blend feature order
COMPONENTS = ("popularity", "als", "lightfm", "content")
STAGES = ("validation", "test", "serving")
#: components that read Spark's learner features (skill vectors, format); the others skip loading them
READS_LEARNER_FEATURES = frozenset({"lightfm", "content"})
RANKING_METRIC = "ndcg@10"


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of a nightly training (logged as MLflow params with every run)."""

    eval_days: int = 7  # length of the test window (and of the validation window before it)
    k: int = 10
    dropout_horizon_days: int = 14  # dropout = no event in the next N days
    dropout_step_days: int = 7  # spacing of the as-of dates stacked for training
    promotion_margin: float = 0.01  # relative improvement over the champion needed to promote
    eval_max_learners: int = 20_000  # evaluation sample (seeded): NDCG@10's standard error ~0.002
    history_days: int = 120  # bounded window of daily activity the dropout model reads
    dropout_max_rows: int = 400_000  # seeded sample of labelled rows the dropout networks train on


def _at_most(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of ``n`` labelled rows (all when fewer): the dropout network has ~1k
    weights over 15 features, so 400k rows pin it down as well as 2M do, at a fifth of the
    optimiser steps (1M learners stack several as-of dates)."""
    if len(y) <= n:
        return x, y
    keep = np.sort(np.random.default_rng(seed).choice(len(y), n, replace=False))
    return x[keep], y[keep]


def split_dates(run_date: date, config: TrainConfig) -> dict[str, date]:
    return {
        "validation": run_date - timedelta(days=2 * config.eval_days),
        "test": run_date - timedelta(days=config.eval_days),
        "serving": run_date,
    }


def _window_tags(data: TrainingData, run_date: date, config: TrainConfig) -> dict[str, str]:
    first = pd.to_datetime(data.interactions["first_event_at"], utc=True).min()
    tags = {f"cut_{stage}": cut.isoformat() for stage, cut in split_dates(run_date, config).items()}
    tags["data_window_start"] = first.date().isoformat() if pd.notna(first) else ""
    tags["data_window_end"] = run_date.isoformat()
    return tags


def _content_inputs(
    settings: Settings, warehouse: Warehouse, data: TrainingData, encoder: Encoder, run_date: date
) -> tuple[ContentInputs, int]:
    """Sync the vector index (only new/changed courses are embedded) and embed goals and skills."""
    index = vector_index(settings, warehouse)
    indexed_at = datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=UTC)
    vectors, embedded = sync_course_embeddings(
        index, data.courses, encoder, indexed_at, load_skill_names(warehouse)
    )
    goals = sorted(data.learners["career_goal"].dropna().unique().tolist())
    goal_vectors = (
        encoder(load_goal_texts(warehouse, goals)) if goals else np.zeros((0, vectors.shape[1]), np.float32)
    )
    skill_texts = load_skill_texts(warehouse, data.skill_ids)
    skill_vectors = encoder(skill_texts) if skill_texts else np.zeros((0, vectors.shape[1]), np.float32)
    return ContentInputs(vectors, tuple(goals), goal_vectors, skill_vectors), embedded


def _new_model(name: str, seed: int, lightfm_threads: int) -> Recommender:
    if name == "popularity":
        return PopularityModel()
    if name == "als":
        return ALSModel(seed=seed)
    if name == "lightfm":
        return LightFMModel(seed=seed, threads=lightfm_threads)
    if name == "content":
        return ContentModel()
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(COMPONENTS)}")


def fit_stages(
    name: str,
    data: TrainingData,
    run_date: date,
    config: TrainConfig,
    seed: int,
    content: ContentInputs | None = None,
    lightfm_threads: int = 1,
) -> dict[str, Recommender]:
    """The model fitted at each cut of the split, earliest first.

    Iterative models (ALS, LightFM) converge once: the validation cut is fitted from scratch
    (LightFM with early stopping on NDCG@k of the validation window (V, T], the window the blend
    learns on; the test window is never looked at), and each later cut warm-starts from the
    cut before it and only runs the model's short warm schedule over its own data. The test cut's
    model is thus trained exactly like the serving one (previous cut + warm epochs), so the test
    window measures what is served."""
    cuts = split_dates(run_date, config)
    opted_in = set(data.learners.loc[data.learners["data_tier"] == OPTED_IN, "learner_id"])
    fitted: dict[str, Recommender] = {}
    previous: Recommender | None = None
    for stage, cut in cuts.items():
        window = data.window(None, cut)
        model = _new_model(name, seed, lightfm_threads)
        if isinstance(model, LightFMModel):
            monitor = None
            if stage == "validation":
                held_out = data.window(cut, cuts["test"]).interactions
                monitor = held_out_ndcg(window, held_out, k=config.k, seed=seed, among=opted_in)
            model.fit(window, warm_start=previous, monitor=monitor)  # type: ignore[arg-type]
            previous = model
        elif isinstance(model, ALSModel):
            model.fit(window, warm_start=previous)  # type: ignore[arg-type]
            previous = model
        elif isinstance(model, ContentModel):
            assert content is not None
            keep = data.courses["course_id"].isin(set(window.courses["course_id"])).to_numpy()
            model.fit(
                window,
                ContentInputs(
                    content.course_embeddings[keep],
                    content.goal_names,
                    content.goal_embeddings,
                    content.skill_embeddings,
                ),
            )
        else:
            model.fit(window)
        fitted[stage] = model
    return fitted


def train_model(
    settings: Settings,
    run_date: date,
    name: str,
    config: TrainConfig | None = None,
    *,
    encoder: Encoder | None = None,
) -> str:
    """Fit one component model at every cut of the split; log it as an MLflow run; return the run id."""
    config = config or TrainConfig()
    with connect_warehouse(settings) as warehouse:
        data = load_training_data(warehouse, run_date, learner_features=name in READS_LEARNER_FEATURES)
        content = None
        embedded = 0
        if name == "content":
            content, embedded = _content_inputs(
                settings, warehouse, data, encoder or MiniLMEmbedder().encode, run_date
            )
    fitted = fit_stages(name, data, run_date, config, settings.seed, content, settings.lightfm_threads)
    run = TrainingRun.start(settings, name, run_date.isoformat(), _window_tags(data, run_date, config))
    try:
        run.params({**fitted["serving"].params(), **asdict(config), "seed": settings.seed})
        run.metrics(
            {
                **{
                    f"{stage}.{key}": float(value)
                    for stage, model in fitted.items()
                    for key, value in getattr(model, "fit_log", {}).items()
                },
                "n_interactions": len(data.interactions),
                "n_learners": len(data.learners),
                "n_courses": len(data.courses),
                "n_courses_embedded": embedded,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            for stage, model in fitted.items():
                model.save(Path(tmp) / (MODEL_ARTIFACT if stage == "serving" else f"stages/{stage}"))
            run.artifacts(Path(tmp))
        run.finish()
    except BaseException:
        run.finish("FAILED")
        raise
    return run.run_id


def _download_stages(settings: Settings, run_id: str, target: Path) -> dict[str, Recommender]:
    client = client_for(settings)
    client.download_artifacts(run_id, "", str(target))
    return {
        "validation": load_model(target / "stages" / "validation"),
        "test": load_model(target / "stages" / "test"),
        "serving": load_model(target / MODEL_ARTIFACT),
    }


def _blend_test_model(
    settings: Settings,
    run_id: str,
    target: Path,
    train: TrainingData,
    fit: BlendFit,
    test_stage: Callable[[str], Recommender],
) -> Recommender:
    """A blend run's blend at the test cut: its components' test stages with its learned weights."""
    client = client_for(settings)
    tags = client.get_run(run_id).data.tags
    target.mkdir(parents=True, exist_ok=True)
    spec = json.loads(
        Path(client.download_artifacts(run_id, "evaluation/blend.json", str(target))).read_text()
    )
    if tuple(spec["features"]) != fit.feature_names:
        raise ValueError(f"the champion blend has features {spec['features']}, tonight's {fit.feature_names}")
    components = {n: test_stage(tags[f"run_{n}"]) for n in COMPONENTS}
    weights = BlendFit(np.asarray(spec["weights"]), spec["bias"], 0, 0, fit.feature_names)
    return build_blend(components, train, weights)


def champions_at_test_cut(
    settings: Settings, run_date: date, target: Path, train: TrainingData, fit: BlendFit
) -> tuple[dict[str, Recommender], dict[str, str]]:
    """The current champions' models of the test cut, over tonight's catalogue, so that the gate
    compares champion and challenger on the same window (a champion's test-cut model was fitted
    before tonight's test window, so scoring it there leaks nothing); and, per model, why a
    champion from a later run date (tonight is a backfill) must not be replaced."""
    from mlflow.exceptions import MlflowException

    client = client_for(settings)
    loaded: dict[str, Recommender] = {}

    def test_stage(run_id: str) -> Recommender:
        """Only the run's test stage, downloaded once: the champion blend's components are
        usually the component champions themselves."""
        if run_id not in loaded:
            folder = Path(client.download_artifacts(run_id, "stages/test", str(target / run_id)))
            loaded[run_id] = load_model(folder)
        return loaded[run_id]

    catalogue = IdIndex(train.courses["course_id"]).ids
    models: dict[str, Recommender] = {}
    later: dict[str, str] = {}
    for name in (*COMPONENTS, "blend"):
        current = champion(settings, name, client)
        if current is None:
            continue
        since = date.fromisoformat(client.get_run(current.run_id).data.tags["run_date"])
        if since > run_date:
            later[name] = f"champion v{current.version} is from the later run date {since}"
            continue
        try:
            model = (
                _blend_test_model(settings, current.run_id, target / name, train, fit, test_stage)
                if name == "blend"
                else test_stage(current.run_id)
            )
        except (MlflowException, OSError, KeyError, ValueError) as error:  # artifacts gone, features changed
            log.warning(
                "champion %s v%s not re-scored (%s): its stored metric is used", name, current.version, error
            )
            continue
        models[name] = CatalogAligned(model, catalogue)
    return models, later


def _sanity(scores: np.ndarray, ndcg: float, floor: float, floor_name: str) -> list[str]:
    problems = []
    if not np.isfinite(scores).all():
        problems.append("non-finite scores")
    if not np.isfinite(ndcg):
        problems.append("no evaluation (empty test window)")
    elif ndcg <= floor:
        problems.append(f"{RANKING_METRIC} {ndcg:.4f} does not beat {floor_name} ({floor:.4f})")
    return problems


def evaluate_and_promote(
    settings: Settings, run_date: date, run_ids: dict[str, str], config: TrainConfig | None = None
) -> str:
    """Learn the blend, evaluate every model on the test window, register, promote; returns the
    blend's MLflow run id. The evaluation (all models x segments x metrics) is a run artifact."""
    config = config or TrainConfig()
    missing = [c for c in COMPONENTS if c not in run_ids]
    if missing:
        raise ValueError(f"evaluate_and_promote needs the runs of every component; missing {missing}")
    cuts = split_dates(run_date, config)
    with connect_warehouse(settings) as warehouse:
        # the components arrive fitted: the blend and the evaluation read no learner features
        data = load_training_data(warehouse, run_date, learner_features=False)
    with tempfile.TemporaryDirectory() as tmp:
        stages = {name: _download_stages(settings, run_ids[name], Path(tmp) / name) for name in COMPONENTS}
        at = {stage: {name: stages[name][stage] for name in COMPONENTS} for stage in STAGES}
        val_train = data.window(None, cuts["validation"])
        validation = data.window(cuts["validation"], cuts["test"]).interactions
        blend_fit = fit_blend(at["validation"], val_train, validation, seed=settings.seed)
        test_train = data.window(None, cuts["test"])
        test = data.window(cuts["test"], run_date).interactions
        models: dict[str, Recommender] = dict(at["test"])
        models["blend"] = build_blend(at["test"], test_train, blend_fit)
        models["random"] = RandomModel(settings.seed).fit(test_train)
        evaluation = evaluate_ranking(
            models, test_train, test, k=config.k, max_learners=config.eval_max_learners, seed=settings.seed
        )
        serving_blend = build_blend(at["serving"], data, blend_fit)
        champions, later = champions_at_test_cut(
            settings, run_date, Path(tmp) / "champions", test_train, blend_fit
        )
        # the same learners as tonight's models (the sample depends on the split and seed only)
        champion_evaluation = (
            evaluate_ranking(
                {f"champion_{n}": m for n, m in champions.items()},
                test_train,
                test,
                k=config.k,
                max_learners=config.eval_max_learners,
                seed=settings.seed,
            )
            if champions
            else evaluation.iloc[0:0]
        )

        run = TrainingRun.start(
            settings,
            "blend",
            run_date.isoformat(),
            {**_window_tags(data, run_date, config), **{f"run_{n}": r for n, r in run_ids.items()}},
        )
        try:
            run.params(
                {
                    **asdict(config),
                    **{
                        f"weight_{n}": float(w)
                        for n, w in zip(blend_fit.feature_names, blend_fit.weights, strict=True)
                    },
                    "bias": blend_fit.bias,
                    "blend_rows": blend_fit.n_rows,
                    "blend_learners": blend_fit.n_learners,
                }
            )
            run.metrics({f"{r.model}.{r.segment}.{r.metric}": r.value for r in evaluation.itertuples()})
            run.metrics(
                {
                    f"{r.model}.{r.metric}": r.value
                    for r in champion_evaluation.itertuples()
                    if r.segment == "all" and r.metric == RANKING_METRIC
                }
            )
            run.metrics(
                {
                    f"{r.metric}": r.value
                    for r in evaluation.itertuples()
                    if r.model == "blend" and r.segment == "all"
                }
            )
            out = Path(tmp) / "blend-run"
            serving_blend.save(out / MODEL_ARTIFACT)
            (out / "evaluation").mkdir(parents=True)
            evaluation.to_csv(out / "evaluation" / "ranking.csv", index=False)
            (out / "evaluation" / "blend.json").write_text(
                json.dumps(
                    {
                        "features": blend_fit.feature_names,
                        "weights": blend_fit.weights.tolist(),
                        "bias": blend_fit.bias,
                    },
                    indent=2,
                )
            )
            run.artifacts(out)
            random_ndcg = metric_value(evaluation, "random", RANKING_METRIC)
            popularity_ndcg = metric_value(evaluation, "popularity", RANKING_METRIC)
            probe = data.learners["learner_id"].head(256).tolist()
            for name in COMPONENTS:
                component_run = TrainingRun(settings, run_ids[name], client_for(settings))
                ndcg = metric_value(evaluation, name, RANKING_METRIC)
                component_run.metrics({f"test.{RANKING_METRIC}": ndcg})
                version = component_run.register(name)
                promote(
                    component_run,
                    name,
                    version,
                    RANKING_METRIC,
                    ndcg,
                    margin=config.promotion_margin,
                    sanity_failures=_sanity(at["serving"][name].score(probe), ndcg, random_ndcg, "random")
                    + ([later[name]] if name in later else []),
                    champion_value=metric_value(champion_evaluation, f"champion_{name}", RANKING_METRIC)
                    if name in champions
                    else None,
                )
            blend_ndcg = metric_value(evaluation, "blend", RANKING_METRIC)
            problems = _sanity(serving_blend.score(probe), blend_ndcg, popularity_ndcg, "popularity")
            problems += [later["blend"]] if "blend" in later else []
            version = run.register("blend")
            decision = promote(
                run,
                "blend",
                version,
                RANKING_METRIC,
                blend_ndcg,
                margin=config.promotion_margin,
                sanity_failures=problems,
                champion_value=metric_value(champion_evaluation, "champion_blend", RANKING_METRIC)
                if "blend" in champions
                else None,
            )
            log.info(
                "blend v%s: %s (%s)",
                version,
                "champion" if decision.promoted else "rejected",
                decision.reason,
            )
            run.finish()
        except BaseException:
            run.finish("FAILED")
            raise
    return run.run_id


def train_dropout(settings: Settings, run_date: date, config: TrainConfig | None = None) -> str:
    """Train, evaluate (time split on the latest labelled date) and register the dropout model;
    write today's ``features.dropout_scores`` with the champion. Returns the MLflow run id."""
    config = config or TrainConfig()
    horizon = config.dropout_horizon_days
    with connect_warehouse(settings) as warehouse:
        daily = dropout_lib.DailyActivity.from_table(
            daily_activity_table(warehouse, run_date - timedelta(days=config.history_days), run_date)
        )
        first_day = daily.first_day or run_date
        dates = dropout_lib.training_dates(run_date, first_day, horizon, step=config.dropout_step_days)
        run = TrainingRun.start(
            settings,
            "dropout",
            run_date.isoformat(),
            {
                "data_window_start": str(first_day),
                "data_window_end": run_date.isoformat(),
                "label": f"no event in the {horizon} days after the as-of date",
            },
        )
        try:
            run.params(
                {
                    **asdict(config),
                    "seed": settings.seed,
                    "as_of_dates": ",".join(d.isoformat() for d in dates),
                    "features": ",".join(dropout_lib.FEATURES),
                }
            )
            problems: list[str] = []
            auc = float("nan")
            # each as-of date's rows are built once and stacked for the held-out and final fits
            rows = {d: dropout_lib.labelled_rows(daily, [d], horizon) for d in dates}

            def stacked(chosen: list[date]) -> tuple[np.ndarray, np.ndarray]:
                xs, ys = zip(*(rows[d] for d in chosen), strict=True)
                return _at_most(
                    np.concatenate(xs), np.concatenate(ys), config.dropout_max_rows, settings.seed
                )

            if len(dates) >= 2:
                x_train, y_train = stacked(dates[1:])
                x_test, y_test = rows[dates[0]]
                held_out = dropout_lib.fit_dropout(x_train, y_train, horizon_days=horizon, seed=settings.seed)
                baseline = dropout_lib.fit_baseline(x_train, y_train, seed=settings.seed)
                torch_metrics = classification_metrics(y_test, held_out.predict(x_test))
                base_metrics = classification_metrics(y_test, baseline.predict_proba(x_test)[:, 1])
                run.metrics({f"torch.{k}": v for k, v in torch_metrics.items()})
                run.metrics({f"logistic.{k}": v for k, v in base_metrics.items()})
                auc = torch_metrics["roc_auc"]
                if auc <= 0.5:
                    problems.append(f"roc_auc {auc:.3f} is no better than chance")
            else:
                problems.append(f"{len(dates)} labelled as-of date(s): too little history for a time split")
            if not dates:
                run.tag("promotion", "rejected")
                run.tag("promotion_reason", problems[-1])
                run.finish()
                return run.run_id
            x_all, y_all = stacked(dates)
            model = dropout_lib.fit_dropout(x_all, y_all, horizon_days=horizon, seed=settings.seed)
            with tempfile.TemporaryDirectory() as tmp:
                model.save(Path(tmp) / MODEL_ARTIFACT)
                run.artifacts(Path(tmp))
            version = run.register("dropout")
            decision = promote(
                run,
                "dropout",
                version,
                "roc_auc",
                auc,
                margin=config.promotion_margin,
                sanity_failures=problems,
            )
            found = download_alias(settings, registered_name("dropout"))
            if found is not None:
                champion_model = model if decision.promoted else dropout_lib.DropoutModel.load(found[0])
                champion_version = version if decision.promoted else found[1]
                table = dropout_lib.score_table(
                    champion_model, daily, run_date, f"{registered_name('dropout')}:{champion_version}"
                )
                run.metrics({"n_scored": dropout_lib.write_scores(warehouse, table, run_date)})
            run.finish()
        except BaseException:
            run.finish("FAILED")
            raise
    return run.run_id


def train_all(
    settings: Settings, run_date: date, config: TrainConfig | None = None, *, encoder: Encoder | None = None
) -> dict[str, str]:
    """Every model, evaluation and promotion for ``run_date`` (what the nightly DAG does in
    parallel tasks, in one process); returns MLflow run ids by model."""
    config = config or TrainConfig()
    runs = {name: train_model(settings, run_date, name, config, encoder=encoder) for name in COMPONENTS}
    runs["blend"] = evaluate_and_promote(settings, run_date, runs, config)
    runs["dropout"] = train_dropout(settings, run_date, config)
    return runs
