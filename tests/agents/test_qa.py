"""Course Q&A: chunk index change detection, grounded answers, the 2-second partial answer."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest

from learnrec.llm import LLMGateway
from learnrec.settings import Settings
from ml.agents.chunks import CHUNKS_TABLE, ChunkIndex, index_course_chunks
from ml.agents.qa import PARTIAL_PREFIX, CourseQA

from .conftest import HashEmbedder, LLMServer, Reply, leaked, llm_settings

QUESTION = "Which course teaches A/B Testing to beginners?"


@pytest.fixture
def indexed(settings: Settings, warehouse):
    index_course_chunks(settings, warehouse, embedder=HashEmbedder())
    return warehouse


def service(settings: Settings, warehouse, embedder=None) -> CourseQA:
    return CourseQA(
        settings, ChunkIndex.load(warehouse), embedder or HashEmbedder(), LLMGateway.from_settings(settings)
    )


def test_index_rechunks_only_changed_courses(settings: Settings, indexed) -> None:
    n = indexed.scalar(f"select count(*) from {CHUNKS_TABLE}")
    assert n > 120 and indexed.scalar(f"select count(distinct chunk_id) from {CHUNKS_TABLE}") == n
    again = index_course_chunks(settings, indexed, embedder=HashEmbedder())
    assert (again.reindexed, again.chunks_written) == (0, 0)
    indexed.execute("update raw.courses set title = 'Renamed Course' where course_id = 'C00005'")
    indexed.execute("delete from raw.courses where course_id = 'C00006'")
    changed = index_course_chunks(settings, indexed, embedder=HashEmbedder())
    assert (changed.reindexed, changed.removed) == (1, 1)
    texts = indexed.query(f"select text from {CHUNKS_TABLE} where course_id = 'C00005'").column(0).to_pylist()
    assert texts and all(t.startswith("Renamed Course") for t in texts)
    assert indexed.scalar(f"select count(*) from {CHUNKS_TABLE} where course_id = 'C00006'") == 0


def test_rules_answer_is_extractive_and_points_to_the_syllabus(settings: Settings, indexed) -> None:
    qa = service(settings, indexed)
    answer = qa.ask(QUESTION)
    assert answer.source == "rules" and answer.partial
    assert answer.text.startswith(PARTIAL_PREFIX) and "View the full syllabus of" in answer.text
    top = answer.course_ids[0]
    title = indexed.scalar("select title from raw.courses where course_id = ?", [top])
    assert "A/B Testing" in title
    only = qa.ask("What are the modules?", ["C00002"])
    assert only.course_ids == ("C00002",)
    qa.close()


@pytest.mark.integration
def test_llm_answer_grounded_in_retrieved_chunks(llm_server: LLMServer, tmp_path: Path, indexed) -> None:
    def respond(body: dict) -> Reply:
        user = body["messages"][-1]["content"]
        first = user.split("Course excerpts (course id | course title | excerpt):\n")[1].split(" | ")[0]
        return Reply(json.dumps({"answer": "Start with the introduction course.", "course_ids": [first]}))

    llm_server.respond = respond
    settings = llm_settings(tmp_path, llm_server)
    qa = service(settings, indexed)
    answer = qa.ask(QUESTION)
    assert (answer.source, answer.partial, answer.text) == (
        "llm",
        False,
        "Start with the introduction course.",
    )
    assert answer.seconds < 2.0
    # the question is logged only as a placeholder
    assert QUESTION not in (tmp_path / "llm" / "audit.jsonl").read_text()
    qa.close()


@pytest.mark.integration
def test_llm_citing_unretrieved_courses_is_rejected(llm_server: LLMServer, tmp_path: Path, indexed) -> None:
    llm_server.respond = lambda body: Reply(json.dumps({"answer": "Take C00999.", "course_ids": ["C00999"]}))
    qa = service(llm_settings(tmp_path, llm_server), indexed)
    answer = qa.ask(QUESTION)
    assert answer.source == "rules" and answer.text.startswith(PARTIAL_PREFIX)
    qa.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    "answer, cites_retrieved",
    [
        ("Start with the introduction course.", False),  # schema-valid, cites nothing
        ("Enrol at https://phish.example/login today.", True),  # cites a course, ships a link
        ("<script>alert(1)</script> Take the first course.", True),  # markup
    ],
    ids=["no_course_cited", "phishing_link", "markup"],
)
def test_an_ungrounded_or_unsafe_llm_answer_is_replaced_by_the_fallback(
    llm_server: LLMServer, tmp_path: Path, indexed, answer: str, cites_retrieved: bool
) -> None:
    """An empty citation list used to pass the grounding check, and links or markup in an answer
    that cited a retrieved course reached the learner: each must give the fallback answer."""

    def respond(body: dict) -> Reply:
        user = body["messages"][-1]["content"]
        first = user.split("Course excerpts (course id | course title | excerpt):\n")[1].split(" | ")[0]
        return Reply(json.dumps({"answer": answer, "course_ids": [first] if cites_retrieved else []}))

    llm_server.respond = respond
    qa = service(llm_settings(tmp_path, llm_server), indexed)
    result = qa.ask(QUESTION)
    assert result.source == "rules" and result.text.startswith(PARTIAL_PREFIX)
    assert "phish.example" not in result.text and "<script" not in result.text
    qa.close()


@pytest.mark.integration
def test_slow_llm_returns_the_partial_answer_at_the_deadline(
    llm_server: LLMServer, tmp_path: Path, indexed
) -> None:
    llm_server.respond = lambda body: Reply(json.dumps({"answer": "too late", "course_ids": []}), delay=3.0)
    settings = llm_settings(tmp_path, llm_server, llm_timeout_seconds=10.0)
    qa = service(settings, indexed)
    started = time.monotonic()
    answer = qa.ask(QUESTION)
    waited = time.monotonic() - started
    assert answer.source == "deadline" and answer.partial
    assert answer.text.startswith(PARTIAL_PREFIX) and "View the full syllabus" in answer.text
    assert answer.course_ids  # retrieval had finished: the excerpts are in the partial answer
    assert 1.9 <= waited < 2.6
    qa.close()


def test_slow_retrieval_returns_the_partial_answer_for_the_asked_course(settings: Settings, indexed) -> None:
    qa = service(settings, indexed, embedder=HashEmbedder(delay=2.5))
    started = time.monotonic()
    answer = qa.ask("How long is the project module?", ["C00002"])
    assert time.monotonic() - started < 2.5
    title = indexed.scalar("select title from raw.courses where course_id = 'C00002'")
    assert answer.source == "deadline"
    assert answer.text == f"{PARTIAL_PREFIX} View the full syllabus of {title} (C00002) for the details."
    qa.close()


def test_ask_cli_answers_from_the_warehouse(
    settings: Settings, warehouse, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The CLI loads MiniLM; here the hashing embedder stands in (see HashEmbedder for why).
    import ml.agents.chunks
    from learnrec.cli import main

    monkeypatch.setattr(ml.agents.chunks, "MiniLMEmbedder", HashEmbedder)
    assert main(["ask", QUESTION]) == 0
    out = capsys.readouterr().out
    assert out.startswith(PARTIAL_PREFIX) and "(rules," in out
    assert main(["ask", "Anything?", "--course", "C99999"]) == 2


@pytest.mark.slow
def test_minilm_embeds_offline_with_unit_vectors_and_related_texts_closer() -> None:
    from ml.agents.chunks import MiniLMEmbedder

    vectors = MiniLMEmbedder().encode(
        [
            "Introduction to A/B Testing",
            "experiments with control and treatment groups",
            "Negotiation Workshop",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_debug_logs_hold_no_question(
    llm_server: LLMServer, tmp_path: Path, indexed, caplog: pytest.LogCaptureFixture
) -> None:
    llm_server.respond = lambda body: Reply(json.dumps({"answer": "Start there.", "course_ids": []}))
    qa = service(llm_settings(tmp_path, llm_server), indexed)
    caplog.set_level(logging.DEBUG)
    qa.ask(QUESTION)
    qa.close()
    assert QUESTION in "\n".join(llm_server.prompts())
    assert caplog.records and leaked(caplog.records, [QUESTION]) == []
