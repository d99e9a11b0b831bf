"""The Course Q&A chunk index on Weaviate (``LEARNREC_VECTOR_INDEX=weaviate``): the real
weaviate-client v4 against a loopback server (REST + gRPC, see weaviate_loopback.py: no Weaviate
can run here). Same chunks, same change detection and same answers as the warehouse index."""

from __future__ import annotations

import numpy as np
import pytest

from learnrec.settings import Settings, load_settings
from ml.agents.chunks import (
    CHUNKS_TABLE,
    WEAVIATE_COLLECTION,
    ChunkIndex,
    WeaviateChunkIndex,
    chunk_store,
    index_course_chunks,
)
from ml.agents.qa import PARTIAL_PREFIX, CourseQA

from .conftest import HashEmbedder
from .weaviate_loopback import FakeWeaviate, fake_weaviate

pytestmark = pytest.mark.integration  # loopback HTTP and gRPC servers

QUESTION = "Which course teaches A/B Testing to beginners?"


@pytest.fixture
def server() -> FakeWeaviate:
    with fake_weaviate() as state:
        yield state


@pytest.fixture
def wv_settings(settings: Settings, server: FakeWeaviate) -> Settings:
    return load_settings(
        home=settings.home,
        vector_index="weaviate",
        weaviate_url=server.url,
        weaviate_grpc_port=server.grpc_port,
    )


def chunk_ids(server: FakeWeaviate) -> set[str]:
    return set(server.collection(WEAVIATE_COLLECTION))


def test_indexes_the_same_chunks_and_upserts_only_changes(
    settings: Settings, wv_settings: Settings, server: FakeWeaviate, warehouse
) -> None:
    report = index_course_chunks(wv_settings, warehouse, embedder=HashEmbedder())
    assert not warehouse.table_exists(CHUNKS_TABLE)  # nothing in the warehouse on this backend
    index_course_chunks(settings, warehouse, embedder=HashEmbedder())  # the embedded default, same catalogue
    expected = set(warehouse.query(f"select chunk_id from {CHUNKS_TABLE}").column(0).to_pylist())
    assert chunk_ids(server) == expected and report.chunks_written == len(expected)
    stored = server.collection(WEAVIATE_COLLECTION)
    sample = next(iter(stored.values()))
    assert set(sample.properties) == {
        "course_id",
        "chunk_index",
        "kind",
        "text",
        "content_hash",
        "model",
        "indexed_at",
    }
    assert sample.vector.shape == (384,)
    schema = server.schemas[WEAVIATE_COLLECTION]
    assert {p["name"]: p.get("tokenization") for p in schema["properties"]}["course_id"] == "field"

    server.calls.clear()
    again = index_course_chunks(wv_settings, warehouse, embedder=HashEmbedder())
    assert (again.reindexed, again.removed, again.chunks_written) == (0, 0, 0)
    assert "grpc BatchObjects" not in server.calls and "grpc BatchDelete" not in server.calls

    before = dict(stored)
    warehouse.execute("update raw.courses set title = 'Renamed Course' where course_id = 'C00005'")
    warehouse.execute("delete from raw.courses where course_id = 'C00006'")
    changed = index_course_chunks(wv_settings, warehouse, embedder=HashEmbedder())
    assert (changed.reindexed, changed.removed) == (1, 1)
    by_course: dict[str, set[str]] = {}
    for uuid, obj in stored.items():
        by_course.setdefault(obj.properties["course_id"], set()).add(uuid)
    assert "C00006" not in by_course
    renamed = [stored[u].properties["text"] for u in by_course["C00005"]]
    assert renamed and all(t.startswith("Renamed Course") for t in renamed)
    untouched = {u for u in before if before[u].properties["course_id"] not in ("C00005", "C00006")}
    assert untouched <= set(stored) and all(stored[u] is before[u] for u in untouched)  # not rewritten


def test_an_interrupted_update_is_repaired_by_the_next_run(
    wv_settings: Settings, server: FakeWeaviate, warehouse, monkeypatch
) -> None:
    index_course_chunks(wv_settings, warehouse, embedder=HashEmbedder())
    warehouse.execute("update raw.courses set title = 'Renamed Course' where course_id = 'C00005'")

    def crash(self, **kwargs):
        raise ConnectionError("lost Weaviate after the insert")

    with monkeypatch.context() as patch:
        patch.setattr(type(chunk_store(wv_settings, warehouse).collection.data), "delete_many", crash)
        with pytest.raises(ConnectionError):
            index_course_chunks(wv_settings, warehouse, embedder=HashEmbedder())
    hashes = {
        o.properties["content_hash"]
        for o in server.collection(WEAVIATE_COLLECTION).values()
        if o.properties["course_id"] == "C00005"
    }
    assert len(hashes) == 2  # old and new chunks side by side: questions never saw the course vanish
    repaired = index_course_chunks(wv_settings, warehouse, embedder=HashEmbedder())
    assert repaired.reindexed == 1
    texts = [
        o.properties["text"]
        for o in server.collection(WEAVIATE_COLLECTION).values()
        if o.properties["course_id"] == "C00005"
    ]
    assert texts and all(t.startswith("Renamed Course") for t in texts)


def test_near_vector_search_matches_the_exact_index(
    settings: Settings, wv_settings: Settings, server: FakeWeaviate, warehouse
) -> None:
    embedder = HashEmbedder()
    index_course_chunks(wv_settings, warehouse, embedder=embedder)
    index_course_chunks(settings, warehouse, embedder=embedder)
    exact = ChunkIndex.load(warehouse)
    remote = WeaviateChunkIndex.load(wv_settings, warehouse)
    try:
        query = embedder.encode([QUESTION])[0]
        for courses in (None, ["C00002", "C00007"]):
            got = remote.search(query, 6, courses)
            every = {(c, t): score for c, t, score in exact.search(query, 10_000, courses)}
            best = sorted(every.values(), reverse=True)[:6]
            # the same top scores, each the exact cosine of its chunk (ties may come in any order)
            np.testing.assert_allclose([s for *_, s in got], best, atol=1e-5)
            np.testing.assert_allclose([s for *_, s in got], [every[(c, t)] for c, t, _ in got], atol=1e-5)
        assert {c for c, _, _ in remote.search(query, 6, ["C00002", "C00007"])} == {"C00002", "C00007"}
        assert "grpc Search near_vector" in server.calls
    finally:
        remote.close()


def test_course_qa_answers_from_weaviate(wv_settings: Settings, server: FakeWeaviate, warehouse) -> None:
    index_course_chunks(wv_settings, warehouse, embedder=HashEmbedder())
    qa = CourseQA.load(wv_settings, warehouse, embedder=HashEmbedder())
    try:
        assert isinstance(qa.index, WeaviateChunkIndex)
        answer = qa.ask(QUESTION)
        assert answer.source == "rules" and answer.text.startswith(PARTIAL_PREFIX)
        title = warehouse.scalar("select title from raw.courses where course_id = ?", [answer.course_ids[0]])
        assert "A/B Testing" in title
        assert qa.ask("What are the modules?", ["C00002"]).course_ids == ("C00002",)
    finally:
        qa.close()
