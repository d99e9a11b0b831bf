"""Settings: embedded defaults under one folder, production backends by environment, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from learnrec.settings import SettingsError, load_settings


def test_defaults_are_embedded_and_under_home(settings, learnrec_home: Path) -> None:
    assert (settings.warehouse, settings.event_source, settings.vector_index, settings.llm_provider) == (
        "duckdb",
        "files",
        "warehouse",
        "rules",
    )
    assert (settings.email_provider, settings.push_provider) == ("file", "file")
    for path in (
        settings.warehouse_path,
        settings.landing_path,
        Path(settings.lake_root),
        settings.world_path,
        settings.airflow_home,
        settings.outbox_path,
        settings.mlflow_artifact_path,
    ):
        assert learnrec_home in path.parents
    assert settings.mlflow_uri == f"sqlite:///{learnrec_home / 'mlflow' / 'mlflow.db'}"


def test_production_backend_selected_by_environment(
    monkeypatch: pytest.MonkeyPatch, learnrec_home: Path
) -> None:
    monkeypatch.setenv("LEARNREC_WAREHOUSE", "snowflake")
    monkeypatch.setenv("LEARNREC_SNOWFLAKE_ACCOUNT", "acme-xy12345")
    monkeypatch.setenv("LEARNREC_SNOWFLAKE_USER", "loader")
    monkeypatch.setenv("LEARNREC_SNOWFLAKE_PASSWORD", "not-a-real-secret")
    settings = load_settings()
    assert settings.warehouse == "snowflake"
    assert settings.snowflake_password is not None
    assert "not-a-real-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LEARNREC_WAREHOUSE": "bigquery"}, "LEARNREC_WAREHOUSE"),
        ({"LEARNREC_SEED": "many"}, "LEARNREC_SEED"),
        ({"LEARNREC_EVENT_SOURCE": "kafka"}, "LEARNREC_KAFKA_BOOTSTRAP_SERVERS"),
        (
            {"LEARNREC_WAREHOUSE": "snowflake", "LEARNREC_SNOWFLAKE_ACCOUNT": "a"},
            "LEARNREC_SNOWFLAKE_PASSWORD",
        ),
        ({"LEARNREC_LLM_PROVIDER": "anthropic"}, "LEARNREC_ANTHROPIC_API_KEY"),
        ({"LEARNREC_SNOWFLAKE_PORT": "99999"}, "LEARNREC_SNOWFLAKE_PORT"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, learnrec_home: Path, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_secret_values_never_appear_in_errors(monkeypatch: pytest.MonkeyPatch, learnrec_home: Path) -> None:
    monkeypatch.setenv("LEARNREC_SNOWFLAKE_PORT", "secret-looking-port")
    monkeypatch.setenv("LEARNREC_SNOWFLAKE_PASSWORD", "hunter2-not-real")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "hunter2-not-real" not in str(err.value)


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEARNREC_HOME", raising=False)
    (tmp_path / ".env").write_text(f"LEARNREC_HOME={tmp_path / 'from-dotenv'}\nLEARNREC_SEED=99\n")
    settings = load_settings()
    assert settings.home == tmp_path / "from-dotenv"
    assert settings.seed == 99


def test_misspelt_variable_is_an_error_naming_the_closest(
    monkeypatch: pytest.MonkeyPatch, learnrec_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from learnrec.cli import main

    monkeypatch.setenv("LEARNREC_WAREHOUS", "snowflake")
    assert main(["ingest"]) == 2
    err = capsys.readouterr().err
    assert "LEARNREC_WAREHOUS (did you mean LEARNREC_WAREHOUSE?)" in err and "Traceback" not in err


def test_misspelt_variable_in_the_env_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, learnrec_home: Path, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LEARNREC_DUCKDB_PAHT=/srv/w.duckdb\n")
    with pytest.raises(SettingsError, match=r"LEARNREC_DUCKDB_PAHT \(did you mean LEARNREC_DUCKDB_PATH\?\)"):
        load_settings()


def test_variables_read_outside_settings_are_allowed(
    monkeypatch: pytest.MonkeyPatch, learnrec_home: Path
) -> None:
    monkeypatch.setenv("LEARNREC_TASK_RETRIES", "0")
    monkeypatch.setenv("LEARNREC_API_PORT", "8081")  # the API's settings check their own prefix
    assert load_settings().home == learnrec_home


def test_misspelt_api_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from exports.api.settings import load_api_settings

    monkeypatch.setenv("LEARNREC_API_PROT", "8081")
    with pytest.raises(SettingsError, match="did you mean LEARNREC_API_PORT"):
        load_api_settings()
