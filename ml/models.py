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

from ml.data import TrainingData, opted_in_features, opted_in_only, warn_if_nothing_to_learn

MODEL_FILE = "model.json"
ARRAYS_FILE = "arrays.npz"


class IdIndex:
    """Sorted string ids and a vectorised id -> row lookup (-1 for unknown ids)."""

    def __init__(self, ids: Sequence[str] | np.ndarray | pd.Series) -> None:
        ids = np.asarray(ids).astype(str).astype(object)
        self._lookup = pd.Index(ids)
        # ids mostly arrive sorted and unique (the dimension's order, a saved model's index):
        # checked in C (1M ids: 0.3 s in all, against 1.7 s for a Python sorted(set()) every time,
        # and every model, stage and evaluation builds these indexes)
        if not (self._lookup.is_monotonic_increasing and self._lookup.is_unique):
            self._lookup = pd.Index(sorted(set(ids)), dtype=object)
        self.ids = self._lookup.to_numpy(dtype=object)

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, ids: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
        if isinstance(ids, pd.Series) and isinstance(ids.dtype, pd.CategoricalDtype):
            # the interactions' id columns are categorical (ml.data): look each category up once
            # and gather by code instead of hashing 20M strings per call
            by_category = self._lookup.get_indexer(ids.cat.categories.astype(object))
            return np.append(by_category, -1)[ids.cat.codes.to_numpy()].astype(np.int64)
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
    rows = learners.positions(interactions["learner_id"])
    cols = courses.positions(interactions["course_id"])
    weight = interactions["weight"].to_numpy(np.float32).copy()
    skipped = interactions["skipped"].to_numpy(bool) & (weight <= 0)
    weight[skipped] = -skip_weight
    keep = (rows >= 0) & (cols >= 0) & (weight != 0)
    matrix = sp.csr_matrix(
        (weight[keep], (rows[keep], cols[keep])), shape=(len(learners), len(courses)), dtype=np.float32
    )
    matrix.sum_duplicates()
    return matrix


def pair_matrix(frame: pd.DataFrame, learners: IdIndex, courses: IdIndex) -> sp.csr_matrix:
    """Learners x courses 0/1 CSR of the pairs in ``frame`` (any weight; ids outside the indexes
    dropped): "already touched" and "wanted" sets, row-sliceable without a Python group-by."""
    rows = learners.positions(frame["learner_id"])
    cols = courses.positions(frame["course_id"])
    keep = (rows >= 0) & (cols >= 0)
    data = np.ones(int(keep.sum()), dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows[keep], cols[keep])), shape=(len(learners), len(courses)))
    matrix.data[:] = 1.0
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
        cols = self.courses.positions(positive["course_id"])
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
def _rows_from(previous: np.ndarray, positions: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """``fresh`` with the rows whose ``positions`` in ``previous`` are known (>= 0) copied over:
    how an earlier cut's parameters, matched by id, start a later cut's fit."""
    known = positions >= 0
    fresh[known] = previous[positions[known]]
    return fresh


class ALSModel(Recommender):
    """Implicit ALS (Hu, Koren, Volinsky) on the confidence matrix: confidence = alpha * weight,
    skips without watching as negative evidence with confidence ``skip_weight``.

    Only learners with modelled behaviour are solved (the others keep zero factors: ALS would
    drive them to zero anyway, at the cost of a solve per learner per iteration). A fit can warm
    start from a model of an earlier cut (factors matched by learner / course id): the nightly
    time split fits the validation cut from scratch with ``iterations`` and each later cut from
    the one before with ``warm_iterations`` (ALS from a near-solution converges in a few sweeps).
    Sweeps measured on the bench's marts at 100k learners (NDCG@10 of the validation cut /
    the warm-started test cut): 15+5 sweeps 0.0969 / 0.1171, 10+3 0.0961 / 0.1154, 8+2
    0.0949 / 0.1155, 5+2 0.0930 / 0.1142; at 1M a sweep costs ~7 s of the nightly ALS task.
    """

    kind = "als"
    signals = ("collaborative",)

    def __init__(
        self,
        factors: int = 48,
        regularization: float = 0.05,
        alpha: float = 4.0,
        skip_weight: float = 1.0,
        iterations: int = 8,
        warm_iterations: int = 2,
        seed: int = 7,
        threads: int = 2,
    ) -> None:
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.skip_weight, self.iterations, self.seed, self.threads = skip_weight, iterations, seed, threads
        self.warm_iterations = warm_iterations

    def params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "skip_weight": self.skip_weight,
            "iterations": self.iterations,
            "warm_iterations": self.warm_iterations,
            "seed": self.seed,
            "threads": self.threads,
        }

    def fit(self, data: TrainingData, warm_start: ALSModel | None = None) -> ALSModel:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self._set_index(data.learners["learner_id"], data.courses["course_id"])
        everyone, data = data, opted_in_only(data)  # privacy tiers: only opted-in behaviour is modelled
        warn_if_nothing_to_learn("ALS", everyone, data.interactions)
        matrix = interaction_matrix(
            data.interactions, self.learners, self.courses, skip_weight=self.skip_weight
        )
        active = np.flatnonzero(np.diff(matrix.indptr) > 0)
        rng = np.random.default_rng(self.seed)
        users = rng.random((len(active), self.factors), dtype=np.float32) * np.float32(0.01)
        items = rng.random((len(self.courses), self.factors), dtype=np.float32) * np.float32(0.01)
        iterations = self.iterations
        if warm_start is not None:
            users = _rows_from(
                warm_start.user_factors, warm_start.learners.positions(self.learners.ids[active]), users
            )
            items = _rows_from(warm_start.item_factors, warm_start.courses.positions(self.courses.ids), items)
            iterations = self.warm_iterations
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads thrash
            als = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=iterations,
                random_state=self.seed,
                num_threads=self.threads,
                dtype=np.float32,
            )
            als.user_factors, als.item_factors = users, items
            als.fit(matrix[active], show_progress=False)
        self.user_factors = np.zeros((len(self.learners), self.factors), dtype=np.float32)
        self.user_factors[active] = als.user_factors
        self.item_factors = np.asarray(als.item_factors, dtype=np.float32)
        self.fit_log = {"iterations": iterations, "learners_solved": len(active)}
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


