"""``learnrec ingest``: land new learner events (the learner_events_ingest DAG's step)."""

from __future__ import annotations

import argparse

from learnrec.commands.argtypes import iso_instant


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="land new learner events into the lake and raw.learner_events",
        description="Reads the configured source (LEARNREC_EVENT_SOURCE: landing files or Kafka) from "
        "its stored position, validates every payload against the event contract, quarantines bad "
        "ones with their reason, deduplicates and lands the rest exactly once.",
    )
    parser.add_argument(
        "--until", type=iso_instant, help="take only what arrived before this moment (default: everything)"
    )
    parser.add_argument("--max-batches", type=int, help="stop after this many batches")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from learnrec.cli import UsageError
    from learnrec.ingest import IngestError, run_ingest
    from learnrec.settings import get_settings

    try:
        report = run_ingest(get_settings(), until=args.until, max_batches=args.max_batches)
    except IngestError as exc:
        raise UsageError(str(exc)) from None
    for batch in report.batches:
        print(batch.summary())
    print(f"ingest: {report.summary()}")
    return 0
