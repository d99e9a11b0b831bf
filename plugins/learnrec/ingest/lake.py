"""The lake copy of landed events: Parquet partitioned by event date and hour.

Layout: ``<lake>/events/event_date=YYYY-MM-DD/hour=HH/<batch_id>.parquet``; each file holds all
columns of ``raw.learner_events`` (event_date included), so one file read alone is complete and
Spark's partition discovery agrees with its content. A late event goes to its own event date's
folder. Files are named by batch, so rewriting a batch (recovery after a crash between the
warehouse commit and the lake write) replaces its files instead of duplicating them.
"""

from __future__ import annotations

import posixpath
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

EVENTS_PREFIX = "events"
#: Parallel partition writers (a batch of a backlog touches one partition per hour it covers).
WRITERS = 4


def _filesystem(lake_root: str) -> tuple[pafs.FileSystem, str]:
    return pafs.FileSystem.from_uri(lake_root)


def event_partition(lake_root: str, event_date: str, hour: int | None = None) -> str:
    """Folder of one event date (and hour) below the lake root, as a URI/path."""
    parts = [lake_root.rstrip("/"), EVENTS_PREFIX, f"event_date={event_date}"]
    if hour is not None:
        parts.append(f"hour={hour:02d}")
    return "/".join(parts)


def write_batch(lake_root: str, events: pa.Table, batch_id: str) -> list[str]:
    """Write one batch's events into their date/hour partitions; returns the files written."""
    if not events.num_rows:
        return []
    fs, root = _filesystem(lake_root)
    # partition keys as numbers: only the groups' own keys are formatted (strftime per row is slow)
    keys = pa.table({"d": events.column("event_date"), "h": pc.hour(events.column("event_at"))})
    order = pc.sort_indices(keys, sort_keys=[("d", "ascending"), ("h", "ascending")])
    events, keys = events.take(order), keys.take(order)
    # on sorted keys, a single-threaded group_by lists the groups in order: contiguous slices
    groups = keys.group_by(["d", "h"], use_threads=False).aggregate([("h", "count")]).to_pylist()
    slices, start = [], 0
    for group in groups:
        folder = posixpath.join(
            root, EVENTS_PREFIX, f"event_date={group['d'].isoformat()}", f"hour={group['h']:02d}"
        )
        slices.append((folder, events.slice(start, group["h_count"])))
        start += group["h_count"]

    def write(folder: str, part: pa.Table) -> str:
        fs.create_dir(folder, recursive=True)
        path = posixpath.join(folder, f"{batch_id}.parquet")
        with fs.open_output_stream(path + ".tmp") as out:
            pq.write_table(part, out, compression="zstd")
        fs.move(path + ".tmp", path)
        return path

    # Parquet encoding releases the GIL: partitions are written in parallel
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        return list(pool.map(lambda item: write(*item), slices))
