"""``learnrec train --run-date D``: the nightly models for a run date (what the DAG's train tasks do)."""

from __future__ import annotations

import argparse

from learnrec.commands.argtypes import iso_date

MODELS = ("popularity", "als", "lightfm", "content", "dropout")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train, evaluate and promote the nightly models for a run date",
        description="Fits every model on the marts and features up to the run date (time split: "
        "validation, test, serving cuts), learns the blend, evaluates everything against the "
        "popularity and random baselines, logs MLflow runs and moves the 'champion' aliases only "
        "for better, sane models; writes features.dropout_scores. --model trains one component "
        "(its MLflow run id is printed; the blend needs all of them).",
    )
    parser.add_argument(
        "--run-date", type=iso_date, required=True, help="last complete event day (YYYY-MM-DD)"
    )
    parser.add_argument("--model", choices=MODELS, help="train only this model (default: everything)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from learnrec.cli import UsageError
    from learnrec.settings import get_settings
    from ml.data import MissingTableError
    from ml.training import train_all, train_dropout, train_model

    settings = get_settings()
    try:
        if args.model == "dropout":
            runs = {"dropout": train_dropout(settings, args.run_date)}
        elif args.model:
            runs = {args.model: train_model(settings, args.run_date, args.model)}
        else:
            runs = train_all(settings, args.run_date)
    except MissingTableError as exc:
        raise UsageError(str(exc)) from None
    for name, run_id in runs.items():
        print(f"{name}: mlflow run {run_id}")
    return 0
