"""``learnrec nudges``: plan, deliver and track re-engagement nudges (the learner_nudges DAG's steps)."""

from __future__ import annotations

import argparse
import json

from learnrec.commands.argtypes import iso_date, iso_instant


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "nudges",
        help="plan, deliver and track re-engagement nudges",
        description="Steps of the learner_nudges DAG. `run` does all of them for one date: ingest "
        "delivery events, draft (Re-engagement Agent), plan (consent, channel, caps) and deliver "
        "(quiet hours; file sink, SendGrid or FCM by LEARNREC_EMAIL_PROVIDER / _PUSH_PROVIDER). "
        "Every step is idempotent: reruns never send a nudge twice.",
    )
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    for name, help_text, needs_date in (
        ("run", "all steps for one date", True),
        ("plan", "plan the stored drafts of a date into the outbox", True),
        ("deliver", "send what is due now", False),
        ("ingest-events", "load provider delivery events from the landing folder", False),
    ):
        step = steps.add_parser(name, help=help_text)
        if needs_date:
            step.add_argument(
                "--date", type=iso_date, required=True, help="nudge date = run date (YYYY-MM-DD)"
            )
        if name in ("run", "deliver"):
            step.add_argument(
                "--now", type=iso_instant, help="evaluate quiet hours at this instant (default: now)"
            )
    unsubscribe = steps.add_parser("unsubscribe", help="stop nudges to a learner (support, app requests)")
    unsubscribe.add_argument("learner_id")
    unsubscribe.add_argument("--channel", choices=("email", "push", "all"), default="all")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exports.nudges.pipeline import deliver, ingest_events, plan_for_date
    from learnrec.settings import get_settings

    settings = get_settings()
    if args.step == "unsubscribe":
        from exports.nudges.pipeline import unsubscribe

        unsubscribe(settings, args.learner_id, args.channel, source="cli")
        print(f"{args.learner_id}: no more nudges by {args.channel}")
        return 0
    now = getattr(args, "now", None)
    reports: dict[str, object] = {}
    if args.step in ("run", "ingest-events"):
        reports["ingest_events"] = ingest_events(settings)
    if args.step == "run":
        from ml.agents.tasks import run_reengagement_agent

        reports["drafts"] = run_reengagement_agent(args.date)
    if args.step in ("run", "plan"):
        reports["plan"] = plan_for_date(settings, args.date)
    if args.step in ("run", "deliver"):
        reports["deliver"] = deliver(settings, now=now)
    print(json.dumps(reports, indent=2, default=str))
    return 0
