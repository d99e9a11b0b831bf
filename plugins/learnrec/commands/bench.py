"""``learnrec bench``: run the benchmark suites and write benchmarks/results.json and RESULTS.md."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="run the benchmarks (make bench)")
    parser.add_argument("--only", nargs="+", metavar="SUITE", help="run only these suites")
    parser.add_argument("--quick", action="store_true", help="small scales, to check the harness")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default: benchmarks/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmarks.harness import RESULTS_DIR, SUITES, run_suites
    from learnrec.cli import UsageError

    if args.only and not set(args.only) <= set(SUITES):
        raise UsageError(f"unknown suite(s) {sorted(set(args.only) - set(SUITES))}; known: {sorted(SUITES)}")
    records = run_suites(args.only, args.quick, args.out or RESULTS_DIR)
    print(f"{len(records)} results written to {args.out or RESULTS_DIR}")
    return 0