@dataclass(frozen=True)
class FeatureMatrix:
    """LightFM features: columns are one identity per row of ``index`` (in index order), then
    ``vocabulary`` (named features). The names let a later cut's model inherit an earlier one's
    parameters column by column (warm start) although rows and vocabulary may have grown."""

    matrix: sp.csr_matrix
    index: IdIndex
    vocabulary: tuple[str, ...]

    def columns_in(self, previous: FeatureMatrix) -> np.ndarray:
        """Position of each of this matrix's columns among ``previous``'s (-1 = new column)."""
        identity = previous.index.positions(self.index.ids)
        named = pd.Index(previous.vocabulary).get_indexer(list(self.vocabulary))
        return np.concatenate([identity, np.where(named >= 0, named + len(previous.index), -1)])


def _assemble(index: IdIndex, blocks: list[tuple[np.ndarray, np.ndarray, list[str]]]) -> FeatureMatrix:
    """Identity + feature blocks as one row-normalised float32 CSR (rows in ``index`` order)."""
    n = len(index)
    rows, cols = [np.arange(n)], [np.arange(n)]
    vocabulary: list[str] = []
    for block_rows, block_cols, vocab in blocks:
        rows.append(block_rows)
        cols.append(block_cols + n + len(vocabulary))
        vocabulary.extend(vocab)
    r, c = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n, n + len(vocabulary)))
    norms = np.asarray(matrix.sum(axis=1)).ravel()
    matrix = (sp.diags(1.0 / np.maximum(norms, 1.0)).astype(np.float32) @ matrix).tocsr()
    return FeatureMatrix(matrix.astype(np.float32), index, tuple(vocabulary))


def learner_feature_matrix(data: TrainingData, index: IdIndex) -> FeatureMatrix:
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


def course_feature_matrix(data: TrainingData, index: IdIndex) -> FeatureMatrix:
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


#: LightFM's trainable arrays: (embeddings, biases) x (parameters, adagrad accumulators, momentum)
_LIGHTFM_STATE = (
    "embeddings",
    "embedding_gradients",
    "embedding_momentum",
    "biases",
    "bias_gradients",
    "bias_momentum",
)

#: ``monitor(model) -> metric`` (higher = better) on held-out interactions: the early-stopping signal
Monitor = Callable[["LightFMModel"], float]


