"""MLflow: runs, registered models and the serving alias.

Every training is one MLflow run (experiment ``learnrec-nightly``) with its parameters, metrics,
data window and the saved model folder as artifacts. A model is registered as a new version of
``learnrec-<name>``; it takes the ``champion`` alias only if :func:`promote` finds it better than
the current champion on the agreed metric by the margin and sane; otherwise the current champion
keeps serving and both the run and the version are tagged ``promotion=rejected`` with the reason.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from learnrec.settings import Settings

EXPERIMENT = "learnrec-nightly"
CHAMPION = "champion"
MODEL_ARTIFACT = "model"


def client_for(settings: Settings):
    """An MlflowClient on the configured tracking store (SQLite under <home>/mlflow by default)."""
    from mlflow.tracking import MlflowClient

    if settings.mlflow_uri.startswith("sqlite:///"):
        Path(settings.mlflow_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)


def experiment_id(settings: Settings, client=None) -> str:
    client = client or client_for(settings)
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    settings.mlflow_artifact_path.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(EXPERIMENT, artifact_location=settings.mlflow_artifact_path.as_uri())


def registered_name(model: str) -> str:
    return f"learnrec-{model}"


@dataclass
class TrainingRun:
    """An open MLflow run: log into it, then :meth:`finish`."""

    settings: Settings
    run_id: str
    client: Any

    @classmethod
    def start(
        cls, settings: Settings, model: str, run_date: str, tags: dict[str, str] | None = None
    ) -> TrainingRun:
        client = client_for(settings)
        run = client.create_run(
            experiment_id(settings, client),
            run_name=f"{model}-{run_date}",
            tags={"model": model, "run_date": run_date, **(tags or {})},
        )
        return cls(settings, run.info.run_id, client)

    def params(self, values: dict[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in values.items()])

    def metrics(self, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        clean = {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}
        self.client.log_batch(self.run_id, metrics=[Metric(_key(k), v, 0, 0) for k, v in clean.items()])

    def tag(self, key: str, value: str) -> None:
        self.client.set_tag(self.run_id, key, value)

    def artifacts(self, folder: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(folder), artifact_path)

    def register(self, model: str) -> str:
        """Register the run's ``model`` artifact folder as a new version; returns the version."""
        from mlflow.exceptions import MlflowException

        name = registered_name(model)
        with contextlib.suppress(MlflowException):  # already registered
            self.client.create_registered_model(name)
        source = f"{self.client.get_run(self.run_id).info.artifact_uri}/{MODEL_ARTIFACT}"
        return str(self.client.create_model_version(name, source, run_id=self.run_id).version)

    def finish(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status)


def _key(name: str) -> str:
    """MLflow metric keys allow letters, digits, _ - . / and spaces; '@' becomes '_at_'."""
    return name.replace("@", "_at_")


@dataclass(frozen=True)
class Promotion:
    promoted: bool
    reason: str
    champion_version: str | None
    champion_value: float | None


def champion(settings: Settings, model: str, client=None):
    """The model version holding the ``champion`` alias, or None."""
    from mlflow.exceptions import MlflowException

    client = client or client_for(settings)
    try:
        return client.get_model_version_by_alias(registered_name(model), CHAMPION)
    except MlflowException:
        return None


def promote(
    run: TrainingRun,
    model: str,
    version: str,
    metric: str,
    value: float,
    *,
    margin: float,
    sanity_failures: list[str],
    higher_is_better: bool = True,
    champion_value: float | None = None,
) -> Promotion:
    """Move ``champion`` to ``version`` if sane and better than the champion by ``margin``
    (relative: value >= champion * (1 + margin) for higher-is-better metrics).

    ``champion_value`` is the champion's metric on the same window as ``value`` (re-scored by the
    caller). Without it the value stored when the champion was promoted is used, which was
    measured on that night's window: windows differ in difficulty, so an easy night's figure
    could keep a stale champion serving."""
    client = run.client
    name = registered_name(model)
    key = f"metric.{_key(metric)}"
    current = champion(run.settings, model, client)
    current_value = float(current.tags[key]) if current is not None and key in current.tags else None
    same_window = current is not None and champion_value is not None and math.isfinite(champion_value)
    if same_window:
        current_value = champion_value
    client.set_model_version_tag(name, version, key, str(value))
    if sanity_failures:
        decision = Promotion(
            False, "sanity: " + "; ".join(sanity_failures), getattr(current, "version", None), current_value
        )
    elif current_value is None:
        decision = Promotion(
            True,
            "first champion" if current is None else "champion has no metric",
            getattr(current, "version", None),
            current_value,
        )
    else:
        target = current_value * (1 + margin) if higher_is_better else current_value * (1 - margin)
        better = value >= target if higher_is_better else value <= target
        window = "on this window" if same_window else "as stored at its promotion"
        verdict = (
            f"{metric} {value:.4f} vs champion v{current.version} {current_value:.4f} {window} "
            f"(needs {'>=' if higher_is_better else '<='} {target:.4f})"
        )
        decision = Promotion(better, verdict, current.version, current_value)
    status = "champion" if decision.promoted else "rejected"
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, "promotion", status)
    client.set_model_version_tag(name, version, "promotion_reason", decision.reason[:5000])
    run.tag("promotion", status)
    run.tag("promotion_reason", decision.reason[:5000])
    return decision


def download_alias(settings: Settings, model_name: str, alias: str = CHAMPION) -> tuple[Path, str] | None:
    """Local folder of the version holding ``alias`` of registered model ``model_name`` (cached
    per version under <home>/ml/cache) and its version number; None without such a version."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    client = client_for(settings)
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    target = settings.home / "ml" / "cache" / model_name / str(version.version)
    if not (target / MODEL_ARTIFACT).exists():
        target.mkdir(parents=True, exist_ok=True)
        mlflow.artifacts.download_artifacts(
            artifact_uri=version.source, dst_path=str(target), tracking_uri=settings.mlflow_uri
        )
    return target / MODEL_ARTIFACT, str(version.version)
