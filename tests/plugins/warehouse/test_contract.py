"""The Warehouse interface contract: the same assertions against DuckDB and Snowflake (fakesnow).

Every stage writes through this interface without branching on the backend, so whatever these
tests pin down holds for both: types round-trip, append/replace, transactions, scalar, names.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from learnrec.contracts.events import raw_event_schema
from learnrec.warehouse import Warehouse


def raw_events(n: int = 3) -> pa.Table:
    """Rows of raw.learner_events with every nullable column null somewhere."""
    at = [datetime(2026, 11, 1, 18, 4, 11, 250_123, tzinfo=UTC), datetime(2026, 11, 2, 0, 0, tzinfo=UTC)]
    rows = {
        "event_id": [f"e{i:03d}" for i in range(n)],
        "learner_id": [f"L{i:07d}" for i in range(n)],
        "event_type": ["watch", "quiz_score", "click"][:n] + ["click"] * max(0, n - 3),
        "course_id": ["C00017"] * n,
        "event_at": [at[i % 2] for i in range(n)],
        "event_date": [at[i % 2].date() for i in range(n)],
        "watch_duration_seconds": [540] + [None] * (n - 1),
        "quiz_score": [None, 87.5] + [None] * (n - 2),
        "module_id": ["C00017-M03"] + [None] * (n - 1),
        "metadata": ['{"watch_duration_seconds":540,"module_id":"C00017-M03"}', '{"quiz_score":87.5}']
        + [None] * (n - 2),
        "source": ["kafka"] * n,
        "source_uri": ["learner-events"] * n,
        "source_partition": [3] + [None] * (n - 1),
        "source_offset": [2**40 + i for i in range(n)],
        "batch_id": ["b1"] * n,
        "ingested_at": [datetime(2026, 11, 2, 1, 0, tzinfo=UTC)] * n,
    }
    return pa.table(rows, schema=raw_event_schema())


def feature_rows() -> pa.Table:
    """The other Arrow types the stages write: lists, bool, float, int64, naive-free timestamps."""
    return pa.table(
        {
            "learner_id": ["L1", "L2", "L3"],
            "feature_date": [date(2026, 11, 1)] * 3,
            "skill_vector": pa.array([[0.0, 0.25, 1.0], [], None], pa.list_(pa.float64())),
            "tags": pa.array([["sql", "python"], ["a b", "ü"], None], pa.list_(pa.string())),
            "onboarding_skipped": [True, False, None],
            "engagement_score": [0.5, None, 1.0],
            "events_30d": pa.array([1, 2**40, None], pa.int64()),
            "sessions_30d": pa.array([1, None, 3], pa.int32()),
            "style_updated_at": pa.array(
                [datetime(2026, 11, 1, 3, tzinfo=UTC), None, datetime(2026, 1, 1, tzinfo=UTC)],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )


def assert_same_table(got: pa.Table, expected: pa.Table, json_columns: tuple[str, ...] = ()) -> None:
    assert got.column_names == expected.column_names
    assert [f.type for f in got.schema] == [f.type for f in expected.schema]
    for name in expected.column_names:
        values, wanted = got.column(name).to_pylist(), expected.column(name).to_pylist()
        if name in json_columns:  # JSON text: same document, formatting is the backend's
            values = [None if v is None else json.loads(v) for v in values]
            wanted = [None if v is None else json.loads(v) for v in wanted]
        assert values == wanted, name


def test_every_project_arrow_type_round_trips(warehouse: Warehouse) -> None:
    events = raw_events()
    assert warehouse.load_arrow("raw.learner_events", events) == 3
    got = warehouse.query("SELECT * FROM raw.learner_events ORDER BY event_id")
    assert_same_table(got, events, json_columns=("metadata",))

    features = feature_rows()
    warehouse.load_arrow("features.learner_features", features)
    assert_same_table(
        warehouse.query("SELECT * FROM features.learner_features ORDER BY learner_id"), features
    )


def test_empty_results_are_typed(warehouse: Warehouse) -> None:
    warehouse.load_arrow("raw.learner_events", raw_events())
    empty = warehouse.query("SELECT * FROM raw.learner_events WHERE event_id = ?", ["nope"])
    assert empty.num_rows == 0
    expected = {f.name: f.type for f in raw_event_schema()}
    assert {f.name: f.type for f in empty.schema} == expected
    assert warehouse.scalar("SELECT event_id FROM raw.learner_events WHERE event_id = ?", ["nope"]) is None


def test_append_and_replace(warehouse: Warehouse) -> None:
    assert warehouse.load_arrow("raw.t", pa.table({"a": [1, 2]})) == 2
    warehouse.load_arrow("raw.t", pa.table({"a": [3]}))
    assert warehouse.scalar("SELECT sum(a) FROM raw.t") == 6
    warehouse.load_arrow("raw.t", pa.table({"a": [10]}), mode="replace")
    assert warehouse.scalar("SELECT sum(a) FROM raw.t") == 10
    # replacing with other columns swaps the table's shape too
    warehouse.load_arrow("raw.t", pa.table({"b": ["x", "y"]}), mode="replace")
    assert warehouse.query("SELECT * FROM raw.t ORDER BY b").to_pydict() == {"b": ["x", "y"]}
    # an empty replace empties the table and keeps it
    warehouse.load_arrow("raw.t", pa.table({"b": pa.array([], pa.string())}), mode="replace")
    assert warehouse.table_exists("raw.t") and warehouse.scalar("SELECT count(*) FROM raw.t") == 0


def test_load_parquet_files(warehouse: Warehouse, tmp_path) -> None:
    """Parquet files load like their Arrow content, into an existing table inside a transaction
    (how features are published), in a folder named like a hive partition (not a column)."""
    import pyarrow.parquet as pq

    features = feature_rows()
    folder = tmp_path / "run_date=2026-11-01"
    folder.mkdir()
    files = [str(folder / "part-0.parquet"), str(folder / "part-1.parquet")]
    pq.write_table(features.slice(0, 2), files[0])
    pq.write_table(features.slice(2), files[1])
    warehouse.load_arrow("features.learner_features", features.schema.empty_table())
    with warehouse.transaction():
        assert warehouse.load_parquet("features.learner_features", files) == 3
    assert_same_table(
        warehouse.query("SELECT * FROM features.learner_features ORDER BY learner_id"), features
    )


def test_transaction_rollback_leaves_nothing(warehouse: Warehouse) -> None:
    # tables exist before the transaction (Snowflake's DDL would commit it: see test_snowflake)
    warehouse.load_arrow("raw.learner_events", raw_events().slice(0, 0))
    offsets = pa.table({"kafka_partition": pa.array([0], pa.int32()), "next_offset": [1]})
    warehouse.load_arrow("ops.offsets", offsets.slice(0, 0))
    with pytest.raises(RuntimeError, match="boom"), warehouse.transaction():
        warehouse.load_arrow("raw.learner_events", raw_events())
        warehouse.load_arrow("raw.learner_events", raw_events(), mode="replace")
        warehouse.execute("INSERT INTO ops.offsets VALUES (?, ?)", [0, 42])
        assert warehouse.scalar("SELECT count(*) FROM raw.learner_events") == 3  # own writes visible
        raise RuntimeError("boom")
    assert warehouse.scalar("SELECT count(*) FROM raw.learner_events") == 0
    assert warehouse.scalar("SELECT count(*) FROM ops.offsets") == 0
    # and a committed one keeps data and offsets together
    with warehouse.transaction():
        warehouse.load_arrow("raw.learner_events", raw_events())
        warehouse.execute("INSERT INTO ops.offsets VALUES (?, ?)", [0, 42])
    assert warehouse.scalar("SELECT count(*) FROM raw.learner_events") == 3
    assert warehouse.scalar("SELECT max(next_offset) FROM ops.offsets") == 42


def test_names_existence_and_statements(warehouse: Warehouse) -> None:
    assert not warehouse.table_exists("raw.nope")
    warehouse.execute("CREATE TABLE ops.x AS SELECT 1 AS one, 'a' AS letter")
    assert warehouse.table_exists("ops.x")
    result = warehouse.query("SELECT one, letter FROM ops.x")
    assert result.column_names == ["one", "letter"]  # lower case on both backends
    assert warehouse.scalar("SELECT one FROM ops.x") == 1
    assert warehouse.scalar("SELECT count(*) FROM ops.x WHERE letter = ?", ["a"]) == 1
    # a pending result never blocks the next statement
    warehouse.query("SELECT * FROM ops.x")
    warehouse.execute("DELETE FROM ops.x")
    assert warehouse.scalar("SELECT count(*) FROM ops.x") == 0
