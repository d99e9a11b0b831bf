"""The vector index: only new or changed courses are embedded; exact cosine search."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import numpy as np
import pytest

from learnrec.settings import load_settings
from learnrec.vectors import MiniLMEmbedder
from ml.data import load_training_data
from ml.embeddings import WarehouseVectorIndex, WeaviateVectorIndex, sync_course_embeddings
from tests.ml.conftest import RUN_DATE, hash_encoder

NOW = datetime(2026, 3, 13, tzinfo=UTC)


class CountingEncoder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return hash_encoder(texts)


def test_sync_embeds_only_new_or_changed_courses(warehouse) -> None:
    courses = load_training_data(warehouse, RUN_DATE).courses
    index = WarehouseVectorIndex(warehouse)
    encoder = CountingEncoder()
    vectors, embedded = sync_course_embeddings(index, courses, encoder, NOW)
    assert embedded == 12 and vectors.shape == (12, 384)
    assert warehouse.scalar("select count(*) from features.course_embeddings") == 12
    again, embedded = sync_course_embeddings(index, courses, encoder, NOW)
    assert embedded == 0 and len(encoder.seen) == 12
    np.testing.assert_allclose(again, vectors, atol=1e-6)
    changed = courses.copy()
    changed.loc[changed["course_id"] == "C03", "description"] = "now about typography and colour"
    _, embedded = sync_course_embeddings(index, changed, encoder, NOW)
    assert embedded == 1 and warehouse.scalar("select count(*) from features.course_embeddings") == 12
    columns = [f.name for f in warehouse.query("select * from features.course_embeddings limit 1").schema]
    assert columns == ["course_id", "embedding_vector", "content_hash", "model", "indexed_at"]


def test_exact_cosine_search_finds_the_nearest_course(warehouse) -> None:
    courses = load_training_data(warehouse, RUN_DATE).courses
    index = WarehouseVectorIndex(warehouse)
    vectors, _ = sync_course_embeddings(index, courses, hash_encoder, NOW)
    hits = index.search(vectors[7], k=3)
    assert hits[0][0] == "C07" and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [h[1] for h in hits] == sorted((h[1] for h in hits), reverse=True)


@pytest.mark.slow
def test_minilm_embeds_offline_with_meaningful_similarity() -> None:
    encode = MiniLMEmbedder().encode
    vectors = encode(
        ["Intro to SQL for data analysis", "Querying databases with SQL", "Watercolour painting for kids"]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@pytest.mark.integration
@pytest.mark.skipif(
    not os.environ.get("LEARNREC_WEAVIATE_URL"),
    reason="no Weaviate server configured (LEARNREC_WEAVIATE_URL); none can run on this machine",
)
def test_weaviate_adapter_round_trip() -> None:
    settings = load_settings(vector_index="weaviate")
    index = WeaviateVectorIndex(settings)
    try:
        vectors = hash_encoder(["sql course", "design course"])
        index.upsert(["TEST-1", "TEST-2"], vectors, ["h1", "h2"], NOW)
        assert index.search(vectors[0], k=1)[0][0] == "TEST-1"
        assert set(index.stored()["course_id"]) >= {"TEST-1", "TEST-2"}
    finally:
        index.close()


@pytest.mark.integration  # loopback HTTP and gRPC servers standing in for Weaviate
def test_weaviate_index_through_the_shared_adapter(settings) -> None:
    """Upsert, change detection and near-vector search (the stand-in returns no stored vectors,
    so ``vectors()`` is covered by the real-server test above only)."""
    from tests.agents.weaviate_loopback import fake_weaviate

    with fake_weaviate() as server:
        wv = load_settings(
            home=settings.home,
            vector_index="weaviate",
            weaviate_url=server.url,
            weaviate_grpc_port=server.grpc_port,
        )
        index = WeaviateVectorIndex(wv)
        try:
            vectors = hash_encoder(["sql course", "design course"])
            index.upsert(["C1", "C2"], vectors, ["h1", "h2"], NOW)
            index.upsert(["C1"], vectors[1:], ["h1b"], NOW)  # re-embedded: the course's one object replaced
            stored = index.stored().set_index("course_id")["content_hash"].to_dict()
            assert stored == {"C1": "h1b", "C2": "h2"} and len(server.collection("Course")) == 2
            assert index.search(vectors[0], k=1)[0][0] in {"C1", "C2"}
        finally:
            index.close()
