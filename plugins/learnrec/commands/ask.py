"""``learnrec ask``: ask the Course Q&A agent a question about the catalogue."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="ask a question about courses (Course Q&A)",
        description="Retrieves course chunks from the vector index and answers within "
        "LEARNREC_QA_DEADLINE_SECONDS (2 s); past it, a partial answer. Indexes new or changed "
        "courses first. Uses LEARNREC_LLM_PROVIDER (rules: an extractive answer).",
    )
    parser.add_argument("question", help="the question, in quotes")
    parser.add_argument("--course", nargs="+", metavar="COURSE_ID", help="only these courses")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from learnrec.cli import UsageError
    from learnrec.settings import get_settings
    from learnrec.tables import COURSES
    from learnrec.warehouse import connect_warehouse
    from ml.agents.chunks import MiniLMEmbedder, index_course_chunks
    from ml.agents.qa import CourseQA

    if not args.question.strip():
        raise UsageError("the question is empty")
    settings = get_settings()
    with connect_warehouse(settings) as warehouse:
        if not warehouse.table_exists(COURSES):
            raise UsageError(
                "no course catalogue in the warehouse yet: run `learnrec demo` (or the ingest) first"
            )
        known = set(warehouse.query(f"select course_id from {COURSES}").column(0).to_pylist())
        if unknown := sorted(set(args.course or ()) - known):
            raise UsageError(f"unknown course id(s): {', '.join(unknown)}")
        embedder = MiniLMEmbedder()
        index_course_chunks(settings, warehouse, embedder=embedder)
        qa = CourseQA.load(settings, warehouse, embedder)
    try:
        answer = qa.ask(args.question, args.course)
    finally:
        qa.close()
    print(answer.text)
    if answer.course_ids:
        print(f"\ncourses: {', '.join(answer.course_ids)}")
    print(f"({answer.source}, {answer.seconds:.2f}s{', partial' if answer.partial else ''})")
    return 0
