"""Course embeddings (MiniLM, offline) and the vector index that stores them.

A course is embedded from its skills (by name), title and description, in that order: MiniLM
reads 256 word pieces and half of real course texts are longer, so what names the course's
subject comes first and only the description's tail can be cut. Each stored vector carries the
``content_hash`` of that text (and the model name), so a nightly sync re-embeds only courses that
are new or whose text changed: cost follows catalogue changes, not catalogue size.

Index backends (``LEARNREC_VECTOR_INDEX``): ``warehouse`` (embedded default: the table
``features.course_embeddings`` with exact cosine search in numpy, which dbt joins into
``dim_courses`` as embedding_vector / rag_indexed_at) and ``weaviate`` (production: one object per
course, uuid5 of the course id, so upserts are idempotent); both through the platform's one
vector-index adapter, :mod:`learnrec.vectors`, which the Q&A chunk index uses too.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from learnrec.settings import Settings
from learnrec.tables import COURSE_EMBEDDINGS
from learnrec.vectors import DIMENSIONS, MODEL_NAME, WarehouseVectorStore, WeaviateVectorStore, cosine_top
from learnrec.warehouse import Warehouse

EMBEDDINGS_TABLE = COURSE_EMBEDDINGS
WEAVIATE_COLLECTION = "Course"
EMBEDDING_SCHEMA = pa.schema(
    [
        pa.field("course_id", pa.string(), nullable=False),
        pa.field("embedding_vector", pa.list_(pa.float64()), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("indexed_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

Encoder = Callable[[list[str]], np.ndarray]


#: words of the description embedded (about 200 word pieces with the skills and the title: the
#: text stays inside MiniLM's window instead of being cut wherever the tokenizer stops)
DESCRIPTION_WORDS = 150


def course_text(
    title: str,
    description: str,
    skill_tags: Sequence[str] | None,
    skill_names: Mapping[str, str] | None = None,
) -> str:
    """The text a course is embedded from (and hashed over): skill names (taxonomy ids mean
    nothing to a text model; an id without a name is kept as it is), title, description."""
    names = skill_names or {}
    tags = [names.get(t, t) for t in skill_tags] if skill_tags is not None else []
    words = (description or "").split()
    return f"Skills: {', '.join(tags) or 'none'}. {title}. {' '.join(words[:DESCRIPTION_WORDS])}".rstrip()


def content_hash(text: str, model: str = MODEL_NAME) -> str:
    return hashlib.sha256(f"{model}\x1f{text}".encode()).hexdigest()


class VectorIndex(Protocol):
    """Where course vectors live. ``stored()`` -> frame course_id, content_hash, model;
    ``vectors(ids)`` -> [len(ids), D] (zeros for ids not stored); ``upsert`` replaces by course_id;
    ``search`` returns the k nearest course ids by cosine similarity."""

    def stored(self) -> pd.DataFrame: ...

    def vectors(self, course_ids: Sequence[str]) -> np.ndarray: ...

    def upsert(
        self, course_ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str], indexed_at: datetime
    ) -> None: ...

    def search(self, vector: np.ndarray, k: int = 10) -> list[tuple[str, float]]: ...


def _rows(
    course_ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str], indexed_at: datetime
) -> list[dict[str, object]]:
    return [
        {
            "course_id": course,
            "embedding_vector": vector.astype(float).tolist(),
            "content_hash": digest,
            "model": MODEL_NAME,
            "indexed_at": indexed_at,
        }
        for course, vector, digest in zip(course_ids, vectors, hashes, strict=True)
    ]


class WarehouseVectorIndex:
    """Embedded default: ``features.course_embeddings`` in the warehouse, exact cosine search."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.store = WarehouseVectorStore(warehouse, EMBEDDINGS_TABLE, EMBEDDING_SCHEMA)

    def stored(self) -> pd.DataFrame:
        return self.store.rows(["course_id", "content_hash", "model"]).to_pandas()

    def vectors(self, course_ids: Sequence[str]) -> np.ndarray:
        frame = self.store.rows(["course_id", "embedding_vector"]).to_pandas()
        found = frame.drop_duplicates("course_id").set_index("course_id")["embedding_vector"]
        out = np.zeros((len(course_ids), DIMENSIONS), np.float32)
        found = found.reindex(list(course_ids))
        present = found.notna().to_numpy()
        if present.any():
            out[present] = np.asarray(found[present].tolist(), dtype=np.float32)
        return out

    def upsert(
        self, course_ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str], indexed_at: datetime
    ) -> None:
        self.store.apply(
            _rows(course_ids, vectors, hashes, indexed_at), dict(zip(course_ids, hashes, strict=True)), []
        )

    def search(self, vector: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        table = self.store.rows(["course_id", "embedding_vector"])
        ids = table.column("course_id").to_pylist()
        matrix = np.asarray(table.column("embedding_vector").to_pylist(), dtype=np.float32).reshape(
            len(ids), DIMENSIONS
        )
        return [(ids[i], score) for i, score in cosine_top(matrix, vector, k)]

    def close(self) -> None:
        pass


#: the Weaviate properties of a course vector (learnrec.vectors kinds)
COURSE_PROPERTIES = {"course_id": "exact", "content_hash": "exact", "model": "exact", "indexed_at": "date"}


def _uuid(course_id: str) -> str:
    """One object per course whatever its content: re-embedding overwrites it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"learnrec/course/{course_id}"))


class WeaviateVectorIndex:
    """Production: a Weaviate collection with one object per course (vector supplied by us)."""

    def __init__(self, settings: Settings) -> None:
        self.store = WeaviateVectorStore(settings, WEAVIATE_COLLECTION, COURSE_PROPERTIES, id_field="uuid")

    def stored(self) -> pd.DataFrame:
        columns = ["course_id", "content_hash", "model"]
        objects = self.store.collection.iterator(return_properties=columns)
        return pd.DataFrame([{k: o.properties.get(k) for k in columns} for o in objects], columns=columns)

    def vectors(self, course_ids: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(course_ids), DIMENSIONS), np.float32)
        for i, course in enumerate(course_ids):
            obj = self.store.collection.query.fetch_object_by_id(_uuid(course), include_vector=True)
            if obj is not None:
                out[i] = np.asarray(obj.vector["default"], dtype=np.float32)
        return out

    def upsert(
        self, course_ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str], indexed_at: datetime
    ) -> None:
        rows = [
            row | {"uuid": _uuid(str(row["course_id"]))}
            for row in _rows(course_ids, vectors, hashes, indexed_at)
        ]
        self.store.apply(rows, dict(zip(course_ids, hashes, strict=True)), [])

    def search(self, vector: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        return [(props["course_id"], score) for props, score in self.store.search(vector, k, ["course_id"])]

    def close(self) -> None:
        self.store.close()


def vector_index(settings: Settings, warehouse: Warehouse) -> VectorIndex:
    """The configured index (``LEARNREC_VECTOR_INDEX``)."""
    if settings.vector_index == "weaviate":
        return WeaviateVectorIndex(settings)
    return WarehouseVectorIndex(warehouse)


def sync_course_embeddings(
    index: VectorIndex,
    courses: pd.DataFrame,
    encoder: Encoder,
    indexed_at: datetime,
    skill_names: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, int]:
    """Embed new or changed courses into ``index``; return all vectors in ``courses`` order and
    how many courses were (re-)embedded. ``skill_names``: skill id -> name (``raw.skills``)."""
    texts = [
        course_text(r.title, r.description, r.skill_tags, skill_names)
        for r in courses.itertuples(index=False)
    ]
    hashes = [content_hash(t) for t in texts]
    stored = index.stored().set_index("course_id")["content_hash"]
    ids = courses["course_id"].astype(str).tolist()
    todo = [
        i for i, (course, digest) in enumerate(zip(ids, hashes, strict=True)) if stored.get(course) != digest
    ]
    if todo:
        vectors = encoder([texts[i] for i in todo])
        index.upsert([ids[i] for i in todo], vectors, [hashes[i] for i in todo], indexed_at)
    return index.vectors(ids), len(todo)
