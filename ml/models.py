"""The recommenders: one small interface (fit / score / save / load) for every model.

Every model scores the whole catalogue for a batch of learners: ``score(learner_ids)`` returns
float32 ``[n_learners, n_courses]`` (columns in ``course_ids`` order, sorted ids), finite, higher
= better. Learners the model has never seen get a row from what the model knows without them
(popularity, features, content) or zeros, never an error. Models are saved as a folder with
``model.json`` (kind + parameters) and ``arrays.npz``, which is what MLflow stores as artifacts.

Shapes: L learners known at fit time, C courses, F latent factors, D embedding dims.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.data import TrainingData, opted_in_only

MODEL_FILE = "model.json"
ARRAYS_FILE = "arrays.npz"


class IdIndex:
    """Sorted string ids and a vectorised id -> row lookup (-1 for unknown ids)."""

    def __init__(self, ids: Sequence[str] | np.ndarray) -> None:
        self.ids = np.asarray(sorted(set(map(str, ids))), dtype=object)
        self._lookup = pd.Index(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, ids: Sequence[str] | np.ndarray) -> np.ndarray:
        return self._lookup.get_indexer(np.asarray(ids, dtype=object)).astype(np.int64)


def interaction_matrix(
    interactions: pd.DataFrame,
    learners: IdIndex,
    courses: IdIndex,
    *,
    skip_weight: float = 0.0,
) -> sp.csr_matrix:
    """Learners x courses confidence matrix (float32 CSR) from the interactions mart.

    Positive entries are the mart's implicit weight; a skip without watching (``weight == 0`` and
    ``skipped``) becomes ``-skip_weight``: implicit's ALS reads negative values as "disliked, with
    this confidence". Pairs outside the indexes are dropped (courses unpublished at the window
    end, learners unknown to the dimension).
    """
    rows = learners.positions(interactions["learner_id"].to_numpy())
    cols = courses.positions(interactions["course_id"].to_numpy())
    weight = interactions["weight"].to_numpy(np.float32).copy()
    skipped = interactions["skipped"].to_numpy(bool) & (weight <= 0)
    weight[skipped] = -skip_weight
    keep = (rows >= 0) & (cols >= 0) & (weight != 0)
    matrix = sp.csr_matrix(
        (weight[keep], (rows[keep], cols[keep])), shape=(len(learners), len(courses)), dtype=np.float32
    )
    matrix.sum_duplicates()
    return matrix


def positive_mask(interactions: pd.DataFrame) -> pd.Series:
    """Pairs that count as the learner wanting the course: any weight (0 = explicit negative)."""
    return interactions["weight"] > 0


class Recommender:
    """Base of every model. Subclasses set ``kind``/``signals`` and implement the hooks."""

    kind: ClassVar[str]
    signals: ClassVar[tuple[str, ...]]
    course_ids: np.ndarray

    def fit(self, data: TrainingData) -> Recommender:
        raise NotImplementedError

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        """Scores for learner rows of this model's index (-1 = unknown learner)."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {}

    def arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # --- shared machinery -------------------------------------------------------------------------
    learners: IdIndex
    courses: IdIndex

    def _set_index(
        self, learner_ids: Sequence[str] | np.ndarray, course_ids: Sequence[str] | np.ndarray
    ) -> None:
        self.learners = IdIndex(learner_ids)
        self.courses = IdIndex(course_ids)
        self.course_ids = self.courses.ids

    def score(self, learner_ids: Sequence[str]) -> np.ndarray:
        scores = self.score_rows(self.learners.positions(list(learner_ids)))
        return np.nan_to_num(np.asarray(scores, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)

    def save(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        (path / MODEL_FILE).write_text(json.dumps({"kind": self.kind, "params": self.params()}, indent=2))
        np.savez(
            path / ARRAYS_FILE,
            learner_ids=self.learners.ids.astype(str),
            course_ids=self.courses.ids.astype(str),
            **self.arrays(),
        )
        return path


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path / ARRAYS_FILE, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def load_model(path: Path | str) -> Recommender:
    """Load any saved model (the kind is read from ``model.json``)."""
    path = Path(path)
    meta = json.loads((path / MODEL_FILE).read_text())
    cls = MODEL_KINDS[meta["kind"]]
    model = cls(**meta["params"])
    arrays = _load_arrays(path)
    model._set_index(arrays.pop("learner_ids"), arrays.pop("course_ids"))
    model.restore(arrays)
    if isinstance(model, BlendModel):
        model.load_components(path)
    return model


# --- baselines -----------------------------------------------------------------------------------
class PopularityModel(Recommender):
    """Same ranking for everyone: how many learners positively interacted with each course."""

    kind = "popularity"
    signals = ("popularity",)

    def fit(self, data: TrainingData) -> PopularityModel:
        self._set_index(data.learners["learner_id"], data.courses["course_id"])
        positive = data.interactions.loc[positive_mask(data.interactions)]
        cols = self.courses.positions(positive["course_id"].to_numpy())
        counts = np.bincount(cols[cols >= 0], minlength=len(self.courses)).astype(np.float32)
        self.popularity = np.log1p(counts)
        return self

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(rows), len(self.popularity))).copy()

    def arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.popularity = arrays["popularity"]


