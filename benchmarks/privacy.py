"""Benchmark suite ``privacy``: erasing 10k learners against rewriting the whole lake, one run.

A lake in ingest's layout (``events/event_date=D/hour=HH/<batch>.parquet``, every column) and the
same events in ``raw.learner_events`` of a DuckDB warehouse, with the learners in
``raw.learners``. Measured on the same lake, one after the other:

* ``full_rewrite``: read and write back every event file (what an erasure that rewrites
  everything costs: its floor);
* ``erase``: :func:`exports.privacy.eraser.run_erasure` with 10k pending requests, every store
  (here the lake and the warehouse hold data; the other stores are empty).

With 10k of 1M learners spread over every hour, nearly every file holds one of them, so the
erasure rewrites nearly every file too; its extra cost is the ``learner_id`` pre-read and the
warehouse deletes. Smaller than the issue's 50M-event day x 30 days, which does not fit here.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.harness import Recorder, peak_rss_mb
from exports.privacy.eraser import run_erasure
from exports.privacy.requests import ensure_tables, record_requests
from learnrec.contracts.events import raw_event_schema
from learnrec.contracts.sources import LEARNERS
from learnrec.ingest.tables import EVENTS
from learnrec.settings import Settings, load_settings
from learnrec.warehouse import connect_warehouse

#: label -> (days, events per day, learners, learners erased)
SCALES = {"30 days x 1M events/day, 1M learners, erase 10k": (30, 1_000_000, 1_000_000, 10_000)}
QUICK_SCALES = {"3 days x 20k events/day, 20k learners, erase 200": (3, 20_000, 20_000, 200)}
START = date(2026, 10, 1)


def _learner_ids(n: int) -> np.ndarray:
    return np.char.add("L", np.char.zfill(np.arange(n).astype(str), 7))


def _events(day: date, n: int, learners: np.ndarray, rng: np.random.Generator) -> pa.Table:
    utc = pa.timestamp("us", tz="UTC")
    midnight = np.datetime64(day.isoformat(), "us")
    seconds = np.sort(rng.integers(0, 86_400, n)).astype("timedelta64[s]")
    schema = raw_event_schema()
    columns = {
        "event_id": pa.array(np.char.add(f"{day:%Y%m%d}-", np.char.zfill(np.arange(n).astype(str), 9))),
        "learner_id": pa.array(learners[rng.integers(0, len(learners), n)]),
        "event_type": pa.array(np.full(n, "click")),
        "course_id": pa.array(np.char.add("C", rng.integers(0, 10_000, n).astype(str))),
        "event_at": pa.array(midnight + seconds).cast(utc),
        "event_date": pa.array(np.full(n, day), pa.date32()),
        "metadata": pa.array(np.full(n, "{}")),
        "source": pa.array(np.full(n, "files")),
        "source_uri": pa.array(np.full(n, f"learner_events/date={day}/events.jsonl")),
        "source_offset": pa.array(np.arange(n)),
        "batch_id": pa.array(np.full(n, f"b{day:%Y%m%d}")),
        "ingested_at": pa.array(np.full(n, midnight + np.timedelta64(1, "D"))).cast(utc),
    }
    return pa.table({f.name: columns.get(f.name, pa.nulls(n, f.type)) for f in schema}, schema=schema)


def build_world(settings: Settings, days: int, per_day: int, n_learners: int, seed: int = 7) -> None:
    """The lake (one file per day and hour) and the warehouse's events and learners."""
    rng = np.random.default_rng(seed)
    learners = _learner_ids(n_learners)
    lake = Path(settings.lake_root) / "events"
    with connect_warehouse(settings) as wh:
        profiles = pa.table(
            {
                f.name: pa.array(learners) if f.name == "learner_id" else pa.nulls(n_learners, f.type)
                for f in LEARNERS
            }
        ).set_column(LEARNERS.get_field_index("retention_expiry"), "retention_expiry",
                     pa.array(np.full(n_learners, datetime(2030, 1, 1, tzinfo=UTC)), LEARNERS.field("retention_expiry").type))  # fmt: skip
        wh.load_arrow("raw.learners", profiles, mode="replace")
        for d in range(days):
            day = START + timedelta(days=d)
            events = _events(day, per_day, learners, rng)
            wh.load_arrow(EVENTS, events)
            hours = pa.compute.hour(events.column("event_at")).to_numpy()
            for hour in np.unique(hours):
                folder = lake / f"event_date={day}" / f"hour={hour:02d}"
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(
                    events.filter(pa.array(hours == hour)),
                    folder / f"b{day:%Y%m%d}.parquet",
                    compression="zstd",
                )


def rewrite_everything(lake: Path) -> int:
    """Read and write back every event file (atomically, as the eraser does); returns the files."""
    files = sorted(lake.rglob("*.parquet"))
    for path in files:
        staged = path.with_name(f".{path.name}.rewrite")
        pq.write_table(pq.read_table(path), staged, compression="zstd")
        staged.replace(path)
    return len(files)


def run(recorder: Recorder, quick: bool) -> None:
    for label, (days, per_day, n_learners, n_erased) in (QUICK_SCALES if quick else SCALES).items():
        with tempfile.TemporaryDirectory(prefix="learnrec-bench-privacy-") as tmp:
            settings = load_settings(home=Path(tmp) / "home")
            build_world(settings, days, per_day, n_learners)
            started = time.perf_counter()
            files = rewrite_everything(Path(settings.lake_root) / "events")
            full_rewrite = time.perf_counter() - started

            erased = list(_learner_ids(n_learners)[:: n_learners // n_erased][:n_erased])
            now = datetime.now(UTC)
            with connect_warehouse(settings) as wh:
                ensure_tables(wh)
                record_requests(wh, settings, erased, kind="request", source="bench", reason=None, now=now)
            started = time.perf_counter()
            report = run_erasure(settings, now=now)
            erase = time.perf_counter() - started
            notes = {"files": files, "events": days * per_day, "removed": report.removed}
            recorder.record("full_rewrite_seconds", full_rewrite, "s", label, **notes)
            recorder.record(
                "erase_seconds",
                erase,
                "s",
                label,
                ratio_to_full_rewrite=round(erase / full_rewrite, 2),
                **notes,
            )
            recorder.record("peak_rss", peak_rss_mb(), "MiB", label)
