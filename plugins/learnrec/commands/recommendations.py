"""``learnrec recommendations``: precompute, gate, publish, export, rollback, show.

The same step functions as the nightly DAG's tasks (``exports.recommendations.steps``).
"""

from __future__ import annotations

import argparse

from learnrec.commands.argtypes import iso_date


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "recommendations",
        help="precompute, gate, publish and export per-learner recommendations",
        description="Per-learner recommendations and learning paths: each action is one nightly step.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="precompute -> gate -> publish -> export for a run date")
    pre = actions.add_parser("precompute", help="write a new (unpublished) version for a run date")
    for p in (run, pre):
        p.add_argument(
            "--run-date", type=iso_date, required=True, help="last complete event day (YYYY-MM-DD)"
        )
    for name, text in (("gate", "validate a version"), ("publish", "make a validated version current")):
        actions.add_parser(name, help=text).add_argument("--run-id", required=True)
    actions.choices["publish"].add_argument(
        "--force", action="store_true", help="also a rolled-back version, or one older than the current one"
    )
    actions.add_parser("export", help="export the current version to the serving store")
    actions.add_parser("rollback", help="go back one version (and re-export it)")
    show = actions.add_parser("show", help="print a learner's current recommendations and path")
    show.add_argument("learner_id")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from exports.recommendations import steps
    from exports.recommendations.publish import PublicationError
    from learnrec.cli import UsageError
    from learnrec.settings import get_settings

    settings = get_settings()
    try:
        if args.action in ("run", "precompute"):
            report = steps.precompute_step(settings, args.run_date)
            print(
                f"precomputed {report.run_id}: {report.n_recommendations:,} recommendations for "
                f"{report.n_learners:,} learners, {report.n_path_rows:,} path steps in {report.seconds:.1f}s; "
                f"routes {dict(report.fallbacks)}"
            )
            if args.action == "precompute":
                return 0
            args.run_id = report.run_id
        if args.action in ("run", "gate"):
            print(steps.gate_step(settings, args.run_id).describe())
        if args.action in ("run", "publish"):
            switch = steps.publish_step(settings, args.run_id, force=getattr(args, "force", False))
            if switch.held_back_by:
                print(
                    f"kept {switch.held_back_by} current: {switch.run_id} is older (publish --force serves it)"
                )
            else:
                print(f"published {switch.run_id} (was {switch.previous_run_id}); {switch.logged:,} logged")
        if args.action in ("run", "export"):
            exported = steps.export_step(settings)
            print(f"exported {exported}" if exported else "nothing published yet")
        if args.action == "rollback":
            switch = steps.rollback_step(settings)
            print(f"rolled back to {switch.run_id} (from {switch.previous_run_id})")
        if args.action == "show":
            from learnrec.commands.showcase import print_learner

            print_learner(settings, args.learner_id)
    except (PublicationError, steps.GateFailed, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return 0
