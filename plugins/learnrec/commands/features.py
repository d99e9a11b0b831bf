"""``learnrec features --run-date D``: compute, gate and publish the Spark features of a run date."""

from __future__ import annotations

import argparse

from learnrec.commands.argtypes import iso_date


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "features",
        help="compute the Spark features of a run date",
        description="Folds the run date's (and late) event files into the feature state, computes "
        "learner and course features, validates them (great-expectations) and publishes them to the "
        "lake and the warehouse's features schema. Spark: LEARNREC_SPARK_MASTER / _SPARK_CONNECT_URL.",
    )
    parser.add_argument("--run-date", type=iso_date, required=True, help="the event day (YYYY-MM-DD)")
    parser.add_argument(
        "--table",
        choices=("learner_features", "course_features"),
        action="append",
        help="only this table (repeatable; default both)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from learnrec.cli import UsageError
    from learnrec.settings import get_settings
    from spark_jobs.catalog import CatalogMissingError
    from spark_jobs.features import TABLES, run_features
    from spark_jobs.lake import LakeError
    from spark_jobs.quality import FeatureQualityError

    try:
        report = run_features(get_settings(), args.run_date, tables=tuple(args.table or TABLES))
    except (CatalogMissingError, LakeError) as exc:
        raise UsageError(str(exc)) from None
    except FeatureQualityError as exc:
        print(f"learnrec features: {exc}")
        return 1
    print(
        f"features {report.run_date}: {report.learners:,} learners ({report.active_learners:,} active), "
        f"{report.courses:,} courses; folded {report.new_files} new event file(s) of "
        f"{len(report.folded_days)} day(s), rebuilt rollups of {len(report.rebuilt_days)} day(s) "
        f"in {report.seconds:.1f}s"
    )
    return 0
