"""The recommendation stage on the Snowflake adapter (fakesnow server: Snowflake's wire protocol
over DuckDB; the real snowflake-connector-python talks to it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from exports.recommendations import tables
from exports.recommendations.gate import run_gate
from exports.recommendations.precompute import precompute
from exports.recommendations.publish import publish, rollback
from exports.recommendations.serving import SERVING_TABLE, export_warehouse_table
from learnrec.warehouse import Warehouse
from ml.ranking.rules import RuleConfig
from tests.plugins.conftest import fakesnow_server, snowflake_database  # noqa: F401 (fixtures)

from .conftest import RUN_DATE, build_marts

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def snowflake(
    fakesnow_server: dict[str, Any],  # noqa: F811
    snowflake_database: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Warehouse]:
    from learnrec.warehouse.snowflake import SnowflakeWarehouse
    from tests.plugins import conftest as plugin_fixtures

    # fakesnow reports every ARRAY as VARIANT; its test patch reports the listed columns as
    # ARRAY, as Snowflake does: add this stage's list columns
    arrays = {"SKILL_TAGS", "PREREQUISITES", "SIGNALS_USED", "TARGET_SKILL_IDS"}
    monkeypatch.setattr(plugin_fixtures, "ARRAY_COLUMNS", plugin_fixtures.ARRAY_COLUMNS | arrays)

    with SnowflakeWarehouse(database=snowflake_database, **fakesnow_server) as wh:
        build_marts(wh)
        yield wh


def test_precompute_gate_publish_export_rollback_on_snowflake(snowflake, champion, content):
    config = RuleConfig(top_n=10)
    for run_id in ("sf1", "sf2"):
        report = precompute(
            snowflake, RUN_DATE, champion=champion, content=content, config=config, run_id=run_id
        )
        assert report.n_recommendations == 29 * 10 and report.n_short == 0
        assert run_gate(snowflake, run_id, top_n=10).success
        publish(snowflake, run_id, keep_versions=3)
    assert tables.current_run_id(snowflake) == "sf2"
    # the same run date twice: its recommendations are logged once
    assert snowflake.scalar("SELECT count(*) FROM raw.served_recommendations") == 29 * 10
    assert export_warehouse_table(snowflake) == 29 * 10
    assert snowflake.scalar(f"SELECT count(DISTINCT run_id) FROM {SERVING_TABLE}") == 1
    assert rollback(snowflake).run_id == "sf1"
    assert (
        snowflake.scalar("SELECT count(*) FROM recs.current_learner_recommendations WHERE run_id = 'sf1'")
        == 290
    )