class RandomModel(Recommender):
    """Uniform random scores, seeded per learner id: the floor every model must clear."""

    kind = "random"
    signals = ()

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed

    def fit(self, data: TrainingData) -> RandomModel:
        self._set_index(data.learners["learner_id"], data.courses["course_id"])
        return self

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.stack(
            [np.random.default_rng([self.seed, int(r) + 1]).random(len(self.courses)) for r in rows]
        ).astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def arrays(self) -> dict[str, np.ndarray]:
        return {}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        pass


# --- collaborative ---------------------------------------------------------------------------------
class ALSModel(Recommender):
    """Implicit ALS (Hu, Koren, Volinsky) on the confidence matrix: confidence = alpha * weight,
    skips without watching as negative evidence with confidence ``skip_weight``."""

    kind = "als"
    signals = ("collaborative",)

    def __init__(
        self,
        factors: int = 48,
        regularization: float = 0.05,
        alpha: float = 4.0,
        skip_weight: float = 1.0,
        iterations: int = 15,
        seed: int = 7,
        threads: int = 2,
    ) -> None:
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.skip_weight, self.iterations, self.seed, self.threads = skip_weight, iterations, seed, threads

    def params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "skip_weight": self.skip_weight,
            "iterations": self.iterations,
            "seed": self.seed,
            "threads": self.threads,
        }

    def fit(self, data: TrainingData) -> ALSModel:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self._set_index(data.learners["learner_id"], data.courses["course_id"])
        data = opted_in_only(data)  # privacy tiers: only opted-in behaviour is modelled across learners
        matrix = interaction_matrix(
            data.interactions, self.learners, self.courses, skip_weight=self.skip_weight
        )

        with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads thrash
            als = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.threads,
            )
            als.fit(matrix, show_progress=False)
        self.user_factors = np.asarray(als.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(als.item_factors, dtype=np.float32)
        return self

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        users = np.zeros((len(rows), self.item_factors.shape[1]), dtype=np.float32)
        known = rows >= 0
        users[known] = self.user_factors[rows[known]]
        return users @ self.item_factors.T

    def arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_factors, self.item_factors = arrays["user_factors"], arrays["item_factors"]


def _one_hot(rows: np.ndarray, values: pd.Series, prefix: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(rows, local columns, vocabulary) of one categorical column; nulls get no feature."""
    codes, vocab = pd.factorize(values, use_na_sentinel=True)
    keep = codes >= 0
    return rows[keep], codes[keep], [f"{prefix}:{v}" for v in vocab]


def _assemble(index: IdIndex, blocks: list[tuple[np.ndarray, np.ndarray, list[str]]]) -> sp.csr_matrix:
    """Identity + feature blocks as one row-normalised CSR (rows in ``index`` order)."""
    n = len(index)
    rows, cols = [np.arange(n)], [np.arange(n)]
    offset = n
    for block_rows, block_cols, vocab in blocks:
        rows.append(block_rows)
        cols.append(block_cols + offset)
        offset += len(vocab)
    r, c = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n, offset))
    norms = np.asarray(matrix.sum(axis=1)).ravel()
    return (sp.diags(1.0 / np.maximum(norms, 1.0)).astype(np.float32) @ matrix).tocsr()


def learner_feature_matrix(data: TrainingData, index: IdIndex) -> sp.csr_matrix:
    """LightFM learner features: career goal, role, interest area, preferred format and a level
    bucket (lo/mid/hi) for each skill the learner has above zero. Vectorised: 1M learners x 107
    skills is a few numpy passes."""
    learners = data.learners
    rows = index.positions(learners["learner_id"].to_numpy())
    blocks = [
        _one_hot(rows, learners["career_goal"], "goal"),
        _one_hot(rows, learners["current_role"], "role"),
        _one_hot(rows, learners["interest_area"], "interest"),
    ]
    feats = data.learner_features
    if len(feats):
        frows = index.positions(feats["learner_id"].to_numpy())
        ok = frows >= 0
        blocks.append(_one_hot(frows[ok], feats["preferred_format"][ok].reset_index(drop=True), "format"))
        n_skills = len(data.skill_ids)
        vectors = feats["skill_vector"][ok].to_numpy()
        if n_skills and len(vectors):
            matrix = np.zeros((len(vectors), n_skills), np.float32)
            lengths = np.array([len(v) if v is not None else 0 for v in vectors])
            good = lengths == n_skills
            if good.any():
                matrix[good] = np.stack([np.asarray(v, np.float32) for v in vectors[good]])
            r, k = np.nonzero(matrix > 0)
            bucket = np.digitize(matrix[r, k], [0.34, 0.67])
            vocab = [f"skill:{sid}:{b}" for sid in data.skill_ids for b in ("lo", "mid", "hi")]
            blocks.append((frows[ok][r], k * 3 + bucket, vocab))
    return _assemble(index, blocks)


def course_feature_matrix(data: TrainingData, index: IdIndex) -> sp.csr_matrix:
    """LightFM course features: skill tags, format, difficulty (rounded), domain and level."""
    courses = data.courses
    rows = index.positions(courses["course_id"].to_numpy())
    tags = courses[["course_id", "skill_tags"]].explode("skill_tags")
    tag_rows = index.positions(tags["course_id"].to_numpy())
    difficulty = courses["difficulty_score"].astype(float).round().astype("Int64").astype(str)
    return _assemble(
        index,
        [
            _one_hot(tag_rows, tags["skill_tags"].reset_index(drop=True), "tag"),
            _one_hot(rows, courses["format"], "format"),
            _one_hot(rows, difficulty, "difficulty"),
            _one_hot(rows, courses["domain"], "domain"),
            _one_hot(rows, courses["level"], "level"),
        ],
    )


class LightFMModel(Recommender):
    """LightFM hybrid with WARP loss: learner and course embeddings are sums of identity and
    feature embeddings, so learners with few interactions still get a representation from their
    goal, role, format and skills (the cold-start case)."""

    kind = "lightfm"
    signals = ("collaborative", "skills")

    def __init__(
        self,
        components: int = 32,
        epochs: int = 20,
        learning_rate: float = 0.05,
        item_alpha: float = 1e-6,
        user_alpha: float = 1e-6,
        seed: int = 7,
        threads: int = 2,
    ) -> None:
        self.components, self.epochs, self.learning_rate = components, epochs, learning_rate
        self.item_alpha, self.user_alpha, self.seed, self.threads = item_alpha, user_alpha, seed, threads

    def params(self) -> dict[str, Any]:
        return {
            "components": self.components,
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "item_alpha": self.item_alpha,
            "user_alpha": self.user_alpha,
            "seed": self.seed,
            "threads": self.threads,
        }

    def fit(self, data: TrainingData) -> LightFMModel:
        from lightfm import LightFM

        self._set_index(data.learners["learner_id"], data.courses["course_id"])
        data = opted_in_only(data)  # privacy tiers: behaviour and inferred features of opted-in learners
        user_features = learner_feature_matrix(data, self.learners)
        item_features = course_feature_matrix(data, self.courses)
        positive = data.interactions.loc[positive_mask(data.interactions)]
        matrix = interaction_matrix(positive, self.learners, self.courses).tocoo()
        model = LightFM(
            no_components=self.components,
            loss="warp",
            learning_rate=self.learning_rate,
            item_alpha=self.item_alpha,
            user_alpha=self.user_alpha,
            random_state=self.seed,
        )
        binary = sp.coo_matrix((np.ones_like(matrix.data), (matrix.row, matrix.col)), shape=matrix.shape)
        model.fit(
            binary,
            user_features=user_features,
            item_features=item_features,
            sample_weight=sp.coo_matrix(
                (np.log1p(matrix.data), (matrix.row, matrix.col)), shape=matrix.shape
            ),
            epochs=self.epochs,
            num_threads=self.threads,
        )
        _, self.user_embeddings = model.get_user_representations(user_features)
        self.item_biases, self.item_embeddings = model.get_item_representations(item_features)
        self.user_embeddings = self.user_embeddings.astype(np.float32)
        self.item_embeddings = self.item_embeddings.astype(np.float32)
        self.item_biases = self.item_biases.astype(np.float32)
        return self

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        users = np.zeros((len(rows), self.item_embeddings.shape[1]), dtype=np.float32)
        known = rows >= 0
        users[known] = self.user_embeddings[rows[known]]
        return users @ self.item_embeddings.T + self.item_biases

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "user_embeddings": self.user_embeddings,
            "item_embeddings": self.item_embeddings,
            "item_biases": self.item_biases,
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_embeddings = arrays["user_embeddings"]
        self.item_embeddings = arrays["item_embeddings"]
        self.item_biases = arrays["item_biases"]


# --- content-based ---------------------------------------------------------------------------------
Encoder = Callable[[list[str]], np.ndarray]


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-9)).astype(np.float32)


@dataclass(frozen=True)
class ContentInputs:
    """What the content model needs besides the training frames: unit-norm course embeddings in
    ``data.courses`` order (from the vector index), and embeddings of each career goal's text and
    of each skill (in ``data.skill_ids`` order)."""

    course_embeddings: np.ndarray  # [C, D]
    goal_names: tuple[str, ...]
    goal_embeddings: np.ndarray  # [n_goals, D]
    skill_embeddings: np.ndarray  # [n_skills, D]


class ContentModel(Recommender):
    """Cosine similarity between a learner vector and each course embedding.

    learner vector = unit(history) + unit(goal) + unit(skills), where history is the
    weight-averaged embedding of courses the learner liked (skips subtract), goal the embedding
    of the declared career goal and skills the skill-vector-weighted sum of skill embeddings. A
    learner with none of the three (unknown, skipped onboarding, no events) scores zeros.
    """

    kind = "content"
    signals = ("content", "skills")

    def fit(self, data: TrainingData, inputs: ContentInputs | None = None) -> ContentModel:  # type: ignore[override]
        if inputs is None:
            raise ValueError("the content model needs ContentInputs (course, goal and skill embeddings)")
        self._set_index(data.learners["learner_id"], data.courses["course_id"])
        embeddings = np.zeros_like(inputs.course_embeddings, dtype=np.float32)
        embeddings[self.courses.positions(data.courses["course_id"].to_numpy())] = inputs.course_embeddings
        self.course_embeddings = normalise_rows(embeddings)
        history = interaction_matrix(data.interactions, self.learners, self.courses, skip_weight=1.0)
        self.history_profile = _rows_unit(history @ self.course_embeddings)
        goals = IdIndex(inputs.goal_names)
        goal_of = goals.positions(data.learners["career_goal"].fillna("").to_numpy())
        goal_vec = np.zeros((len(self.learners), self.course_embeddings.shape[1]), np.float32)
        learner_rows = self.learners.positions(data.learners["learner_id"].to_numpy())
        goal_emb = normalise_rows(inputs.goal_embeddings)[np.argsort(np.asarray(inputs.goal_names))]
        has_goal = goal_of >= 0
        goal_vec[learner_rows[has_goal]] = goal_emb[goal_of[has_goal]]
        skills = np.zeros_like(goal_vec)
        feats = opted_in_only(data).learner_features  # the inferred skill vector: opted-in only
        if len(feats) and len(inputs.skill_embeddings):
            rows = self.learners.positions(feats["learner_id"].to_numpy())
            vectors = np.array(
                [
                    v
                    if v is not None and len(v) == len(inputs.skill_embeddings)
                    else np.zeros(len(inputs.skill_embeddings))
                    for v in feats["skill_vector"]
                ],
                dtype=np.float32,
            )
            ok = rows >= 0
            skills[rows[ok]] = _rows_unit(vectors[ok] @ normalise_rows(inputs.skill_embeddings))
        self.learner_vectors = (self.history_profile + goal_vec + skills).astype(np.float16)
        return self

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        vectors = np.zeros((len(rows), self.course_embeddings.shape[1]), np.float32)
        known = rows >= 0
        vectors[known] = self.learner_vectors[rows[known]]
        return normalise_rows(vectors) @ self.course_embeddings.T

    def arrays(self) -> dict[str, np.ndarray]:
        return {"course_embeddings": self.course_embeddings, "learner_vectors": self.learner_vectors}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.course_embeddings, self.learner_vectors = arrays["course_embeddings"], arrays["learner_vectors"]


def _rows_unit(matrix: np.ndarray | sp.spmatrix) -> np.ndarray:
    return normalise_rows(np.asarray(matrix, dtype=np.float32))


# --- the blend -------------------------------------------------------------------------------------
def standardise(scores: np.ndarray) -> np.ndarray:
    """Per-learner z-scores: puts every model's scores on one scale before they are combined."""
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return ((scores - mean) / np.maximum(std, 1e-6)).astype(np.float32)


class BlendModel(Recommender):
    """A linear ranker over the component models' standardised scores, each also crossed with
    the learner's log interaction count (so the weights can shift from content/popularity to
    collaborative signals as history grows). The weights are learned by logistic regression on a
    validation window (:func:`ml.blend.fit_blend`), never set by hand."""

    kind = "blend"

    def __init__(
        self, component_names: Sequence[str] = (), weights: Sequence[float] = (), bias: float = 0.0
    ) -> None:
        self.component_names = tuple(component_names)
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = bias
        self.components: dict[str, Recommender] = {}

    @property
    def signals(self) -> tuple[str, ...]:  # type: ignore[override]
        seen: dict[str, None] = {}
        for name in self.component_names:
            for signal in self.components[name].signals:
                seen[signal] = None
        return tuple(seen)

    @classmethod
    def from_components(
        cls,
        components: dict[str, Recommender],
        history: pd.Series,
        weights: Sequence[float],
        bias: float = 0.0,
    ) -> BlendModel:
        """``history``: interactions per learner id at fit time (missing = 0)."""
        blend = cls(tuple(components), weights, bias)
        blend.components = dict(components)
        first = next(iter(components.values()))
        blend._set_index(history.index.to_numpy(), first.course_ids)
        blend.history = np.log1p(history.reindex(blend.learners.ids).fillna(0).to_numpy(np.float32))
        return blend

    def features(self, learner_ids: Sequence[str]) -> np.ndarray:
        """[n_learners, n_courses, n_features]: z-scores, then z-scores x log(1 + history)."""
        rows = self.learners.positions(list(learner_ids))
        # unknown learners (row -1) read the appended 0: also right when no learner was known at fit time
        history = np.append(self.history, np.float32(0.0))[rows].astype(np.float32)
        z = [standardise(self.components[name].score(learner_ids)) for name in self.component_names]
        return np.stack(z + [zi * history[:, None] for zi in z], axis=2)

    def score_rows(self, rows: np.ndarray) -> np.ndarray:  # pragma: no cover - score() is overridden
        raise NotImplementedError

    def score(self, learner_ids: Sequence[str]) -> np.ndarray:
        return (self.features(learner_ids) @ self.weights + self.bias).astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {
            "component_names": list(self.component_names),
            "weights": self.weights.tolist(),
            "bias": self.bias,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        return {"history": self.history}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.history = arrays["history"]

    def save(self, path: Path) -> Path:
        super().save(path)
        for name, model in self.components.items():
            model.save(path / "components" / name)
        return path

    def load_components(self, path: Path) -> None:
        self.components = {name: load_model(path / "components" / name) for name in self.component_names}


class ModelScorer:
    """A loaded model as a :class:`ml.scoring.CandidateScorer` with its registry version."""

    def __init__(self, model: Recommender, model_version: str) -> None:
        self.model = model
        self.model_version = model_version
        self.signals = tuple(model.signals)
        self.course_ids = np.asarray(model.course_ids)

    def score(self, learner_ids: Sequence[str]) -> np.ndarray:
        return self.model.score(learner_ids)


MODEL_KINDS: dict[str, type[Recommender]] = {
    cls.kind: cls for cls in (PopularityModel, RandomModel, ALSModel, LightFMModel, ContentModel, BlendModel)
}
