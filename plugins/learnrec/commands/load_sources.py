"""``learnrec load-sources``: replace raw.learners, raw.courses, ... with the latest snapshots."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "load-sources",
        help="load the operational snapshots into the warehouse's raw schema",
        description="Replaces raw.learners, raw.courses, raw.course_ratings, raw.skills and "
        "raw.career_goals with the contract-checked snapshots under <landing>/sources/.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from learnrec.settings import get_settings
    from learnrec.warehouse.sources import refresh_source_snapshots

    counts = refresh_source_snapshots(get_settings())
    for table, rows in counts.items():
        print(f"raw.{table}: {rows:,} rows")
    return 0
