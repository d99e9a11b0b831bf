"""Landing files: JSON lines that apps (or the synthetic world) drop into the landing folder.

A file is published by renaming it from ``*.tmp`` when complete, so a ``.tmp`` file is still being
written and is never read. Landed files are recorded in ``raw.ingest_files`` in the same
transaction as their events: each file is processed exactly once, a crash mid-batch leaves it
unrecorded (the rerun takes it again, whole), and a file is identified by its path (files are
immutable once published). A producer that appends to a published file anyway would lose the
appended lines, so a landed file that grew has its tail (the bytes after those landed) landed
too, numbered on from its last landed line, and recorded as one more row of that path.

A file's arrival is its folder's hour, unless it was written after that hour ended (a producer
delivering late into an old hour's folder): then it is its modification time, so its events are
late by when they actually came and a rerun of the old hour does not take them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from learnrec.ingest.payloads import lines_table
from learnrec.ingest.sources.base import EventSource, SourceBatch
from learnrec.ingest.tables import LANDED_FILES
from learnrec.warehouse import Warehouse

log = logging.getLogger(__name__)

EVENTS_FOLDER = "learner_events"
_ARRIVAL = re.compile(r"date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/")
#: A file finished this long after its folder's hour still counts as arriving in that hour.
ARRIVAL_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class LandingFile:
    relative: str  # path below the landing folder: the file's identity
    size_bytes: int  # landed up to this size (the size seen when it was listed)
    arrived_at: datetime  # start of its folder's hour, or its modification time if later (_arrival)
    landed_bytes: int = 0  # bytes landed by earlier batches (a file appended to after landing)
    landed_lines: int = 0

    @property
    def key(self) -> str:
        """The slice of the file a batch takes (a tail's batch must not reuse the file's batch id)."""
        return f"{self.relative}@{self.landed_bytes}" if self.landed_bytes else self.relative


def _arrival(relative: str, modified: datetime) -> datetime:
    match = _ARRIVAL.search(relative)
    if not match:
        return modified
    hour = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC) + timedelta(hours=int(match.group(2)))
    return modified if modified > hour + timedelta(hours=1) + ARRIVAL_GRACE else hour


class FileSource(EventSource):
    name = "files"

    def __init__(self, landing: Path) -> None:
        self.landing = landing
        self.folder = landing / EVENTS_FOLDER

    def pending(self, warehouse: Warehouse, until: datetime | None) -> list[LandingFile]:
        """Published files not landed yet (or grown since), oldest arrival first."""
        if not self.folder.exists():
            return []
        landed = {
            r["path"]: (r["size_bytes"], r["lines"])
            for r in warehouse.query(
                "SELECT path, max(size_bytes) AS size_bytes, CAST(sum(lines) AS BIGINT) AS lines "
                f"FROM {LANDED_FILES} GROUP BY path"
            ).to_pylist()
        }
        files = []
        for path in sorted(self.folder.rglob("*.jsonl")):
            relative = path.relative_to(self.landing).as_posix()
            stat = path.stat()
            size = stat.st_size
            landed_bytes, landed_lines = landed.get(relative, (0, 0))
            if relative in landed and size <= landed_bytes:
                if size < landed_bytes:
                    log.error(
                        "%s shrank after it was landed (%d -> %d bytes): ignored",
                        relative,
                        landed_bytes,
                        size,
                    )
                continue
            arrived = _arrival(relative, datetime.fromtimestamp(stat.st_mtime, UTC))
            if until is None or arrived < until:
                files.append(LandingFile(relative, size, arrived, landed_bytes, landed_lines))
        return sorted(files, key=lambda f: (f.arrived_at, f.relative))

    def poll(self, warehouse: Warehouse, max_events: int, until: datetime | None) -> SourceBatch | None:
        tables, taken = [], []
        lines = 0
        for file in self.pending(warehouse, until):
            if taken and lines >= max_events:
                break
            with (self.landing / file.relative).open("rb") as data:
                data.seek(file.landed_bytes)  # only what is not landed, up to the size listed
                table = lines_table(
                    data.read(file.size_bytes - file.landed_bytes),
                    source=self.name,
                    source_uri=file.relative,
                    arrived_at=file.arrived_at,
                    first_line=file.landed_lines + 1,
                )
            tables.append(table)
            taken.append((file, table.num_rows))
            lines += table.num_rows
        if not taken:
            return None
        key = "files:" + "|".join(f.key for f, _ in taken)
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
