"""One typed settings object for the whole platform.

Every value comes from an environment variable prefixed ``LEARNREC_`` (or from an optional ``.env``
file in the working directory); nothing is read at import time. The defaults select the embedded
backends, with all state under one git-ignored folder (``LEARNREC_HOME``, default ``<repo>/.learnrec``).
Switching a backend to production is a matter of setting variables, never of editing code: see
``.env.example`` and the README's "Backends" section.

Invalid settings fail fast with :class:`SettingsError`, whose message names the variable.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "LEARNREC_"
#: LEARNREC_* variables read outside the settings classes (DAG retries, a benchmark, a test).
OTHER_ENV_NAMES = frozenset(
    {"LEARNREC_TASK_RETRIES", "LEARNREC_BENCH_FEATURES_BASELINE", "LEARNREC_TEST_DBT_MANIFEST"}
)
#: Prefixes whose variables another settings class reads and checks (exports.api.settings).
OWNED_ELSEWHERE = ("LEARNREC_API_",)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SettingsError(ValueError):
    """Raised when the environment describes an impossible configuration."""


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    return f"{ENV_PREFIX}{field.upper()}"


class Settings(BaseSettings):
    """Platform configuration. Field ``foo_bar`` is set by ``LEARNREC_FOO_BAR``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # --- state and run defaults ---------------------------------------------------------------
    home: Path = Field(PROJECT_ROOT / ".learnrec", description="Folder holding all embedded state.")
    seed: int = Field(7, ge=0, description="Seed for the synthetic world and for training.")
    lightfm_threads: int = Field(
        1,
        ge=1,
        description="LightFM's training threads. 1 keeps the nightly training bit-reproducible; with "
        "more, its lock-free (Hogwild) updates race, so two runs on the same data differ (NDCG@10 by "
        "up to 0.05 on the evaluation world) for little speed on 2 cores.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    text_allowed_hosts: str = Field(
        "",
        description="Comma-separated hosts that links and e-mail addresses in learner-facing text may "
        "name (learnrec.safetext); empty: none.",
    )

    # --- warehouse ----------------------------------------------------------------------------
    warehouse: Literal["duckdb", "snowflake"] = "duckdb"
    duckdb_path: Path | None = Field(None, description="DuckDB file; default <home>/warehouse.duckdb.")
    snowflake_account: str | None = None
    snowflake_user: str | None = None
    snowflake_password: SecretStr | None = None
    # key-pair authentication (SNOWFLAKE_JWT) instead of a password: a PKCS#8 PEM file
    snowflake_private_key_file: Path | None = None
    snowflake_private_key_passphrase: SecretStr | None = None
    snowflake_database: str = "LEARNREC"
    snowflake_warehouse: str | None = None
    snowflake_role: str | None = None
    # host/port/protocol only for non-standard endpoints (private link, the fakesnow test server).
    snowflake_host: str | None = None
    snowflake_port: int | None = Field(None, ge=1, le=65535)
    snowflake_protocol: Literal["https", "http"] = "https"
    # one writer per stage (learnrec.warehouse.locks): how long a second run waits, when a lock is stale
    stage_lock_timeout_seconds: float = Field(
        60.0, ge=0, description="How long a run waits for another run of its stage to finish."
    )
    stage_lock_stale_minutes: float = Field(
        360.0, gt=0, description="A lock held this long from another host is taken over (its run died)."
    )

    # --- event source -------------------------------------------------------------------------
    event_source: Literal["files", "kafka"] = "files"
    landing_dir: Path | None = Field(None, description="Landing folder; default <home>/landing.")
    kafka_bootstrap_servers: str | None = None
    kafka_topic: str = "learner-events"
    kafka_group_id: str = "learnrec-ingest"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    ingest_batch_events: int = Field(
        500_000, ge=1, description="Payloads per ingest batch (one transaction; memory grows with it)."
    )
    ingest_max_line_bytes: int = Field(
        64 * 1024,
        ge=256,
        description="Longest payload (landing line or Kafka message) read; longer ones are quarantined "
        "as too_large without being held whole.",
    )
    ingest_max_field_chars: int = Field(
        512, ge=16, description="Longest text value of an event (ids, module_id); longer: too_large."
    )

    # --- lake ---------------------------------------------------------------------------------
    lake_uri: str | None = Field(None, description="Lake root (path or s3://, gs://); default <home>/lake.")

    # --- feature engineering ------------------------------------------------------------------
    spark_master: str = "local[*]"
    spark_connect_url: str | None = Field(None, description="sc://host:port to use Spark Connect instead.")
    spark_driver_memory: str = "4g"

    # --- model registry -----------------------------------------------------------------------
    mlflow_tracking_uri: str | None = Field(None, description="Default: SQLite file under <home>/mlflow.")

    # --- vector index -------------------------------------------------------------------------
    vector_index: Literal["warehouse", "weaviate"] = "warehouse"
    weaviate_url: str | None = None
    weaviate_grpc_port: int = Field(
        50051,
        ge=1,
        le=65535,
        description="Weaviate's gRPC port (batch import and search), on the URL's host.",
    )
    weaviate_api_key: SecretStr | None = None

    # --- LLM ----------------------------------------------------------------------------------
    llm_provider: Literal["rules", "anthropic", "openai"] = "rules"
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    anthropic_model: str = "claude-sonnet-4-5"
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str | None = None
    llm_timeout_seconds: float = Field(20.0, gt=0)
    llm_max_retries: int = Field(
        2, ge=0, le=10, description="Retries of one LLM call on timeouts, 429 and 5xx."
    )
    llm_backoff_seconds: float = Field(
        0.5, ge=0, description="First retry delay; doubles per retry (with jitter)."
    )
    llm_breaker_failures: int = Field(
        3, ge=1, description="Consecutive failed LLM calls that open the circuit breaker (rules only)."
    )
    llm_breaker_reset_seconds: float = Field(
        60.0, gt=0, description="Open breaker waits this long before a trial."
    )
    llm_max_calls_per_run: int = Field(
        500, ge=0, description="Budget of LLM calls per agent run; beyond it the agent uses its rules."
    )
    llm_input_usd_per_mtok: float = Field(
        3.0, ge=0, description="Price of 1M input tokens (cost accounting)."
    )
    llm_output_usd_per_mtok: float = Field(
        15.0, ge=0, description="Price of 1M output tokens (cost accounting)."
    )

    # --- agents -------------------------------------------------------------------------------
    reengagement_dropout_threshold: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Learners whose dropout_probability reaches this get a re-engagement nudge.",
    )
    reengagement_inactive_days: int = Field(
        5,
        ge=1,
        description="Without a dropout score: days without activity that trigger a nudge (product rule).",
    )
    metadata_embedding_threshold: float = Field(
        0.36,
        ge=-1,
        le=1,
        description="MiniLM cosine a course text needs to a skill's description to be tagged with it when "
        "the text names no skill (calibrated on tests/data/course_pages.jsonl, see ml/EVALUATION.md).",
    )
    qa_deadline_seconds: float = Field(
        2.0, gt=0, description="Course Q&A answers within this; past it the partial answer is returned."
    )
    qa_top_k: int = Field(6, ge=1, le=50, description="Course chunks retrieved per question.")

    # --- notifications ------------------------------------------------------------------------
    email_provider: Literal["file", "sendgrid"] = "file"
    push_provider: Literal["file", "firebase"] = "file"
    sendgrid_api_key: SecretStr | None = None
    sendgrid_from_email: str = "nudges@learnrec.example"
    firebase_credentials_file: Path | None = Field(
        None, description="Service-account JSON; unset: Google application default credentials."
    )
    firebase_project_id: str | None = None
    sendgrid_unsubscribe_group_id: int | None = Field(
        None, ge=1, description="SendGrid unsubscribe group (ASM): adds its unsubscribe link to every nudge."
    )
    sendgrid_host: str = Field(
        "https://api.sendgrid.com", description="SendGrid API base URL (EU: https://api.eu.sendgrid.com)."
    )
    sendgrid_webhook_public_key: str | None = Field(
        None,
        description="Verification key of SendGrid's Signed Event Webhook (Mail Settings; base64 "
        "ECDSA public key as SendGrid shows it). `learnrec nudges webhook` refuses to run without it.",
    )
    notify_timeout_seconds: float = Field(
        10.0, gt=0, description="Per HTTP call to SendGrid / FCM / Datadog / the alert webhook."
    )
    notify_max_attempts: int = Field(
        4, ge=1, le=10, description="Tries per send on 429, 5xx and refused connections (backoff between)."
    )
    notify_backoff_seconds: float = Field(
        1.0, ge=0, description="First backoff between tries; doubles each try (Retry-After wins)."
    )

    # --- alert delivery (learnrec.alert_delivery): ops.alerts rows to people ----------------------
    datadog_api_key: SecretStr | None = Field(
        None, description="Datadog API key: alerts become Datadog events and gauges; unset: not sent."
    )
    datadog_api_host: str = Field(
        "https://api.datadoghq.com", description="Datadog API of your site (EU: https://api.datadoghq.eu)."
    )
    alert_slack_webhook_url: SecretStr | None = Field(
        None, description='Slack-compatible incoming webhook (JSON {"text": ...}); unset: not sent.'
    )
    alert_delivery_max_attempts: int = Field(
        3, ge=1, description="Delivery runs that try a failing alert before it is left (error kept)."
    )
    alert_delivery_max_age_days: int = Field(
        2, ge=0, description="Older alerts are never sent (enabling a channel does not replay history)."
    )

    # --- nudge delivery rules (exports/nudges) ---------------------------------------------------
    nudge_channel_order: tuple[Literal["email", "push"], ...] = Field(
        ("email", "push"),
        min_length=1,
        description="Channels in order of preference; the first the learner consented to and can "
        'be reached on is used. JSON list in the environment, e.g. \'["push", "email"]\'.',
    )
    nudge_max_per_day: int = Field(1, ge=0, description="Nudges per learner per nudge date.")
    nudge_max_per_week: int = Field(3, ge=0, description="Nudges per learner in 7 nudge dates.")
    nudge_quiet_hours_start: int = Field(
        21, ge=0, le=23, description="Quiet hours begin (learner-local hour)."
    )
    nudge_quiet_hours_end: int = Field(8, ge=0, le=23, description="Quiet hours end (learner-local hour).")
    nudge_max_delivery_runs: int = Field(
        3, ge=1, description="Delivery runs that may retry a transiently failed nudge before it fails."
    )
    nudge_retry_after_minutes: int = Field(60, ge=1, description="Wait before the next run retries it.")
    nudge_claim_lease_minutes: int = Field(
        30, ge=1, description="A claim older than this was interrupted: never resent (at-most-once)."
    )
    nudge_max_age_days: int = Field(
        2, ge=0, description="Not sent by this many days after its nudge date: suppressed as expired."
    )
    nudge_record_batch: int = Field(
        50,
        ge=1,
        description="Sent nudges recorded per warehouse transaction (a crash loses at most these records).",
    )

    # --- recommendations (exports/recommendations) ----------------------------------------------
    recs_top_n: int = Field(20, ge=1, description="Recommendations precomputed per active learner.")
    recs_diversity_k: int = Field(
        3, ge=1, description="At most this many courses of one skill cluster in the top 10."
    )
    recs_keep_versions: int = Field(
        5, ge=2, description="Recommendation versions kept (rollback reaches back this far)."
    )
    recs_chunk_size: int = Field(2048, ge=1, description="Learners scored at once (bounds memory).")
    control_share: float = Field(
        0.0,
        ge=0,
        le=0.5,
        description="Share of learners (stable by learner id hash) in the A/B control group: served "
        "the non-personalised fallback and flagged is_control in the Recommendation Log.",
    )
    serving_store: Literal["sqlite", "postgres"] = Field(
        "sqlite", description="App-facing store: SQLite file under <home>/serving, or Postgres."
    )
    serving_postgres_dsn: SecretStr | None = Field(None, description="libpq DSN of the serving Postgres.")

    # --- privacy (exports/privacy) --------------------------------------------------------------
    privacy_hash_key: SecretStr = Field(
        SecretStr("learnrec-embedded-privacy-key"),
        description="Key of the learner hash that erasure records and the ingest check use; set "
        "a secret one in production (changing it makes earlier erased learners unrecognisable).",
    )

    # --- derived paths: every piece of embedded state lives under ``home`` ----------------------
    @property
    def warehouse_path(self) -> Path:
        return self.duckdb_path or self.home / "warehouse.duckdb"

    @property
    def landing_path(self) -> Path:
        return self.landing_dir or self.home / "landing"

    @property
    def lake_root(self) -> str:
        return self.lake_uri or str(self.home / "lake")

    @property
    def serving_path(self) -> Path:
        """The embedded serving store apps read (SQLite file, swapped atomically on export)."""
        return self.home / "serving" / "recommendations.sqlite"

    @property
    def world_path(self) -> Path:
        """Generated synthetic sources and the evaluation-only ground truth."""
        return self.home / "world"

    @property
    def mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home / 'mlflow' / 'mlflow.db'}"

    @property
    def mlflow_artifact_path(self) -> Path:
        return self.home / "mlflow" / "artifacts"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def outbox_path(self) -> Path:
        return self.home / "outbox"

    @model_validator(mode="after")
    def _backend_requirements(self) -> Settings:
        """A production backend is selected only together with what it needs to connect."""
        required: dict[tuple[str, str], tuple[str, ...]] = {
            ("warehouse", "snowflake"): (
                "snowflake_account",
                "snowflake_user",
                "snowflake_password|snowflake_private_key_file",
            ),
            ("event_source", "kafka"): ("kafka_bootstrap_servers",),
            ("vector_index", "weaviate"): ("weaviate_url",),
            ("llm_provider", "anthropic"): ("anthropic_api_key",),
            ("llm_provider", "openai"): ("openai_base_url", "openai_model"),
            ("email_provider", "sendgrid"): ("sendgrid_api_key",),
            ("push_provider", "firebase"): ("firebase_project_id",),
            ("serving_store", "postgres"): ("serving_postgres_dsn",),
        }
        for (selector, value), needed in required.items():
            if getattr(self, selector) != value:
                continue
            # "a|b": either one will do
            missing = [
                " or ".join(env_name(n) for n in name.split("|"))
                for name in needed
                if not any(getattr(self, n) for n in name.split("|"))
            ]
            if missing:
                raise ValueError(f"{env_name(selector)}={value} needs {', '.join(missing)} to be set")
        return self


