"""Chunk-level vector index of course text for Course Q&A (embedded default: in the warehouse).

The ML stage indexes whole courses (``features.course_embeddings``); answering a question needs
finer pieces: an overview chunk (title and description) and syllabus chunks of a few modules
each, embedded with MiniLM (384 floats, unit length, so cosine similarity is a dot product).
Chunk ids are uuid5 of course, position and content hash: a course is re-chunked only when its
content hash changes, and a rerun writes nothing.

Where chunks live follows ``LEARNREC_VECTOR_INDEX`` (as course embeddings do, ``ml/embeddings.py``;
the model, embedder and Weaviate connection are theirs too, :mod:`learnrec.vectors`):

* ``warehouse`` (default): the table ``features.course_chunks``; a course's chunks are swapped in
  one transaction; questions search all of them in memory (:class:`ChunkIndex`, exact cosine);
* ``weaviate``: the collection ``CourseChunk``, one object per chunk (uuid = chunk id, our vector;
  a re-import of the same chunk overwrites it). Weaviate has no transactions, so a changed course's
  new chunks are written first and its old ones deleted after: a question meanwhile sees old or
  both, never none, and a crash in between leaves two content hashes for the course, which the
  next run treats as changed. Questions run Weaviate's near-vector search, filtered to the asked
  courses (:class:`WeaviateChunkIndex`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import pyarrow as pa

from learnrec.settings import Settings
from learnrec.tables import COURSES
from learnrec.vectors import (
    MiniLMEmbedder,
    VectorStore,
    WarehouseVectorStore,
    WeaviateVectorStore,
    cosine_top,
)
from learnrec.warehouse import Warehouse
from ml.agents.catalog import Catalog, Course

log = logging.getLogger(__name__)

CHUNKS_TABLE = "features.course_chunks"
WEAVIATE_COLLECTION = "CourseChunk"
MODULES_PER_CHUNK = 4
NAMESPACE = uuid.UUID("6c1f3a52-93a4-4f7e-9a0e-0c1d5e7a2b11")

CHUNK_SCHEMA = pa.schema(
    [
        pa.field("chunk_id", pa.string(), nullable=False),
        pa.field("course_id", pa.string(), nullable=False),
        pa.field("chunk_index", pa.int32(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # overview | syllabus
        pa.field("text", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("embedding_vector", pa.list_(pa.float32()), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("indexed_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows of unit length."""
        ...


def course_chunks(course: Course) -> list[tuple[str, str]]:
    """(kind, text) pieces of one course; every piece names the course so it reads on its own."""
    pieces = [("overview", f"{course.title}. {course.description}")]
    modules = course.module_titles
    for start in range(0, len(modules), MODULES_PER_CHUNK):
        part = modules[start : start + MODULES_PER_CHUNK]
        listed = "; ".join(f"module {start + i + 1}: {title}" for i, title in enumerate(part))
        pieces.append(("syllabus", f"{course.title} syllabus, {listed}."))
    return pieces


@dataclass(frozen=True)
class IndexReport:
    courses: int
    reindexed: int
    removed: int
    chunks_written: int


#: the Weaviate properties of a chunk (learnrec.vectors kinds)
CHUNK_PROPERTIES = {
    "course_id": "exact",
    "chunk_index": "int",
    "kind": "exact",
    "text": "text",
    "content_hash": "exact",
    "model": "exact",
    "indexed_at": "date",
}


def chunk_store(settings: Settings, warehouse: Warehouse) -> VectorStore:
    """The configured store (``LEARNREC_VECTOR_INDEX``)."""
    if settings.vector_index == "weaviate":
        return WeaviateVectorStore(settings, WEAVIATE_COLLECTION, CHUNK_PROPERTIES, id_field="chunk_id")
    return WarehouseVectorStore(warehouse, CHUNKS_TABLE, CHUNK_SCHEMA)


def index_course_chunks(
    settings: Settings,
    warehouse: Warehouse,
    *,
    embedder: Embedder | None = None,
    now: datetime | None = None,
) -> IndexReport:
    """(Re)index the chunks of new and changed courses; drop chunks of courses that left the catalogue."""
    catalog = Catalog.load(warehouse)
    store = chunk_store(settings, warehouse)
    try:
        return _index(catalog, store, embedder, now)
    finally:
        store.close()


