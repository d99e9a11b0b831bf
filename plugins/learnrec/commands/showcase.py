"""What the demo ends with, and ``learnrec recommendations show`` prints: the pipeline's output as
its readers get it.

Three sample learners' recommendations, reasons and learning path are read from the serving store
exactly as an app would (one cold start, one who skipped onboarding, one active learner); the
nudges are what the outbox decided, and one nudge as the learner got it. A wiring module of the
CLI (it reads what ``exports`` writes), not a subcommand.
"""

from __future__ import annotations

import json

from exports.nudges.outbox import EVENTS, OUTBOX
from exports.recommendations.serving import lookup_sqlite
from learnrec.settings import Settings
from learnrec.tables import CURRENT_RECOMMENDATIONS, CURRENT_VERSION, DIM_LEARNERS
from learnrec.warehouse import connect_warehouse

#: (label, which learners, preferred first): a skipper still on the cold-start fallback shows
#: "until 10 events"; otherwise the most active of each kind.
_PICKS = (
    ("cold start", "r.fallback = 'cold_start' AND NOT coalesce(d.onboarding_skipped, false)", "1"),
    (
        "skipped onboarding",
        "coalesce(d.onboarding_skipped, false)",
        "CASE WHEN r.fallback = 'cold_start' THEN 0 ELSE 1 END",
    ),
    ("active learner", "r.fallback IS NULL", "1"),
)


def sample_learners(settings: Settings) -> list[tuple[str, str]]:
    """(label, learner_id) for each kind present in the current version."""
    found: list[tuple[str, str]] = []
    with connect_warehouse(settings, read_only=True) as warehouse:
        if not warehouse.table_exists(CURRENT_VERSION):
            return found
        for label, where, first in _PICKS:
            learner = warehouse.scalar(
                f"SELECT r.learner_id FROM {CURRENT_RECOMMENDATIONS} r "
                f"JOIN {DIM_LEARNERS} d ON d.learner_id = r.learner_id "
                f"WHERE {where} ORDER BY {first}, coalesce(d.n_behavioural_events, 0) DESC, r.learner_id LIMIT 1"
            )
            if learner is not None:
                found.append((label, learner))
    return found


def print_learner(settings: Settings, learner_id: str, label: str = "", limit: int = 10) -> None:
    if not settings.serving_path.exists():
        print("  (no serving store yet: run `learnrec recommendations run`)")
        return
    recs, path = lookup_sqlite(settings.serving_path, learner_id)
    head = f"{label}: " if label else ""
    source = recs[0]["fallback"] or recs[0]["model_version"] if recs else "-"
    print(f"\n  {head}{learner_id} ({source})")
    for r in recs[:limit]:
        print(f"    {r['rank']:>2}. {r['title'] or r['course_id']:<45} {r['reason']}")
    if len(recs) > limit:
        print(f"    ... {len(recs) - limit} more")
    if path:
        print(f"    learning path ({path[0]['source']}):")
        for step in path:
            print(f"      {step['step']:>2}. {step['title'] or step['course_id']:<43} {step['reason']}")
    else:
        print("    learning path: none (no career goal stated, or the goal is reached)")


def print_recommendation_samples(settings: Settings) -> None:
    """What three kinds of learner see."""
    samples = sample_learners(settings)
    if not samples:
        print("\nrecommendations: nothing published yet")
        return
    print("\nrecommendations for three sample learners (from the serving store apps read)")
    for label, learner in samples:
        print_learner(settings, learner, label)


def print_nudge_samples(settings: Settings) -> None:
    """How the day's nudges were decided, and the first one delivered."""
    with connect_warehouse(settings, read_only=True) as warehouse:
        if not warehouse.table_exists(OUTBOX):
            print("\nnudges: none planned yet (learner_nudges has not run)")
            return
        by_status = warehouse.query(
            f"SELECT status, COALESCE(channel, '-') AS channel, COUNT(*) AS n FROM {OUTBOX}"
            f" GROUP BY status, channel ORDER BY n DESC"
        ).to_pylist()
        reasons = warehouse.query(
            f"SELECT SPLIT_PART(status_reason, ':', 1) AS reason, COUNT(*) AS n FROM {OUTBOX}"
            f" WHERE status IN ('suppressed', 'deferred') GROUP BY reason ORDER BY n DESC"
        ).to_pylist()
        n_events = warehouse.scalar(f"SELECT COUNT(*) FROM {EVENTS}")
    print(f"\nnudges ({OUTBOX}): one per learner, nudge type and day")
    for row in by_status:
        print(f"  {row['status']:<12} {row['channel']:<6} {row['n']:>8,}")
    for row in reasons:
        print(f"  why not sent: {row['reason']:<24} {row['n']:>8,}")
    print(f"  {EVENTS}: {n_events:,} rows")
    sample = next(iter(sorted(settings.outbox_path.rglob("*.jsonl"))), None)
    if sample:
        first = json.loads(sample.read_text().splitlines()[0])
        print(f"  sample ({first['channel']}, {sample}):")
        print(f"    subject: {first['subject']}")
        print(f"    body:    {first['body'][:200]}")
