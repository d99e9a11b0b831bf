"""``learnrec privacy``: erasure requests and retention (the privacy_retention DAG's step)."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "privacy",
        help="erase learners everywhere their data lives (requests, retention expiry)",
        description="`erase` records a learner's erasure request and erases it at once; `run` does "
        "what the daily privacy_retention DAG does: the landing folder's requests, every learner "
        "whose retention_expiry has passed, and every pending request. Idempotent and resumable.",
    )
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    erase = steps.add_parser("erase", help="record an erasure request and erase the learner now")
    erase.add_argument("learner_id")
    erase.add_argument("--reason", help="why (kept with the request; no personal data)")
    steps.add_parser("run", help="erase every pending request and expired learner")
    steps.add_parser("requests", help="list the requests: learner hash, times, rows removed per store")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exports.privacy.eraser import run_erasure
    from exports.privacy.requests import list_requests, record_cli_request
    from learnrec.settings import get_settings

    settings = get_settings()
    if args.step == "requests":
        print(json.dumps(list_requests(settings), indent=2, default=str))
        return 0
    if args.step == "erase":
        record_cli_request(settings, args.learner_id, args.reason)
    print(run_erasure(settings).summary())
    return 0
