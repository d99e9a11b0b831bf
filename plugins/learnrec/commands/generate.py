"""``learnrec generate``: write a synthetic learning world (landing files, sources, ground truth)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from learnrec.commands.argtypes import iso_date

if TYPE_CHECKING:
    from learnrec.settings import Settings


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from learnrec.world.config import PRESETS

    parser = subparsers.add_parser(
        "generate",
        help="generate a synthetic learning world",
        description="Writes landing files of learner events (the Kafka payload format), the source "
        "snapshots and the evaluation-only ground truth under LEARNREC_HOME. Deterministic by seed.",
    )
    parser.add_argument("--size", choices=sorted(PRESETS), default="small", help="preset (default: small)")
    parser.add_argument("--learners", type=_positive, help="override the preset's learner count")
    parser.add_argument("--courses", type=_positive, help="override the preset's course count")
    parser.add_argument("--days", type=_positive, help="override the preset's number of days")
    parser.add_argument("--end-date", type=iso_date, help="last day with events (default: yesterday, UTC)")
    parser.add_argument("--seed", type=int, help="random seed (default: LEARNREC_SEED)")
    parser.add_argument("--bad-share", type=_share, help="share of corrupted lines (default 0.01)")
    parser.add_argument(
        "--duplicate-share", type=_share, help="share of events delivered twice (default 0.02)"
    )
    parser.add_argument("--late-share", type=_share, help="share of events arriving days late (default 0.02)")
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="also produce the events to LEARNREC_KAFKA_TOPIC on LEARNREC_KAFKA_BOOTSTRAP_SERVERS",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the landing files and world of a home already in use (events not yet ingested are lost)",
    )
    parser.set_defaults(func=run)


def used_home_problem(settings: Settings) -> str | None:
    """Why generating here would destroy data (landing files may hold events not yet ingested), or None."""
    from learnrec.world.generate import EVENTS_FOLDER, SOURCES_FOLDER

    landing = settings.landing_path
    files = sum(1 for path in landing.rglob("*") if not path.is_dir()) if landing.is_dir() else 0
    if not files and not settings.warehouse_path.exists():
        return None
    held = f"{landing} holds {files:,} files" if files else f"the warehouse {settings.warehouse_path} exists"
    return (
        f"this home is in use ({held}): generating would delete {landing / EVENTS_FOLDER}, {landing / SOURCES_FOLDER} "
        f"and {settings.world_path}, including any events not yet ingested; pass --force to do so"
    )


def run(args: argparse.Namespace) -> int:
    from learnrec.cli import UsageError
    from learnrec.settings import get_settings
    from learnrec.world.config import preset
    from learnrec.world.generate import generate_world

    settings = get_settings()
    problem = None if args.force else used_home_problem(settings)
    if problem:
        raise UsageError(problem)
    overrides = {
        "n_learners": args.learners,
        "n_courses": args.courses,
        "days": args.days,
        "bad_share": args.bad_share,
        "duplicate_share": args.duplicate_share,
        "late_share": args.late_share,
    }
    end = args.end_date or (datetime.now(UTC).date() - timedelta(days=1))
    seed = settings.seed if args.seed is None else args.seed
    try:
        config = preset(args.size, end, seed=seed, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.kafka and not settings.kafka_bootstrap_servers:
        raise UsageError("--kafka needs LEARNREC_KAFKA_BOOTSTRAP_SERVERS")
    summary = generate_world(config, settings)
    print(
        f"world {summary.window_start}..{summary.window_end}: {summary.learners:,} learners, "
        f"{summary.courses:,} courses, {summary.events:,} events in {summary.lines:,} lines "
        f"({summary.duplicates:,} duplicates, {summary.late:,} late, {summary.bad_lines:,} bad) "
        f"in {summary.files:,} files, {summary.seconds:.1f}s"
    )
    print(f"  landing:      {summary.landing}")
    print(f"  ground truth: {summary.ground_truth} (evaluation only)")
    if args.kafka:
        from learnrec.world.kafka import produce_landing_to_kafka

        sent = produce_landing_to_kafka(
            settings.landing_path, str(settings.kafka_bootstrap_servers), settings.kafka_topic
        )
        print(f"  kafka:        {sent:,} messages to {settings.kafka_topic}")
    return 0
