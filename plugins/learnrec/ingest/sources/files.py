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

Entries that are not event files to read (``learnrec.ingest.landing``) and lines over the size
limit are quarantined with their reason; such an entry is recorded like a landed file (no lines),
so it is reported once, and never blocks the files after it.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from learnrec.ingest.landing import Lines, read_lines, scan
from learnrec.ingest.payloads import PAYLOAD_SCHEMA, payload_table
from learnrec.ingest.sources.base import EventSource, SourceBatch
from learnrec.ingest.tables import LANDED_FILES, REJECTED_SCHEMA
from learnrec.settings import Settings
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
    reason: str | None = None  # why the entry is quarantined instead of read (landing.LANDING_REASONS)
    detail: str = ""

    @property
    def key(self) -> str:
        """The slice of the file a batch takes (a tail's batch must not reuse the file's batch id)."""
        return f"{self.relative}@{self.landed_bytes}" if self.landed_bytes else self.relative


def _arrival(relative: str, path: Path) -> datetime:
    match = _ARRIVAL.search(relative)
    try:
        modified: datetime | None = datetime.fromtimestamp(path.lstat().st_mtime, UTC)
    except OSError:  # an entry that cannot be read is reported at once
        modified = None
    if not match:
        return modified or datetime.min.replace(tzinfo=UTC)
    hour = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC) + timedelta(hours=int(match.group(2)))
    return modified if modified and modified > hour + timedelta(hours=1) + ARRIVAL_GRACE else hour


#: Used when no settings are given (tests): the setting's default.
DEFAULT_MAX_LINE_BYTES = Settings.model_fields["ingest_max_line_bytes"].default


def _open_regular(path: Path) -> BinaryIO:
    """Open a file for reading without following a link put there since it was listed."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(f"{path} is no longer a regular file")
    return os.fdopen(fd, "rb")


def _rejected_rows(file: LandingFile, lines: Lines | None, max_line_bytes: int) -> list[dict]:
    if file.reason is not None:
        log.warning("landing entry quarantined (%s): %s", file.reason, file.detail)
        return [_row(file.relative, 0, "", file.reason, file.detail)]
    return [
        _row(
            file.relative,
            number,
            head,
            "too_large",
            f"line {number} has {size:,} bytes, over LEARNREC_INGEST_MAX_LINE_BYTES={max_line_bytes:,}",
        )
        for number, size, head in (lines.too_large if lines else [])
    ]


def _row(relative: str, offset: int, payload: str, reason: str, detail: str) -> dict:
    return {
        "payload": payload,
        "reason": reason,
        "reason_detail": detail,
        "source": FileSource.name,
        "source_uri": relative,
        "source_partition": None,
        "source_offset": offset,
    }


class FileSource(EventSource):
    name = "files"

    def __init__(self, landing: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.landing = landing
        self.folder = landing / EVENTS_FOLDER
        self.max_line_bytes = max_line_bytes

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
        for entry in scan(self.landing, self.folder):
            relative = entry.relative
            arrived = _arrival(relative, entry.path)
            if entry.reason is not None:
                if relative not in landed:
                    files.append(
                        LandingFile(relative, entry.size, arrived, reason=entry.reason, detail=entry.detail)
                    )
                continue
            size = entry.size
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
            files.append(LandingFile(relative, size, arrived, landed_bytes, landed_lines))
        return sorted(
            (f for f in files if until is None or f.arrived_at < until),
            key=lambda f: (f.arrived_at, f.relative),
        )

    def poll(self, warehouse: Warehouse, max_events: int, until: datetime | None) -> SourceBatch | None:
        tables, rejected, taken = [], [], []
        lines = 0
        for listed in self.pending(warehouse, until):
            if taken and lines >= max_events:
                break
            file, read = self._read(listed)
            if read is not None:
                tables.append(
                    payload_table(
                        read.text,
                        source=self.name,
                        source_uri=file.relative,
                        offsets=pa.array(read.numbers),
                        arrived_at=file.arrived_at,
                    )
                )
            rejected += _rejected_rows(file, read, self.max_line_bytes)
            n = len(read.numbers) + len(read.too_large) if read else 0
            taken.append((file, n))
            lines += max(n, 1)
        if not taken:
            return None
        key = "files:" + "|".join(f.key for f, _ in taken)
        return SourceBatch(
            payloads=pa.concat_tables(tables) if tables else PAYLOAD_SCHEMA.empty_table(),
            position_key=key,
            position=taken,
            rejected=pa.Table.from_pylist(rejected, REJECTED_SCHEMA),
        )

    def _read(self, file: LandingFile) -> tuple[LandingFile, Lines | None]:
        """The file's lines not landed yet (up to the size listed); an entry that turns out
        unreadable is quarantined instead, as one listed so."""
        if file.reason is not None:
            return file, None
        try:
            with _open_regular(self.landing / file.relative) as data:
                data.seek(file.landed_bytes)
                return file, read_lines(
                    data,
                    file.size_bytes - file.landed_bytes,
                    first_line=file.landed_lines + 1,
                    max_line_bytes=self.max_line_bytes,
                )
        except OSError as exc:
            detail = f"{file.relative}: {exc.strerror or exc}"
            return replace(file, reason="unreadable", detail=detail), None

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
