"""DuckDB appends Arrow data as whole row groups, whatever its chunking (see ROW_GROUP_ROWS)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from learnrec.warehouse.duckdb import ROW_GROUP_ROWS, DuckDBWarehouse


def test_chunks_larger_than_a_row_group_are_appended_as_full_row_groups(tmp_path) -> None:
    # chunks of a row group and a bit (as query results come out) would each leave a sliver
    chunk, rows = ROW_GROUP_ROWS + 8_192, 3 * ROW_GROUP_ROWS + 5_000
    ids = np.arange(rows)
    data = pa.Table.from_batches(
        [
            pa.record_batch(
                {"id": ids[start : start + chunk], "text": (ids[start : start + chunk] * 7).astype(str)}
            )
            for start in range(0, rows, chunk)
        ]
    )
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        assert warehouse.load_arrow("raw.t", data.slice(0, 10)) == 10  # creates the table
        assert warehouse.load_arrow("raw.t", data.slice(10)) == rows - 10
        groups = warehouse.query(
            "SELECT row_group_id, max(count) AS n FROM pragma_storage_info('raw.t') GROUP BY 1 ORDER BY 1"
        ).column("n")
        assert warehouse.query("SELECT id, text FROM raw.t ORDER BY id").equals(data.combine_chunks())
    assert groups.to_pylist() == [
        10,
        ROW_GROUP_ROWS,
        ROW_GROUP_ROWS,
        ROW_GROUP_ROWS,
        rows - 10 - 3 * ROW_GROUP_ROWS,
    ]
