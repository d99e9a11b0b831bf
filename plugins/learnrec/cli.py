"""The ``learnrec`` command: one subcommand per pipeline stage.

Each subcommand lives in a module of :mod:`learnrec.commands` that defines ``add_parser`` and
imports its heavy dependencies only when it runs, so ``learnrec --help`` stays fast. The stages
call the same functions as the DAG tasks and the tests.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence

from learnrec.failures import explain
from learnrec.settings import SettingsError

#: Modules of learnrec.commands, one per subcommand, in the order ``--help`` lists them.
COMMANDS = (
    "generate",
    "load_sources",
    "ingest",
    "demo",
    "airflow",
    "dbt",
    "features",
    "train",
    "evaluate",
    "recommendations",
    "bench",
    "ask",
    "nudges",
    "api",
    "privacy",
)


class UsageError(Exception):
    """A problem with what the user asked for: printed without a traceback, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="learnrec",
        description="Batch data platform for personalised learning recommendations.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"learnrec.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (UsageError, SettingsError) as exc:
        print(f"learnrec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        if args.verbose:
            traceback.print_exc()
        print(f"learnrec {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
