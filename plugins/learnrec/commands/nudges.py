"""``learnrec nudges``: plan, deliver and track re-engagement nudges (the learner_nudges DAG's steps)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from learnrec.commands.argtypes import iso_date, iso_instant

if TYPE_CHECKING:
    from learnrec.settings import Settings


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
    webhook = steps.add_parser(
        "webhook",
        help="receive SendGrid's signed Event Webhook into the landing folder (runs until stopped)",
        description="Verifies each POST to /sendgrid/events with LEARNREC_SENDGRID_WEBHOOK_PUBLIC_KEY "
        "and lands accepted batches for `ingest-events` (see exports/nudges/webhook.py).",
    )
    webhook.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    webhook.add_argument("--port", type=int, default=8025, help="port to bind (default 8025)")
    unsubscribe = steps.add_parser("unsubscribe", help="stop nudges to a learner (support, app requests)")
    unsubscribe.add_argument("learner_id")
    unsubscribe.add_argument("--channel", choices=("email", "push", "all"), default="all")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exports.nudges.pipeline import deliver, ingest_events, plan_for_date
    from learnrec.settings import get_settings

    settings = get_settings()
    if args.step == "webhook":
        return _serve_webhook(settings, args.host, args.port)
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


def _serve_webhook(settings: Settings, host: str, port: int) -> int:
    """Serve until interrupted; a missing or unusable verification key is a usage error."""
    from exports.nudges.webhook import WEBHOOK_PATH, make_server
    from learnrec.cli import UsageError

    try:
        server = make_server(settings, host, port)
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    bound_host, bound_port = server.server_address[:2]
    print(f"receiving SendGrid events on http://{bound_host}:{bound_port}{WEBHOOK_PATH}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