def check_environment(
    prefix: str,
    known: Iterable[str],
    owned_elsewhere: Iterable[str] = (),
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Raise :class:`SettingsError` for a ``prefix`` variable nobody reads: a misspelt one would
    otherwise be ignored silently and its default (often the embedded backend) used instead."""
    valid = sorted(known)
    skip = tuple(owned_elsewhere)
    unknown = sorted(n for n in environ if n.startswith(prefix) and n not in valid and not n.startswith(skip))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, valid, n=1)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise SettingsError(f"unknown environment variable {', '.join(hints)}: unset or correct it")


def configured_names() -> dict[str, str]:
    """The process environment and the ``.env`` file's variables: pydantic-settings reads both,
    so a misspelling in either must be caught."""
    from dotenv import dotenv_values

    env_file = Path(str(Settings.model_config.get("env_file")))
    from_file = dotenv_values(env_file) if env_file.is_file() else {}
    return {**{k: v or "" for k, v in from_file.items()}, **os.environ}


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise :class:`SettingsError` naming the bad variable."""
    known = {env_name(field) for field in Settings.model_fields} | OTHER_ENV_NAMES
    check_environment(ENV_PREFIX, known, OWNED_ELSEWHERE, configured_names())
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = env_name(str(err["loc"][0])) if err["loc"] else "settings"
            given = err.get("input")
            secret = any(word in where for word in ("PASSWORD", "KEY", "SECRET", "TOKEN"))
            shown = "" if secret or isinstance(given, dict) or given is None else f" (got {given!r})"
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}{shown}")
        raise SettingsError("invalid learnrec settings: " + "; ".join(problems)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import time)."""
    return load_settings()
