"""Scorers for the recommendation tables (#7), loaded from the MLflow registry.

``load_champion_scorer`` serves the blend that currently holds the ``champion`` alias of
``learnrec-blend``; ``load_content_scorer`` serves the content-based model alone (the product's
"engine returns no results" fallback). Both return a :class:`ml.scoring.CandidateScorer` whose
``model_version`` names the registered model and version (``learnrec-blend:7``), so every
precomputed row can be traced back to the exact model that produced it.

A missing champion is an error (:class:`NoChampionError`), never a silent substitute: the
caller decides the fallback and records it.
"""

from __future__ import annotations

from learnrec.settings import Settings
from learnrec.warehouse import Warehouse
from ml.scoring import CandidateScorer

BLEND_MODEL = "learnrec-blend"
CONTENT_MODEL = "learnrec-content"
CHAMPION = "champion"


class NoChampionError(LookupError):
    """No version of the registered model holds the serving alias yet (train first)."""


def load_champion_scorer(settings: Settings, warehouse: Warehouse) -> CandidateScorer:
    """The serving blend (registry alias ``champion`` of ``learnrec-blend``)."""
    return _load(settings, warehouse, BLEND_MODEL)


def load_content_scorer(settings: Settings, warehouse: Warehouse) -> CandidateScorer:
    """The content-based model alone (alias ``champion`` of ``learnrec-content``)."""
    return _load(settings, warehouse, CONTENT_MODEL)


def _load(settings: Settings, warehouse: Warehouse, name: str) -> CandidateScorer:
    from ml.models import ModelScorer, load_model
    from ml.registry import download_alias

    found = download_alias(settings, name, CHAMPION)
    if found is None:
        raise NoChampionError(f"no version of {name!r} holds the {CHAMPION!r} alias; run `learnrec train`")
    path, version = found
    return ModelScorer(load_model(path), model_version=f"{name}:{version}")
