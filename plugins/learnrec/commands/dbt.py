"""``learnrec dbt ARGS...``: the dbt project run against the configured warehouse.

Everything after ``dbt`` goes to dbt itself (``learnrec dbt build --select dim_learners+``), with
the connection derived from the learnrec settings and dbt's artifacts under ``LEARNREC_HOME``.
``learnrec dbt docs generate`` writes the documentation site to the state folder and prints where;
``learnrec dbt parse`` writes the manifest the nightly DAG renders one task per model from.
"""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dbt",
        help="run dbt (build, test, parse, docs generate, ...) on the configured warehouse",
        description="Runs `dbt ARGS...` in-process on the project in dbt/, configured from the "
        "LEARNREC_* settings (DuckDB file or Snowflake), e.g. `learnrec dbt build --full-refresh`.",
    )
    parser.add_argument("dbt_args", nargs=argparse.REMAINDER, help="arguments for dbt")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from learnrec.cli import UsageError
    from learnrec.settings import get_settings
    from learnrec.transform.dbt_runner import DbtRunError, generate_docs, parse_project, run_dbt

    if not args.dbt_args:
        raise UsageError("give the dbt command, e.g. `learnrec dbt build` or `learnrec dbt docs generate`")
    settings = get_settings()
    try:
        if args.dbt_args[:2] == ["docs", "generate"] and len(args.dbt_args) == 2:
            print(f"dbt docs: {generate_docs(settings)}")
            return 0
        if args.dbt_args == ["parse"]:
            print(f"dbt manifest for the DAGs: {parse_project(settings)}")
            return 0
        result = run_dbt(settings, args.dbt_args[0], *args.dbt_args[1:])
    except DbtRunError as exc:
        print(f"learnrec dbt: {exc}")
        return 1
    print(f"dbt {args.dbt_args[0]}: {len(result.statuses)} nodes, artifacts in {result.target_path}")
    return 0
