"""Course Q&A (RAG): retrieve course chunks, answer with the gateway, within a 2-second budget.

The pipeline (embed the question, search the chunk index: exact cosine over
``features.course_chunks`` by default, Weaviate with ``LEARNREC_VECTOR_INDEX=weaviate``; generate)
runs in a worker thread while the caller waits at most ``LEARNREC_QA_DEADLINE_SECONDS`` (2 s).
Past the deadline the caller gets the product's partial answer: "Based on available course
information..." built from whatever the pipeline had retrieved by then (or from the courses the
question was about), plus a prompt to view the full syllabus. The same extractive answer is what
the rule-based provider gives, and what an invalid or unavailable LLM answer falls back to.

The budget covers answering a question on a warm service: loading the embedding model (~12 s) and
the index happen once, when :class:`CourseQA` is built. The question is treated as personal in
the audit log (learners may write anything into it).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from learnrec import safetext
from learnrec.llm import LLMGateway, load_prompt
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse
from ml.agents.chunks import ChunkSearch, Embedder

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
RULES_VERSION = "qa-extractive@v1"
PARTIAL_PREFIX = "Based on available course information..."
EXCERPT_CHARS = 320
#: Bounds of the untrusted text put into the prompt, and of the answer.
TITLE_CHARS, CHUNK_CHARS, QUESTION_CHARS, ANSWER_CHARS = 120, 2000, 1000, 2000


class QAOutput(BaseModel):
    answer: str = Field(min_length=1, max_length=ANSWER_CHARS)
    course_ids: list[str] = Field(default_factory=list, max_length=6)


@dataclass(frozen=True)
class QAAnswer:
    text: str
    course_ids: tuple[str, ...]
    source: Literal["llm", "rules", "deadline"]  # deadline: the pipeline exceeded its budget
    partial: bool
    seconds: float


@dataclass
class _Progress:
    """What the worker has so far; read by the caller at the deadline."""

    hits: list[tuple[str, str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class CourseQA:
    """A warm Q&A service: embedder and index loaded once, questions answered within the budget."""

    def __init__(
        self,
        settings: Settings,
        index: ChunkSearch,
        embedder: Embedder,
        gateway: LLMGateway | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.gateway = gateway or LLMGateway.from_settings(settings)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="course-qa")

    @classmethod
    def load(cls, settings: Settings, warehouse: Warehouse, embedder: Embedder | None = None) -> CourseQA:
        from ml.agents.chunks import MiniLMEmbedder, load_chunk_index

        return cls(settings, load_chunk_index(settings, warehouse), embedder or MiniLMEmbedder())

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.index.close()

    def partial_answer(self, hits: list[tuple[str, str, float]], course_ids: list[str] | None) -> QAOutput:
        """The product's partial answer: excerpts found so far and a pointer to the full syllabus."""
        found = list(dict.fromkeys(c for c, _, _ in hits)) or [
            c for c in course_ids or [] if c in self.index.titles
        ]
        excerpts = " ".join(safetext.clean(text, EXCERPT_CHARS) for _, text, _ in hits[:2])
        if found:
            title = safetext.clean(self.index.titles[found[0]], TITLE_CHARS)
            more = f" View the full syllabus of {title} ({found[0]}) for the details."
        else:
            more = " View the full syllabus of the course for the details."
        body = f" {excerpts}" if excerpts else ""
        return QAOutput(
            answer=safetext.clean(f"{PARTIAL_PREFIX}{body}{more}", ANSWER_CHARS), course_ids=found[:3]
        )

    def _pipeline(self, question: str, course_ids: list[str] | None, progress: _Progress, deadline: float):
        query = self.embedder.encode([question])[0]
        hits = self.index.search(query, self.settings.qa_top_k, course_ids)
        with progress.lock:
            progress.hits = hits
        retrieved = {c for c, _, _ in hits}

        def grounded(output: QAOutput) -> None:
            if not output.course_ids:
                raise ValueError("cites no retrieved course")
            if outside := [c for c in output.course_ids if c not in retrieved]:
                raise ValueError(f"cites courses that were not retrieved: {outside}")
            safetext.check([output.answer], ANSWER_CHARS)

        excerpts = (
            "\n".join(
                f"{c} | {safetext.fence(self.index.titles[c], TITLE_CHARS)} | {safetext.fence(text, CHUNK_CHARS)}"
                for c, text, _ in hits
            )
            or "(none found)"
        )
        return self.gateway.run(
            load_prompt(PROMPTS, "course_qa"),
            {"question": safetext.fence(question, QUESTION_CHARS), "excerpts": excerpts},
            QAOutput,
            fallback=lambda: self.partial_answer(hits, course_ids),
            rules_version=RULES_VERSION,
            validate=grounded,
            personal=["question"],
            timeout=max(deadline - time.monotonic(), 0.05),
            max_tokens=500,
        )

    def ask(self, question: str, course_ids: list[str] | None = None) -> QAAnswer:
        started = time.monotonic()
        deadline = started + self.settings.qa_deadline_seconds
        progress = _Progress()
        future = self._pool.submit(self._pipeline, question, course_ids, progress, deadline)
        try:
            result = future.result(timeout=max(deadline - time.monotonic(), 0.0))
        except FutureTimeout:
            with progress.lock:
                hits = list(progress.hits)
            log.warning("Q&A exceeded %.1fs: partial answer", self.settings.qa_deadline_seconds)
            output = self.partial_answer(hits, course_ids)
            return QAAnswer(
                output.answer, tuple(output.course_ids), "deadline", True, time.monotonic() - started
            )
        value = result.value
        return QAAnswer(
            value.answer,
            tuple(value.course_ids),
            result.provenance,
            result.provenance != "llm",
            time.monotonic() - started,
        )
