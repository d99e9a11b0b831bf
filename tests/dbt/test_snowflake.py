"""The same dbt project builds on Snowflake: dbt-snowflake against the fakesnow server.

The raw tables are loaded through the platform's Snowflake warehouse adapter (PUT + COPY, VARIANT
metadata), then `dbt build` runs every model, contract and test with the real dbt-snowflake adapter
and snowflake-connector-python. Where fakesnow cannot run production SQL the gap is listed in
dbt/README.md ("Snowflake and fakesnow"); here the comments that persist_docs writes are switched
off (fakesnow cannot parse quotes inside $$-strings) and dbt's unit tests are left out (they need
qualified temporary tables; they run on DuckDB).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from learnrec.settings import load_settings
from learnrec.transform.dbt_runner import run_dbt
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots
from tests.dbt.conftest import make_tiny_world
from tests.plugins.conftest import fakesnow_server  # noqa: F401  (the shared, patched server)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_dbt_build_on_snowflake(fakesnow_server: dict[str, Any], tmp_path) -> None:  # noqa: F811
    import snowflake.connector

    database = f"LEARNREC_DBT_{uuid.uuid4().hex[:8].upper()}"
    with snowflake.connector.connect(**fakesnow_server) as conn:
        conn.cursor().execute(f"create database {database}")
    world = make_tiny_world(tmp_path / "home")
    settings = load_settings(
        home=world.settings.home,
        warehouse="snowflake",
        snowflake_account=fakesnow_server["account"],
        snowflake_user=fakesnow_server["user"],
        snowflake_password=fakesnow_server["password"],
        snowflake_host=fakesnow_server["host"],
        snowflake_port=fakesnow_server["port"],
        snowflake_protocol=fakesnow_server["protocol"],
        snowflake_database=database,
    )
    with connect_warehouse(settings) as warehouse:
        load_source_snapshots(warehouse, settings.landing_path)
        warehouse.load_arrow("raw.learner_events", world.events, mode="replace")

    # unit tests: fakesnow cannot create the qualified temporary tables dbt-snowflake uses for them
    result = run_dbt(settings, "build", "--exclude", "test_type:unit", dbt_vars={"persist_docs": False})
    assert result.statuses and all(s in {"success", "pass"} for s in result.statuses.values())

    with connect_warehouse(settings) as warehouse:
        assert warehouse.scalar("select count(*) from marts.fct_learner_events") == world.events.num_rows
        assert warehouse.scalar("select count(*) from marts.dim_learners") == warehouse.scalar(
            "select count(*) from raw.learners"
        )
        assert warehouse.scalar("select count(*) from marts.mart_top_rated_by_interest") > 0
