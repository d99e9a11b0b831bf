"""Event sources behind one interface: landing files (embedded default) and Kafka (production)."""

from __future__ import annotations

from learnrec.ingest.sources.base import EventSource, SourceBatch, open_source

__all__ = ["EventSource", "SourceBatch", "open_source"]
