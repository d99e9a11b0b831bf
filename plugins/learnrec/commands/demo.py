"""``learnrec demo``: generate a small world and run the pipeline end to end through Airflow."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from learnrec.world.config import PRESETS

    parser = subparsers.add_parser("demo", help="run the pipeline end to end on a small generated world")
    parser.add_argument(
        "--size", choices=sorted(PRESETS), default="small", help="world size (default: small)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exports.api.demo import exercise_api
    from learnrec.cli import UsageError
    from learnrec.commands.showcase import print_nudge_samples, print_recommendation_samples
    from learnrec.demo import run_demo
    from learnrec.settings import get_settings

    try:
        run_demo(
            get_settings(),
            args.size,
            endings=(print_recommendation_samples, print_nudge_samples, exercise_api),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0
