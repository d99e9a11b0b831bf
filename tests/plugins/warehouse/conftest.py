"""Warehouse fixtures: the Snowflake adapter on the shared fakesnow server (tests/plugins/conftest.py),
and one fixture over both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from learnrec.warehouse import Warehouse
from learnrec.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture
def snowflake_warehouse(fakesnow_server: dict[str, Any], snowflake_database: str) -> Iterator[Warehouse]:
    from learnrec.warehouse.snowflake import SnowflakeWarehouse

    with SnowflakeWarehouse(database=snowflake_database, **fakesnow_server) as wh:
        yield wh


@pytest.fixture(params=["duckdb", pytest.param("snowflake", marks=pytest.mark.integration)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """The same interface on each backend: the contract tests run against both."""
    if request.param == "duckdb":
        with DuckDBWarehouse(tmp_path / "contract.duckdb") as wh:
            yield wh
    else:
        yield request.getfixturevalue("snowflake_warehouse")