class LightFMModel(Recommender):
    """LightFM hybrid with WARP loss: learner and course embeddings are sums of identity and
    feature embeddings, so learners with few interactions still get a representation from their
    goal, role, format and skills (the cold-start case).

    Epochs are not a fixed guess: a fit from scratch runs up to ``epochs`` and, given a
    ``monitor`` (NDCG@k on the validation window, see :func:`ml.training.fit_stages`), stops
    ``patience`` epochs after the best one and keeps the best state; an epoch is better only if it
    gains ``min_improvement`` (relative) over the best: NDCG@10 on the bench's marts at 100k
    learners crept from 0.1575 (epoch 3) to 0.1593 (epoch 13) and at 1M an epoch costs ~30 s.
    A fit with ``warm_start``
    (the model of the previous, earlier cut) inherits its parameters and adagrad state feature by
    feature (new learners, courses and feature values start fresh) and runs ``warm_epochs`` over
    its own cut: the nightly time split pays for convergence once, not at every cut.
    ``max_sampled`` bounds WARP's negative sampling per positive (its cost grows as the model
    improves)."""

    kind = "lightfm"
    signals = ("collaborative", "skills")

    def __init__(
        self,
        components: int = 32,
        epochs: int = 20,
        learning_rate: float = 0.1,
        item_alpha: float = 1e-6,
        user_alpha: float = 1e-6,
        max_sampled: int = 10,
        patience: int = 2,
        warm_epochs: int = 1,
        seed: int = 7,
        threads: int = 1,  # more threads race (Hogwild): see Settings.lightfm_threads
        min_improvement: float = 0.005,
    ) -> None:
        self.components, self.epochs, self.learning_rate = components, epochs, learning_rate
        self.item_alpha, self.user_alpha, self.seed, self.threads = item_alpha, user_alpha, seed, threads
        self.max_sampled, self.patience, self.warm_epochs = max_sampled, patience, warm_epochs
        self.min_improvement = min_improvement
        self._state: tuple[Any, FeatureMatrix, FeatureMatrix] | None = None

    def params(self) -> dict[str, Any]:
        return {
            "components": self.components,
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "item_alpha": self.item_alpha,
            "user_alpha": self.user_alpha,
            "max_sampled": self.max_sampled,
            "patience": self.patience,
            "warm_epochs": self.warm_epochs,
            "seed": self.seed,
            "threads": self.threads,
            "min_improvement": self.min_improvement,
        }

    def fit(
        self, data: TrainingData, warm_start: LightFMModel | None = None, monitor: Monitor | None = None
    ) -> LightFMModel:
        from lightfm import LightFM

        self._set_index(data.learners["learner_id"], data.courses["course_id"])
        everyone, data = data, opted_in_only(data)  # privacy tiers: behaviour, inferred features of opted-in
        users = learner_feature_matrix(data, self.learners)
        items = course_feature_matrix(data, self.courses)
        positive = data.interactions.loc[positive_mask(data.interactions)]
        warn_if_nothing_to_learn("LightFM", everyone, positive)
        matrix = interaction_matrix(positive, self.learners, self.courses).tocoo()
        binary = sp.coo_matrix((np.ones_like(matrix.data), (matrix.row, matrix.col)), shape=matrix.shape)
        weights = sp.coo_matrix((np.log1p(matrix.data), (matrix.row, matrix.col)), shape=matrix.shape)
        model = LightFM(
            no_components=self.components,
            loss="warp",
            learning_rate=self.learning_rate,
            item_alpha=self.item_alpha,
            user_alpha=self.user_alpha,
            max_sampled=self.max_sampled,
            random_state=self.seed,
        )
        model._initialize(self.components, items.matrix.shape[1], users.matrix.shape[1])
        warm = warm_start is not None and warm_start._state is not None
        if warm:
            assert warm_start is not None and warm_start._state is not None
            previous, previous_users, previous_items = warm_start._state
            warm_start._state = None  # handed over: the earlier cut's training state is not kept twice
            for side, now, before in (("user", users, previous_users), ("item", items, previous_items)):
                columns = now.columns_in(before)
                for name in _LIGHTFM_STATE:
                    attr = f"{side}_{name}"
                    setattr(model, attr, _rows_from(getattr(previous, attr), columns, getattr(model, attr)))
        self._model, self._users, self._items = model, users, items
        if warm:
            self._train(binary, weights, self.warm_epochs)
            self.fit_log = {"epochs": self.warm_epochs, "warm_start": 1}
        else:
            self.fit_log = self._fit_early_stopping(binary, weights, monitor)
        self._state = (model, users, items)
        del self._model, self._users, self._items
        return self

    def _train(self, binary: sp.coo_matrix, weights: sp.coo_matrix, epochs: int) -> None:
        self._model.fit_partial(
            binary,
            user_features=self._users.matrix,
            item_features=self._items.matrix,
            sample_weight=weights,
            epochs=epochs,
            num_threads=self.threads,
        )
        _, users = self._model.get_user_representations(self._users.matrix)
        biases, items = self._model.get_item_representations(self._items.matrix)
        self.user_embeddings = users.astype(np.float32)
        self.item_embeddings = items.astype(np.float32)
        self.item_biases = biases.astype(np.float32)

    def _fit_early_stopping(
        self, binary: sp.coo_matrix, weights: sp.coo_matrix, monitor: Monitor | None
    ) -> dict[str, float]:
        if monitor is None:
            self._train(binary, weights, self.epochs)
            return {"epochs": self.epochs}
        best, best_epoch, best_state = -np.inf, 0, None
        for epoch in range(1, self.epochs + 1):
            self._train(binary, weights, 1)
            value = monitor(self)
            if epoch == 1 or value > best + abs(best) * self.min_improvement:
                best, best_epoch = value, epoch
                best_state = self._snapshot()
            elif epoch - best_epoch >= self.patience:
                break
        if best_state is not None and best_epoch != epoch:
            self._restore(best_state)
        return {"epochs": best_epoch, "epochs_run": epoch, "monitor_best": float(best)}

    def _snapshot(self) -> dict[str, np.ndarray]:
        state = {
            f"{side}_{name}": getattr(self._model, f"{side}_{name}").copy()
            for side in ("user", "item")
            for name in _LIGHTFM_STATE
        }
        state.update(user_out=self.user_embeddings, item_out=self.item_embeddings, bias_out=self.item_biases)
        return state

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.user_embeddings = state.pop("user_out")
        self.item_embeddings = state.pop("item_out")
        self.item_biases = state.pop("bias_out")
        for attr, value in state.items():
            setattr(self._model, attr, value)

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
    """Unit-norm float32 rows (zero rows stay zero). Norms by einsum and an in-place division: no
    ``|x|**2`` or second float32 copy of the matrix (1M x 384 learner rows are normalised several
    times per content fit and once per scored chunk)."""
    out = np.array(matrix, dtype=np.float32)
    out /= np.maximum(np.sqrt(np.einsum("ij,ij->i", out, out)), 1e-9)[:, None]
    return out


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
        learner_vectors = _rows_unit(history @ self.course_embeddings)  # the history part
        goals = IdIndex(inputs.goal_names)
        goal_of = goals.positions(data.learners["career_goal"].fillna("").to_numpy())
        goal_vec = np.zeros((len(self.learners), self.course_embeddings.shape[1]), np.float32)
        learner_rows = self.learners.positions(data.learners["learner_id"].to_numpy())
        goal_emb = normalise_rows(inputs.goal_embeddings)[np.argsort(np.asarray(inputs.goal_names))]
        has_goal = goal_of >= 0
        goal_vec[learner_rows[has_goal]] = goal_emb[goal_of[has_goal]]
        skills = np.zeros_like(goal_vec)
        feats = opted_in_features(data)  # the inferred skill vector: opted-in only
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
        learner_vectors += goal_vec  # in place: three 1M x 384 float32 temporaries fewer at 1M
        learner_vectors += skills
        self.learner_vectors = learner_vectors.astype(np.float16)
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


