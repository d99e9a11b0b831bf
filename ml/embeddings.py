"""Course embeddings (MiniLM, offline) and the vector index that stores them.

A course is embedded from its title, description and skill tags. Each stored vector carries the
``content_hash`` of that text (and the model name), so a nightly sync re-embeds only courses that
are new or whose text changed: cost follows catalogue changes, not catalogue size.

Index backends (``LEARNREC_VECTOR_INDEX``): ``warehouse`` (embedded default: the table
``features.course_embeddings`` with exact cosine search in numpy, which dbt joins into
``dim_courses`` as embedding_vector / rag_indexed_at) and ``weaviate`` (production: a thin adapter
over weaviate-client v4; one object per course, uuid5 of the course id, so upserts are idempotent).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from learnrec.settings import Settings
from learnrec.tables import COURSE_EMBEDDINGS
from learnrec.vectors import DIMENSIONS, MODEL_NAME, connect_weaviate
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


def course_text(title: str, description: str, skill_tags: Sequence[str] | None) -> str:
    """The text a course is embedded from (and hashed over)."""
    tags = ", ".join(skill_tags) if skill_tags is not None and len(skill_tags) else "none"
    return f"{title}. {description} Skills: {tags}."


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


class WarehouseVectorIndex:
    """Embedded default: ``features.course_embeddings`` in the warehouse, exact cosine search."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def _all(self) -> pd.DataFrame:
        if not self.warehouse.table_exists(EMBEDDINGS_TABLE):
            return pd.DataFrame(columns=EMBEDDING_SCHEMA.names)
        return self.warehouse.query(f"select * from {EMBEDDINGS_TABLE}").to_pandas()

    def stored(self) -> pd.DataFrame:
        return self._all()[["course_id", "content_hash", "model"]]

    def vectors(self, course_ids: Sequence[str]) -> np.ndarray:
        frame = self._all().drop_duplicates("course_id").set_index("course_id")["embedding_vector"]
        out = np.zeros((len(course_ids), DIMENSIONS), np.float32)
        found = frame.reindex(list(course_ids))
        present = found.notna().to_numpy()
        if present.any():
            out[present] = np.asarray(found[present].tolist(), dtype=np.float32)
        return out

    def upsert(
        self, course_ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str], indexed_at: datetime
    ) -> None:
        if not len(course_ids):
            return
        new = pa.table(
            {
                "course_id": list(course_ids),
                "embedding_vector": [row.astype(float).tolist() for row in vectors],
                "content_hash": list(hashes),
                "model": [MODEL_NAME] * len(course_ids),
                "indexed_at": [indexed_at] * len(course_ids),
            },
            schema=EMBEDDING_SCHEMA,
        )
        kept = self._all()
        kept = kept.loc[~kept["course_id"].isin(set(course_ids))]
        merged = pa.concat_tables(
            [pa.Table.from_pandas(kept, schema=EMBEDDING_SCHEMA, preserve_index=False), new]
        )
        self.warehouse.load_arrow(EMBEDDINGS_TABLE, merged, mode="replace")

    def search(self, vector: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        frame = self._all()
        if frame.empty:
            return []
        matrix = np.asarray(frame["embedding_vector"].tolist(), dtype=np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
        query = np.asarray(vector, np.float32) / max(float(np.linalg.norm(vector)), 1e-9)
        sims = matrix @ query
        top = np.argsort(-sims)[:k]
        return [(str(frame["course_id"].iloc[i]), float(sims[i])) for i in top]


class WeaviateVectorIndex:
    """Production: a Weaviate collection with one object per course (vector supplied by us)."""

    def __init__(self, settings: Settings) -> None:
        self.client = connect_weaviate(settings)
        if not self.client.collections.exists(WEAVIATE_COLLECTION):
            from weaviate.classes.config import Configure

            self.client.collections.create(
                WEAVIATE_COLLECTION, vector_config=Configure.Vectors.self_provided()
            )
        self.collection = self.client.collections.get(WEAVIATE_COLLECTION)

    @staticmethod
    def _uuid(course_id: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"learnrec/course/{course_id}"))

    def stored(self) -> pd.DataFrame:
        rows = [
            {k: obj.properties.get(k) for k in ("course_id", "content_hash", "model")}
            for obj in self.collection.iterator()
        ]
        return pd.DataFrame(rows, columns=["course_id", "content_hash", "model"])

    def vectors(self, course_ids: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(course_ids), DIMENSIONS), np.float32)
        for i, course in enumerate(course_ids):
            obj = self.collection.query.fetch_object_by_id(self._uuid(course), include_vector=True)
            if obj is not None:
                out[i] = np.asarray(obj.vector["default"], dtype=np.float32)
        return out

    def upsert(
        self, course_ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str], indexed_at: datetime
    ) -> None:
        with self.collection.batch.dynamic() as batch:
            for course, vector, digest in zip(course_ids, vectors, hashes, strict=True):
                batch.add_object(
                    properties={
                        "course_id": course,
                        "content_hash": digest,
                        "model": MODEL_NAME,
                        "indexed_at": indexed_at,
                    },
                    vector=vector.tolist(),
                    uuid=self._uuid(course),
                )

    def search(self, vector: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        from weaviate.classes.query import MetadataQuery

        found = self.collection.query.near_vector(
            near_vector=np.asarray(vector, float).tolist(),
            limit=k,
            return_metadata=MetadataQuery(distance=True),
        )
        return [(o.properties["course_id"], 1.0 - float(o.metadata.distance)) for o in found.objects]

    def close(self) -> None:
        self.client.close()


def vector_index(settings: Settings, warehouse: Warehouse) -> VectorIndex:
    """The configured index (``LEARNREC_VECTOR_INDEX``)."""
    if settings.vector_index == "weaviate":
        return WeaviateVectorIndex(settings)
    return WarehouseVectorIndex(warehouse)


def sync_course_embeddings(
    index: VectorIndex, courses: pd.DataFrame, encoder: Encoder, indexed_at: datetime
) -> tuple[np.ndarray, int]:
    """Embed new or changed courses into ``index``; return all vectors in ``courses`` order and
    how many courses were (re-)embedded."""
    texts = [course_text(r.title, r.description, r.skill_tags) for r in courses.itertuples(index=False)]
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
