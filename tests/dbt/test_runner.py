"""The dbt runner derives dbt's connection from the learnrec settings; the CLI wraps it."""

from __future__ import annotations

import os

from learnrec.cli import main
from learnrec.settings import load_settings
from learnrec.transform import dbt_runner
from learnrec.transform.dbt_runner import _environment, dbt_env, docs_path


def test_duckdb_env_points_at_the_settings_warehouse(tmp_path) -> None:
    settings = load_settings(home=tmp_path)
    assert dbt_env(settings) == {
        "LEARNREC_WAREHOUSE": "duckdb",
        "LEARNREC_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
    }
    assert docs_path(settings) == tmp_path / "dbt" / "docs"


def test_snowflake_env_keeps_the_secret_out_of_dag_values(tmp_path) -> None:
    settings = load_settings(
        home=tmp_path,
        warehouse="snowflake",
        snowflake_account="acme-eu1",
        snowflake_user="dbt",
        snowflake_password="s3cret",
        snowflake_role="TRANSFORMER",
        snowflake_host="127.0.0.1",
        snowflake_port=8443,
        snowflake_protocol="http",
    )
    env = dbt_env(settings)
    assert env["LEARNREC_WAREHOUSE"] == "snowflake"
    assert env["LEARNREC_SNOWFLAKE_ACCOUNT"] == "acme-eu1"
    assert env["LEARNREC_SNOWFLAKE_ROLE"] == "TRANSFORMER"
    assert (env["LEARNREC_SNOWFLAKE_PORT"], env["LEARNREC_SNOWFLAKE_PROTOCOL"]) == ("8443", "http")
    assert env["LEARNREC_SNOWFLAKE_PASSWORD"] == "s3cret"
    assert "LEARNREC_SNOWFLAKE_PASSWORD" not in dbt_env(settings, include_secrets=False)
    assert "LEARNREC_SNOWFLAKE_WAREHOUSE" not in env  # unset values are left to profiles.yml defaults


def test_environment_is_restored_after_a_run(monkeypatch) -> None:
    monkeypatch.setenv("LEARNREC_WAREHOUSE", "before")
    monkeypatch.delenv("LEARNREC_DUCKDB_PATH", raising=False)
    with _environment({"LEARNREC_WAREHOUSE": "duckdb", "LEARNREC_DUCKDB_PATH": "/x.duckdb"}):
        assert os.environ["LEARNREC_DUCKDB_PATH"] == "/x.duckdb"
    assert os.environ["LEARNREC_WAREHOUSE"] == "before"
    assert "LEARNREC_DUCKDB_PATH" not in os.environ


def test_cli_needs_a_dbt_command(learnrec_home, capsys) -> None:
    assert main(["dbt"]) == 2
    assert "give the dbt command" in capsys.readouterr().err


def test_cli_reports_dbt_failures_with_exit_code_1(learnrec_home, monkeypatch, capsys) -> None:
    def failing(*args, **kwargs):
        raise dbt_runner.DbtRunError("dbt build failed: model.learnrec.dim_learners: error: boom")

    # the failure path only: a real failing build is tests/dbt/test_build.py's job
    monkeypatch.setattr(dbt_runner, "run_dbt", failing)
    assert main(["dbt", "build"]) == 1
    assert "model.learnrec.dim_learners" in capsys.readouterr().out