def _index(
    catalog: Catalog, store: VectorStore, embedder: Embedder | None, now: datetime | None
) -> IndexReport:
    stored = store.stored_hashes()
    todo = [c for cid, c in catalog.courses.items() if stored.get(cid) != c.content_hash]
    gone = sorted(set(stored) - set(catalog.courses))
    rows: list[dict[str, object]] = []
    if todo:
        embedder = embedder or MiniLMEmbedder()
        at = now or datetime.now(UTC)
        pieces = [
            (course, i, kind, text) for course in todo for i, (kind, text) in enumerate(course_chunks(course))
        ]
        vectors = embedder.encode([text for *_, text in pieces])
        for (course, i, kind, text), vector in zip(pieces, vectors, strict=True):
            rows.append(
                {
                    "chunk_id": str(uuid.uuid5(NAMESPACE, f"{course.course_id}:{i}:{course.content_hash}")),
                    "course_id": course.course_id,
                    "chunk_index": i,
                    "kind": kind,
                    "text": text,
                    "content_hash": course.content_hash,
                    "embedding_vector": vector.tolist(),
                    "model": embedder.name,
                    "indexed_at": at,
                }
            )
    store.apply(rows, {c.course_id: c.content_hash for c in todo}, gone)
    log.info("course chunks: %d courses re-indexed, %d removed, %d chunks", len(todo), len(gone), len(rows))
    return IndexReport(len(catalog.courses), len(todo), len(gone), len(rows))


class ChunkIndex:
    """Exact cosine search over every chunk, held in memory (the embedded default's vector index)."""

    def __init__(self, course_ids: np.ndarray, texts: list[str], vectors: np.ndarray, titles: dict[str, str]):
        self.course_ids = course_ids
        self.texts = texts
        self.vectors = vectors
        self.titles = titles

    @classmethod
    def load(cls, warehouse: Warehouse) -> ChunkIndex:
        table = warehouse.query(
            f"select k.course_id, k.text, k.embedding_vector, c.title from {CHUNKS_TABLE} k "
            f"join {COURSES} c on c.course_id = k.course_id order by k.course_id, k.chunk_index"
        )
        course_ids = np.asarray(table.column("course_id").to_pylist(), dtype=object)
        flat = table.column("embedding_vector").combine_chunks()
        dim = len(flat[0]) if len(flat) else 0
        vectors = np.asarray(flat.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(
            -1, dim or 1
        )
        titles = dict(zip(course_ids.tolist(), table.column("title").to_pylist(), strict=True))
        return cls(course_ids, table.column("text").to_pylist(), vectors, titles)

    def search(
        self, query: np.ndarray, k: int, course_ids: list[str] | None = None
    ) -> list[tuple[str, str, float]]:
        """Best ``k`` chunks as (course_id, text, cosine), optionally only of ``course_ids``."""
        mask = np.isin(self.course_ids, course_ids) if course_ids else None
        return [
            (str(self.course_ids[i]), self.texts[i], score)
            for i, score in cosine_top(self.vectors, query, k, mask)
        ]

    def close(self) -> None:
        pass


class ChunkSearch(Protocol):
    """What Course Q&A needs from a chunk index: course titles and a (filtered) nearest search."""

    titles: dict[str, str]

    def search(
        self, query: np.ndarray, k: int, course_ids: list[str] | None = None
    ) -> list[tuple[str, str, float]]: ...

    def close(self) -> None: ...


class WeaviateChunkIndex:
    """Production: Weaviate's near-vector search over ``CourseChunk``, filtered to the asked courses."""

    def __init__(self, store: WeaviateVectorStore, titles: dict[str, str]) -> None:
        self.store = store
        self.titles = titles

    @classmethod
    def load(cls, settings: Settings, warehouse: Warehouse) -> WeaviateChunkIndex:
        titles = warehouse.query(f"select course_id, title from {COURSES}").to_pylist()
        store = WeaviateVectorStore(settings, WEAVIATE_COLLECTION, CHUNK_PROPERTIES, id_field="chunk_id")
        return cls(store, {row["course_id"]: row["title"] for row in titles})

    def search(
        self, query: np.ndarray, k: int, course_ids: list[str] | None = None
    ) -> list[tuple[str, str, float]]:
        """Best ``k`` chunks as (course_id, text, cosine), optionally only of ``course_ids``."""
        found = self.store.search(query, k, ["course_id", "text"], course_ids)
        return [(props["course_id"], props["text"], score) for props, score in found]

    def close(self) -> None:
        self.store.close()


def load_chunk_index(settings: Settings, warehouse: Warehouse) -> ChunkSearch:
    """The configured chunk index for questions (``LEARNREC_VECTOR_INDEX``)."""
    if settings.vector_index == "weaviate":
        return WeaviateChunkIndex.load(settings, warehouse)
    return ChunkIndex.load(warehouse)
