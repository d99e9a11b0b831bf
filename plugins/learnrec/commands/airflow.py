"""``learnrec airflow ARGS...``: the Airflow CLI on this project's DAGs and embedded state."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "airflow",
        help="run the airflow CLI with this project's DAGs, plugins and state",
        description="Runs `airflow ARGS...` with AIRFLOW_HOME under LEARNREC_HOME and the "
        "project's dags/ and plugins/ folders, e.g. `learnrec airflow standalone`.",
    )
    parser.add_argument("airflow_args", nargs=argparse.REMAINDER, help="arguments for airflow")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from learnrec.airflow_env import run_airflow
    from learnrec.cli import UsageError
    from learnrec.settings import get_settings

    if not args.airflow_args:
        raise UsageError("give the airflow arguments, e.g. `learnrec airflow standalone`")
    return run_airflow(get_settings(), args.airflow_args, check=False)
