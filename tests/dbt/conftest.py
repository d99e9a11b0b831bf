"""A tiny generated world in a fresh warehouse, ready for dbt.

Until ingestion (#3) lands, the raw events are built here the way ingest defines them
(contracts.events): the world's landing lines are validated with the event contract, invalid ones
and unknown ids dropped (ingest quarantines them), deduplicated by the content-derived event_id,
and stamped with the hour their landing file arrived as ``ingested_at``. So late arrivals land
with a later ``ingested_at`` than their ``event_date``, exactly as in production.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import ValidationError

from learnrec.contracts.events import LearnerEvent, event_id, parse_payload, raw_event_schema
from learnrec.settings import Settings, load_settings
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots
from learnrec.world.config import preset
from learnrec.world.generate import generate_world

END = date(2026, 10, 31)


@dataclass(frozen=True)
class TinyWorld:
    settings: Settings
    events: pa.Table  # raw.learner_events rows for the whole window, in arrival order

    def arrived_by(self, moment: datetime) -> pa.Table:
        """The raw rows ingested before ``moment`` (what the warehouse held at that time)."""
        import pyarrow.compute as pc

        return self.events.filter(
            pc.less(self.events["ingested_at"], pa.scalar(moment, pa.timestamp("us", "UTC")))
        )


def landed_raw_events(landing: Path, learner_ids: set[str], course_ids: set[str]) -> pa.Table:
    """raw.learner_events rows from the landing files, as ingest would write them."""
    rows: dict[str, dict] = {}
    for path in sorted((landing / "learner_events").glob("date=*/hour=*/*.jsonl")):
        arrival_day = date.fromisoformat(path.parent.parent.name.removeprefix("date="))
        hour = int(path.parent.name.removeprefix("hour="))
        ingested_at = datetime(arrival_day.year, arrival_day.month, arrival_day.day, tzinfo=UTC) + timedelta(
            hours=hour + 1
        )
        for offset, line in enumerate(path.read_text().splitlines(), start=1):
            try:
                event = LearnerEvent.model_validate(parse_payload(line))
            except ValidationError:
                continue
            if event.learner_id not in learner_ids or event.course_id not in course_ids:
                continue
            key = event_id(event)
            if key in rows:
                continue
            meta = event.metadata
            rows[key] = {
                "event_id": key,
                "learner_id": event.learner_id,
                "event_type": str(event.event_type),
                "course_id": event.course_id,
                "event_at": event.timestamp,
                "event_date": event.timestamp.date(),
                "watch_duration_seconds": meta.watch_duration_seconds,
                "quiz_score": meta.quiz_score,
                "module_id": meta.module_id,
                "metadata": json.dumps(event.to_payload()["metadata"]),
                "source": "files",
                "source_uri": str(path),
                "source_partition": None,
                "source_offset": offset,
                "batch_id": f"{arrival_day.isoformat()}T{hour:02d}",
                "ingested_at": ingested_at,
            }
    return pa.Table.from_pylist(list(rows.values()), schema=raw_event_schema())


def make_tiny_world(home: Path, **overrides: object) -> TinyWorld:
    """Generate the tiny world under ``home`` and load its operational snapshots into raw."""
    settings = load_settings(home=home)
    generate_world(preset("tiny", END, seed=settings.seed, **overrides), settings)
    with connect_warehouse(settings) as warehouse:
        load_source_snapshots(warehouse, settings.landing_path)
        learners = set(warehouse.query("select learner_id from raw.learners").column(0).to_pylist())
        courses = set(warehouse.query("select course_id from raw.courses").column(0).to_pylist())
    return TinyWorld(settings, landed_raw_events(settings.landing_path, learners, courses))


@pytest.fixture
def tiny_world(learnrec_home: Path) -> TinyWorld:
    return make_tiny_world(learnrec_home)


def served_recommendations(events: pa.Table) -> pa.Table:
    """A Recommendation Log with one impression per outcome case, derived from the world's events.

    served-before-click     shown an hour before a real click on that course: clicked (or further)
    served-before-complete  shown an hour before a real completion: completed
    served-after-everything shown after the pair's last event, two days before the data ends: ignored
    served-at-the-end       shown an hour before the data ends: pending (outcome null)
    """
    rows = events.select(["learner_id", "course_id", "event_type", "event_at"]).to_pylist()
    horizon = max(r["event_at"] for r in rows)
    last_of_pair: dict[tuple[str, str], datetime] = {}
    for r in rows:
        key = (r["learner_id"], r["course_id"])
        last_of_pair[key] = max(last_of_pair.get(key, r["event_at"]), r["event_at"])
    click = next(r for r in rows if r["event_type"] == "click")
    complete = next(r for r in rows if r["event_type"] == "complete")
    quiet_pair = next(key for key, last in sorted(last_of_pair.items()) if last < horizon - timedelta(days=3))
    end_pair = next(key for key, last in sorted(last_of_pair.items()) if last < horizon - timedelta(hours=2))
    hour = timedelta(hours=1)
    impressions = [
        ("served-before-click", click["learner_id"], click["course_id"], click["event_at"] - hour, "clicked"),
        (
            "served-before-complete",
            complete["learner_id"],
            complete["course_id"],
            complete["event_at"] - hour,
            None,
        ),
        ("served-after-everything", *quiet_pair, last_of_pair[quiet_pair] + timedelta(minutes=1), None),
        ("served-at-the-end", *end_pair, horizon - hour, None),
    ]
    utc = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "log_id": [i[0] for i in impressions],
            "learner_id": [i[1] for i in impressions],
            "course_id": [i[2] for i in impressions],
            "model_version": ["blend:v1"] * len(impressions),
            "signals_used": [["collaborative", "content"]] * len(impressions),
            "rank_at_serve": pa.array(range(1, len(impressions) + 1), pa.int32()),
            "served_at": pa.array([i[3] for i in impressions], utc),
            "outcome": [i[4] for i in impressions],
            "outcome_recorded_at": pa.array([i[3] + hour if i[4] else None for i in impressions], utc),
            "received_at": pa.array([i[3] + 2 * hour for i in impressions], utc),
        }
    )
