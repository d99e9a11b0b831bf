"""One vector-index adapter, embedding model and embedder for both vector indexes: course
embeddings (content model) and course chunks (Q&A) share the MiniLM space they search."""

from __future__ import annotations

from pathlib import Path

import ml.agents.chunks as chunks
import ml.embeddings as embeddings
from learnrec import vectors


def test_both_indexes_use_the_one_adapter_model_and_embedder() -> None:
    assert embeddings.MODEL_NAME is vectors.MODEL_NAME and embeddings.DIMENSIONS == vectors.DIMENSIONS
    assert (
        chunks.MiniLMEmbedder is vectors.MiniLMEmbedder and chunks.MiniLMEmbedder.name == vectors.MODEL_NAME
    )
    assert isinstance(embeddings.WarehouseVectorIndex(None).store, vectors.WarehouseVectorStore)
    assert chunks.WarehouseVectorStore is vectors.WarehouseVectorStore
    for module in (chunks, embeddings):
        assert (
            not hasattr(module, "minilm_encoder") and "MODEL_NAME = " not in Path(module.__file__).read_text()
        )
