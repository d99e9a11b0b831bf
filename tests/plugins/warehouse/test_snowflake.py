"""Snowflake-only behaviour of the adapter, with the real connector against the fakesnow server.

The interface contract shared with DuckDB is in test_contract.py. Where fakesnow differs from
Snowflake (and what the conftest patches in fakesnow) is listed in README ("Snowflake").
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest
from snowflake.connector.cursor import ResultMetadata, SnowflakeCursor

from learnrec.settings import load_settings
from learnrec.warehouse import Warehouse, connect_warehouse
from learnrec.warehouse.snowflake import (
    SNOWFLAKE_SCHEMAS,
    SnowflakeLoadError,
    SnowflakeWarehouse,
    create_table_sql,
    to_warehouse_arrow,
)
from tests.plugins.warehouse.test_contract import raw_events

pytestmark = pytest.mark.integration


def test_metadata_is_a_variant_queryable_with_paths(snowflake_warehouse: Warehouse) -> None:
    snowflake_warehouse.load_arrow("raw.learner_events", raw_events())
    got = snowflake_warehouse.query(
        "SELECT event_id, metadata:module_id::VARCHAR AS module_id, "
        "metadata:watch_duration_seconds::INT AS watched, metadata:quiz_score::FLOAT AS score "
        "FROM raw.learner_events ORDER BY event_id"
    )
    assert got.to_pydict() == {
        "event_id": ["e000", "e001", "e002"],
        "module_id": ["C00017-M03", None, None],
        "watched": [540, None, None],
        "score": [None, 87.5, None],
    }
    types = snowflake_warehouse.query(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_schema = 'RAW' AND table_name = 'LEARNER_EVENTS' AND column_name = 'METADATA'"
    )
    assert types.column(0).to_pylist() == ["VARIANT"]
    assert (
        snowflake_warehouse.scalar(
            "SELECT count(*) FROM raw.learner_events WHERE metadata:module_id::VARCHAR = 'C00017-M03'"
        )
        == 1
    )


def test_large_batch_loads_in_bulk_not_row_by_row(
    snowflake_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 200_000
    at = pa.array([datetime(2026, 11, 1, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC"))
    big = pa.table(
        {
            "event_id": pa.array([f"e{i}" for i in range(n)]),
            "n": pa.array(range(n), pa.int64()),
            "event_at": at,
            "metadata": pa.array(['{"k":1}'] * n),
        }
    )
    statements: list[str] = []
    real_execute = SnowflakeCursor.execute

    def counting_execute(self: SnowflakeCursor, command: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(command)
        return real_execute(self, command, *args, **kwargs)

    def no_executemany(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("row-by-row binding: executemany must not be used for bulk loads")

    monkeypatch.setattr(SnowflakeCursor, "execute", counting_execute)
    monkeypatch.setattr(SnowflakeCursor, "executemany", no_executemany)
    assert snowflake_warehouse.load_arrow("raw.learner_events", big) == n
    # existence and column lookups, CREATE, one PUT, BEGIN, one COPY, COMMIT: independent of n
    assert len(statements) < 15, statements
    assert sum(s.startswith("PUT ") for s in statements) == 1
    assert sum(s.startswith("COPY INTO ") for s in statements) == 1
    monkeypatch.undo()
    assert snowflake_warehouse.scalar("SELECT count(*) FROM raw.learner_events") == n
    assert snowflake_warehouse.scalar("SELECT sum(n) FROM raw.learner_events") == n * (n - 1) // 2
    assert snowflake_warehouse.scalar("SELECT count(*) FROM raw.learner_events WHERE metadata:k = 1") == n


def test_ddl_is_refused_inside_a_transaction(snowflake_warehouse: Warehouse) -> None:
    """Snowflake commits the open transaction on DDL: the adapter never issues DDL inside one."""
    snowflake_warehouse.load_arrow("raw.t", pa.table({"a": [1]}))
    with pytest.raises(SnowflakeLoadError, match="before the transaction"), snowflake_warehouse.transaction():
        snowflake_warehouse.execute("INSERT INTO raw.t VALUES (2)")
        snowflake_warehouse.load_arrow("raw.new_table", pa.table({"a": [1]}))
    with pytest.raises(SnowflakeLoadError, match="replacing the columns"), snowflake_warehouse.transaction():
        snowflake_warehouse.load_arrow("raw.t", pa.table({"b": [1]}), mode="replace")
    # both transactions rolled back as a whole
    assert snowflake_warehouse.query("SELECT a FROM raw.t").to_pydict() == {"a": [1]}
    assert not snowflake_warehouse.table_exists("raw.new_table")
    with pytest.raises(SnowflakeLoadError, match="no column"):
        snowflake_warehouse.load_arrow("raw.t", pa.table({"a": [1], "extra": [2]}))


def test_connects_from_settings_and_creates_schemas_idempotently(
    fakesnow_server: dict[str, Any],
    snowflake_database: str,
    monkeypatch: pytest.MonkeyPatch,
    learnrec_home: Any,
) -> None:
    env = {
        "WAREHOUSE": "snowflake",
        "SNOWFLAKE_ACCOUNT": fakesnow_server["account"],
        "SNOWFLAKE_USER": fakesnow_server["user"],
        "SNOWFLAKE_PASSWORD": fakesnow_server["password"],
        "SNOWFLAKE_DATABASE": snowflake_database,
        "SNOWFLAKE_HOST": fakesnow_server["host"],
        "SNOWFLAKE_PORT": str(fakesnow_server["port"]),
        "SNOWFLAKE_PROTOCOL": "http",
    }
    for name, value in env.items():
        monkeypatch.setenv(f"LEARNREC_{name}", value)
    settings = load_settings()
    for _ in range(2):  # the second connect finds everything in place
        with connect_warehouse(settings) as wh:
            assert isinstance(wh, SnowflakeWarehouse)
            schemas = wh.query("SELECT lower(schema_name) AS s FROM information_schema.schemata")
            assert set(SNOWFLAKE_SCHEMAS) <= set(schemas.column("s").to_pylist())
            wh.load_arrow("ops.connects", pa.table({"connect_no": [1]}))
    with connect_warehouse(settings) as wh:
        assert wh.scalar("SELECT count(*) FROM ops.connects") == 2


def test_key_pair_settings_are_passed_to_the_connector(
    monkeypatch: pytest.MonkeyPatch, learnrec_home: Any, tmp_path: Any
) -> None:
    """Which credentials reach ``snowflake.connector.connect`` (fakesnow ignores authentication,
    so this checks the keyword arguments; the connect itself is the only thing replaced)."""
    key = tmp_path / "key.p8"
    key.write_text("not a key")
    seen: dict[str, Any] = {}

    class Stop(Exception):
        pass

    def fake_connect(**kwargs: Any) -> None:
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr("snowflake.connector.connect", fake_connect)
    settings = load_settings(
        warehouse="snowflake",
        snowflake_account="acme-prod",
        snowflake_user="loader",
        snowflake_private_key_file=key,
        snowflake_private_key_passphrase="pass-not-real",
        snowflake_role="LOADER",
    )
    with pytest.raises(Stop):
        SnowflakeWarehouse.from_settings(settings)
    assert seen["authenticator"] == "SNOWFLAKE_JWT" and seen["private_key_file"] == str(key)
    assert seen["private_key_file_pwd"] == "pass-not-real" and "password" not in seen
    assert seen["role"] == "LOADER" and "host" not in seen and seen["paramstyle"] == "qmark"


def test_array_results_decode_to_lists_and_empty_results_keep_types() -> None:
    """Result normalisation from Snowflake's column metadata, as Snowflake reports it."""

    def meta(
        name: str, type_code: int, precision: int | None = None, scale: int | None = None
    ) -> ResultMetadata:
        return ResultMetadata(name, type_code, None, None, precision, scale, True)

    description = [meta("TAGS", 10), meta("N", 0, 10, 0), meta("AT", 7, 0, 9), meta("D", 3), meta("Mixed", 2)]
    fetched = pa.table(
        {
            "TAGS": ['["a","b"]', None],
            "N": pa.array([1, 2], pa.int8()),  # Snowflake sends the narrowest integer that fits
            "AT": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("ns", tz="UTC")),
            "D": pa.array([date(2026, 1, 1)] * 2, pa.date64()),
            "Mixed": ["x", "y"],
        }
    )
    got = to_warehouse_arrow(fetched, description)
    assert got.column_names == ["tags", "n", "at", "d", "Mixed"]  # quoted mixed case is kept
    assert got.schema.types == [
        pa.list_(pa.string()),
        pa.int32(),
        pa.timestamp("us", tz="UTC"),
        pa.date32(),
        pa.string(),
    ]
    assert got.column("tags").to_pylist() == [["a", "b"], None]
    assert to_warehouse_arrow(None, description).schema.types == got.schema.types


def test_table_ddl_follows_the_arrow_types() -> None:
    schema = raw_events().schema
    ddl = create_table_sql("raw.learner_events", schema)
    assert '"EVENT_AT" TIMESTAMP_TZ(6)' in ddl and '"EVENT_DATE" DATE' in ddl
    assert '"WATCH_DURATION_SECONDS" NUMBER(10,0)' in ddl and '"SOURCE_OFFSET" NUMBER(19,0)' in ddl
    assert '"METADATA" VARIANT' in ddl and '"QUIZ_SCORE" FLOAT' in ddl
    assert '"TAGS" ARRAY' in create_table_sql("raw.x", pa.schema([("tags", pa.list_(pa.string()))]))
    assert '"DOC" VARIANT' in create_table_sql("raw.x", pa.schema([("doc", pa.json_())]))
    with pytest.raises(ValueError):
        create_table_sql("raw.x; DROP TABLE y", schema)
    with pytest.raises(TypeError, match="no Snowflake mapping"):
        create_table_sql("raw.x", pa.schema([("s", pa.struct([("a", pa.int8())]))]))
