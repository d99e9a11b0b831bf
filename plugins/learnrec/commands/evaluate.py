"""``learnrec evaluate``: train on the synthetic world and write the evaluation report."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_REPORT = Path("ml") / "EVALUATION.md"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure the models on the generated world and write the evaluation report",
        description="Builds mart-shaped tables from the world under LEARNREC_HOME into a scratch "
        "warehouse (or, with --source warehouse, reads the real marts), runs the nightly training "
        "in a scratch MLflow store under <home>/ml/evaluate, compares against the world's ground "
        "truth and writes a Markdown report with the issue's targets.",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_REPORT, help=f"report path (default {DEFAULT_REPORT})"
    )
    parser.add_argument(
        "--source",
        choices=("world", "warehouse"),
        default="world",
        help="world: build the tables from the world files into a scratch warehouse (default); "
        "warehouse: the real marts (then the content model syncs features.course_embeddings and the "
        "dropout model writes features.dropout_scores there, as a nightly run does)",
    )
    parser.add_argument("--eval-days", type=int, default=7, help="test window length in days (default 7)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import shutil
    from datetime import date

    from benchmarks.harness import RESULTS_DIR
    from learnrec.cli import UsageError
    from learnrec.settings import get_settings, load_settings
    from learnrec.warehouse import connect_warehouse
    from ml.report import run_world_training, write_report
    from ml.training import TrainConfig

    settings = get_settings()
    manifest_path = settings.world_path / "manifest.json"
    if not manifest_path.exists():
        raise UsageError(f"no world under {settings.world_path}: run `learnrec generate` first")
    manifest = json.loads(manifest_path.read_text())
    scratch = settings.home / "ml" / "evaluate"
    shutil.rmtree(scratch, ignore_errors=True)
    if args.source == "world":
        from benchmarks.world_marts import load_world_marts

        bench = load_settings(home=scratch, duckdb_path=scratch / "warehouse.duckdb")
        with connect_warehouse(bench) as warehouse:
            run_date = load_world_marts(warehouse, settings.home)
    else:
        bench = load_settings(home=scratch, duckdb_path=settings.warehouse_path)
        run_date = date.fromisoformat(manifest["summary"]["window_end"])
    config = TrainConfig(eval_days=args.eval_days)
    measured = run_world_training(bench, run_date, config)
    summary = manifest["summary"]
    measured.world = {k: summary[k] for k in ("learners", "courses", "events", "window_start", "window_end")}
    command = f"learnrec evaluate --source {args.source} --eval-days {args.eval_days}"
    targets = write_report(
        args.out,
        bench,
        measured,
        config,
        settings.world_path / "ground_truth",
        command,
        RESULTS_DIR / "results.json",
    )
    print(f"report: {args.out}")
    for name, met in targets.items():
        print(f"  {'met    ' if met else 'MISSED '} {name}")
    return 0
