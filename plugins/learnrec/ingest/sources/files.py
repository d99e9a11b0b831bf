"""Landing files: JSON lines that apps (or the synthetic world) drop into the landing folder.

A file is published by renaming it from ``*.tmp`` when complete, so a ``.tmp`` file is still being
written and is never read. Landed files are recorded in ``raw.ingest_files`` in the same
transaction as their events: each file is processed exactly once, a crash mid-batch leaves it
unrecorded (the rerun takes it again, whole), and a file is identified by its path (files are
immutable once published).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from learnrec.ingest.payloads import lines_table
from learnrec.ingest.sources.base import EventSource, SourceBatch
from learnrec.ingest.tables import LANDED_FILES
from learnrec.warehouse import Warehouse

EVENTS_FOLDER = "learner_events"
_ARRIVAL = re.compile(r"date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/")


@dataclass(frozen=True)
class LandingFile:
    relative: str  # path below the landing folder: the file's identity
    size_bytes: int
    arrived_at: datetime  # start of the arrival hour in its path, else its modification time


def _arrival(relative: str, path: Path) -> datetime:
    match = _ARRIVAL.search(relative)
    if match:
        day = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
        return day + timedelta(hours=int(match.group(2)))
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class FileSource(EventSource):
    name = "files"

    def __init__(self, landing: Path) -> None:
        self.landing = landing
        self.folder = landing / EVENTS_FOLDER

    def pending(self, warehouse: Warehouse, until: datetime | None) -> list[LandingFile]:
        """Published files not landed yet, oldest arrival first."""
        if not self.folder.exists():
            return []
        landed = set(warehouse.query(f"SELECT path FROM {LANDED_FILES}").column("path").to_pylist())
        files = []
        for path in sorted(self.folder.rglob("*.jsonl")):
            relative = path.relative_to(self.landing).as_posix()
            if relative in landed:
                continue
            arrived = _arrival(relative, path)
            if until is None or arrived < until:
                files.append(LandingFile(relative, path.stat().st_size, arrived))
        return sorted(files, key=lambda f: (f.arrived_at, f.relative))

    def poll(self, warehouse: Warehouse, max_events: int, until: datetime | None) -> SourceBatch | None:
        tables, taken = [], []
        lines = 0
        for file in self.pending(warehouse, until):
            if taken and lines >= max_events:
                break
            table = lines_table(
                (self.landing / file.relative).read_bytes(),
                source=self.name,
                source_uri=file.relative,
                arrived_at=file.arrived_at,
            )
            tables.append(table)
            taken.append((file, table.num_rows))
            lines += table.num_rows
        if not taken:
            return None
        key = "files:" + "|".join(f.relative for f, _ in taken)
        return SourceBatch(payloads=pa.concat_tables(tables), position_key=key, position=taken)

    def record_position(self, warehouse: Warehouse, batch: SourceBatch, batch_id: str, at: datetime) -> None:
        rows = batch.position
        values = ", ".join(["(?, ?, ?, ?, CAST(? AS TIMESTAMPTZ))"] * len(rows))
        params: list[object] = []
        for file, n in rows:
            params += [file.relative, file.size_bytes, n, batch_id, at.isoformat()]
        warehouse.execute(
            f"INSERT INTO {LANDED_FILES} (path, size_bytes, lines, batch_id, landed_at) VALUES {values}",
            params,
        )
