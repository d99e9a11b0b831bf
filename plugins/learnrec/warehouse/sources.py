"""Load the operational systems' snapshot exports (learners, courses, ratings, taxonomy) into ``raw``.

The exports arrive as Parquet files ``<landing>/sources/<table>.parquet`` in the schemas of
:mod:`learnrec.contracts.sources`. A snapshot is checked against its contract before anything is
written, and each table is replaced in one transaction, so a bad export never half-replaces raw.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from learnrec import course_metadata
from learnrec.contracts.sources import SOURCE_TABLES
from learnrec.privacy import ErasedLearners, erased_hashes
from learnrec.settings import Settings
from learnrec.warehouse.base import Warehouse


class SourceSnapshotError(ValueError):
    """A snapshot export is missing or does not match its contract."""


def read_snapshot(landing: Path, table: str) -> pa.Table:
    """Read one export and conform it to its contract schema, or explain why it cannot be."""
    path = landing / "sources" / f"{table}.parquet"
    if not path.exists():
        raise SourceSnapshotError(f"source snapshot {path} is missing")
    data = pq.read_table(path)
    expected = SOURCE_TABLES[table]
    missing = [name for name in expected.names if name not in data.column_names]
    if missing:
        raise SourceSnapshotError(f"{path}: missing column(s) {missing}")
    try:
        data = data.select(expected.names).cast(expected)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SourceSnapshotError(f"{path}: does not match the {table} contract: {exc}") from exc
    for field in expected:
        if not field.nullable and data.column(field.name).null_count:
            raise SourceSnapshotError(f"{path}: column {field.name} has nulls but is required")
    return data


def load_source_snapshots(
    warehouse: Warehouse, landing: Path, erased: ErasedLearners | None = None
) -> dict[str, int]:
    """Replace every ``raw.<table>`` with its snapshot, and the courses' resolved metadata with
    theirs (an edited course's old inference stops applying); returns rows loaded per table.

    Rows of ``erased`` learners are left out: an operational export made before the app deleted
    an erased account must not bring the learner back.
    """
    keep = erased.without_erased if erased else (lambda data: data)
    snapshots = {table: keep(read_snapshot(landing, table)) for table in SOURCE_TABLES}
    loaded = {
        table: warehouse.load_arrow(f"raw.{table}", data, mode="replace") for table, data in snapshots.items()
    }
    course_metadata.publish(warehouse)
    return loaded


def refresh_source_snapshots(settings: Settings) -> dict[str, int]:
    """Load the configured landing folder's snapshots into the configured warehouse."""
    from learnrec.warehouse.base import connect_warehouse

    with connect_warehouse(settings) as warehouse:
        erased = ErasedLearners(erased_hashes(warehouse), settings.privacy_hash_key.get_secret_value())
        return load_source_snapshots(warehouse, settings.landing_path, erased)
