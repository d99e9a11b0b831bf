"""A small generated world per test (landing files with duplicates, late and bad lines) and the
reference verdict on every landed line, computed one payload at a time with the contract's
pydantic model: the bulk SQL validation must agree with it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from learnrec.contracts.events import LearnerEvent, event_id, parse_payload
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse, connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots
from learnrec.world.kafka import landing_files
from tests.plugins.world.conftest import World, make_world

#: Validation time of the tests: after every event of the world (ending END), before 2099.
NOW = datetime(2026, 11, 2, 6, tzinfo=UTC)


@dataclass(frozen=True)
class Expected:
    """What landing the world must produce, from the reference model."""

    lines: int
    event_ids: set[str]
    rejected: int
    late_by_date: Counter  # event_date -> distinct events arriving after their day closed


def reference(world: World, known_learners: set[str], known_courses: set[str]) -> Expected:
    seen: set[str] = set()
    late: Counter = Counter()
    lines = rejected = 0
    for path in landing_files(world.landing):
        arrival = date.fromisoformat(path.parent.parent.name.removeprefix("date="))
        for line in path.read_text().splitlines():
            lines += 1
            try:
                event = LearnerEvent.model_validate(parse_payload(line))
                event.check_not_future(NOW)
                if event.learner_id not in known_learners or event.course_id not in known_courses:
                    raise ValueError("unknown id")
            except (ValueError, ValidationError):
                rejected += 1
                continue
            eid = event_id(event)
            if eid not in seen and event.timestamp.date() < arrival:
                late[event.timestamp.date()] += 1
            seen.add(eid)
    return Expected(lines=lines, event_ids=seen, rejected=rejected, late_by_date=late)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, n_learners=120, n_courses=80, days=6, bad_share=0.03)


@pytest.fixture
def settings(world: World) -> Settings:
    return world.settings


@pytest.fixture
def loaded_sources(settings: Settings) -> None:
    with connect_warehouse(settings) as warehouse:
        load_source_snapshots(warehouse, settings.landing_path)


@pytest.fixture
def expected(world: World, settings: Settings, loaded_sources: None) -> Expected:
    with connect_warehouse(settings) as warehouse:
        learners = set(warehouse.query("SELECT learner_id FROM raw.learners").column(0).to_pylist())
        courses = set(warehouse.query("SELECT course_id FROM raw.courses").column(0).to_pylist())
    return reference(world, learners, courses)


def landed_state(warehouse: Warehouse) -> dict[str, object]:
    """Everything ingestion publishes, in a comparable form."""
    return {
        "events": sorted(warehouse.query("SELECT event_id FROM raw.learner_events").column(0).to_pylist()),
        "quarantine": sorted(
            map(
                tuple,
                warehouse.query(
                    "SELECT source_uri, source_partition, source_offset, reason FROM raw.quarantined_events"
                )
                .to_pandas()
                .astype(str)
                .values.tolist(),
            )
        ),
    }


def crash_at(step: str, batch: int = 2):
    """A fault hook that dies when batch number ``batch`` reaches ``step`` (earlier batches land)."""
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name == step:
            seen["n"] += 1
            if seen["n"] == batch:
                raise RuntimeError(f"injected crash at {name}")

    return hook


def assert_landed_exactly(report, warehouse: Warehouse, world: World, expected: Expected):
    """What any landing of the world must publish (whatever the warehouse); returns the events."""
    assert report.total("consumed") == expected.lines
    assert report.total("loaded") == len(expected.event_ids)
    assert report.total("quarantined") == expected.rejected
    assert report.total("loaded") + report.total("quarantined") + report.total("duplicates") == expected.lines
    events = warehouse.query("SELECT * FROM raw.learner_events")
    assert set(events.column("event_id").to_pylist()) == expected.event_ids
    assert events.num_rows == len(expected.event_ids), "no event twice"
    batches = warehouse.query("SELECT * FROM raw.ingest_batches").to_pylist()
    assert sum(b["consumed"] for b in batches) == expected.lines
    assert all(b["loaded"] + b["quarantined"] + b["duplicates"] == b["consumed"] for b in batches)
    assert all(b["lake_written"] for b in batches)
    late = warehouse.query("SELECT event_date, sum(late_events) AS n FROM raw.reprocess_dates GROUP BY 1")
    assert {r["event_date"]: r["n"] for r in late.to_pylist()} == dict(expected.late_by_date)
    quarantine = warehouse.query("SELECT * FROM raw.quarantined_events").to_pylist()
    assert all(q["reason_detail"] and q["payload"] is not None for q in quarantine)
    # each way the world breaks a line is caught under its own reason (the kinds are named alike)
    assert Counter(q["reason"] for q in quarantine) == Counter(world.manifest["bad_lines_by_kind"])
    return events