class CatalogAligned(Recommender):
    """A model fitted on an earlier catalogue, scored over ``course_ids``: courses it never saw
    rank below all it knows (a champion re-scored on tonight's window, for the promotion gate)."""

    kind = "catalog_aligned"

    def __init__(self, model: Recommender, course_ids: np.ndarray) -> None:
        self.model, self.course_ids = model, np.asarray(course_ids)
        self.signals = model.signals  # type: ignore[misc]
        self._columns = IdIndex(model.course_ids).positions(self.course_ids)

    def score(self, learner_ids: Sequence[str]) -> np.ndarray:
        inner = self.model.score(learner_ids)
        floor = inner.min() - 1.0 if inner.size else 0.0
        out = np.full((len(learner_ids), len(self.course_ids)), floor, np.float32)
        known = self._columns >= 0
        out[:, known] = inner[:, self._columns[known]]
        return out


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

    def _history(self, learner_ids: Sequence[str]) -> np.ndarray:
        rows = self.learners.positions(list(learner_ids))
        # unknown learners (row -1) read the appended 0: also right when no learner was known at fit time
        return np.append(self.history, np.float32(0.0))[rows].astype(np.float32)

    def features(self, learner_ids: Sequence[str]) -> np.ndarray:
        """[n_learners, n_courses, n_features]: z-scores, then z-scores x log(1 + history)."""
        history = self._history(learner_ids)
        z = [standardise(self.components[name].score(learner_ids)) for name in self.component_names]
        return np.stack(z + [zi * history[:, None] for zi in z], axis=2)

    def combine(self, component_scores: dict[str, np.ndarray], learner_ids: Sequence[str]) -> np.ndarray:
        """The blend score from the components' scores of these learners (``features @ weights +
        bias`` without materialising the feature stack; lets an evaluation that has already
        scored the components reuse them)."""
        history = self._history(learner_ids)[:, None]
        n = len(self.component_names)
        out: np.ndarray | None = None
        for j, name in enumerate(self.component_names):
            term = standardise(component_scores[name]) * (self.weights[j] + self.weights[n + j] * history)
            out = term if out is None else out + term
        assert out is not None, "a blend needs components"
        return (out + np.float32(self.bias)).astype(np.float32)

    def score_rows(self, rows: np.ndarray) -> np.ndarray:  # pragma: no cover - score() is overridden
        raise NotImplementedError

    def score(self, learner_ids: Sequence[str]) -> np.ndarray:
        scores = {name: self.components[name].score(learner_ids) for name in self.component_names}
        return self.combine(scores, learner_ids)

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
