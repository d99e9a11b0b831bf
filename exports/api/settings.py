"""Settings of the API service (``LEARNREC_API_*``), beside the platform's :class:`Settings`.

Kept apart so that the batch platform's settings do not grow a web server's knobs; like them they
come only from the environment (or ``.env``) and fail fast naming the variable.
"""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from learnrec.settings import SettingsError, check_environment

API_ENV_PREFIX = "LEARNREC_API_"


class ApiSettings(BaseSettings):
    """Field ``foo`` is set by ``LEARNREC_API_FOO``."""

    model_config = SettingsConfigDict(
        env_prefix=API_ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")

    # --- OAuth 2.0: the issuer whose JWT access tokens are accepted ------------------------------
    jwks_url: str | None = Field(None, description="The issuer's JWKS endpoint (required to serve).")
    issuer: str | None = Field(None, description="Expected `iss` (required to serve).")
    audience: str = Field("learnrec-api", description="Expected `aud`.")
    jwks_cache_seconds: float = Field(300.0, gt=0, description="How long a fetched JWKS is reused.")
    jwks_refetch_cooldown_seconds: float = Field(
        30.0, ge=0, description="An unknown `kid` refetches the JWKS at most this often (rotation)."
    )
    jwt_leeway_seconds: int = Field(30, ge=0, description="Clock skew tolerated on exp / nbf.")

    # --- collector ---------------------------------------------------------------------------------
    batch_max_events: int = Field(1000, ge=1, description="Events per POST /events/learner:batch.")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Larger bodies are refused (413).")
    kafka_delivery_timeout_seconds: float = Field(
        5.0, gt=0, description="Kafka must acknowledge (acks=all) within this, else 503."
    )
    retry_after_seconds: int = Field(5, ge=1, description="Retry-After of a 503.")
    landing_rotate_seconds: float = Field(
        60.0, gt=0, description="A landing file is published (renamed from .tmp) at this age at the latest."
    )
    landing_rotate_bytes: int = Field(64 * 1024 * 1024, ge=1, description="... or at this size.")
    known_ids_refresh_seconds: float = Field(
        60.0, gt=0, description="How often the snapshots' learner and course ids are re-checked."
    )

    # --- reads -------------------------------------------------------------------------------------
    page_max: int = Field(100, ge=1, description="Largest `n` of one page of recommendations.")
    cache_max_age_seconds: int = Field(60, ge=0, description="Cache-Control max-age of reads.")
    graphql_introspection: bool = Field(True, description="Off: introspection queries are refused.")
    graphql_max_depth: int = Field(8, ge=1, description="Deepest GraphQL query accepted.")
    graphql_max_tokens: int = Field(2000, ge=10, description="GraphQL queries longer than this are refused.")


def load_api_settings(**overrides: object) -> ApiSettings:
    """Read the API settings; raise :class:`SettingsError` naming the bad variable."""
    check_environment(
        API_ENV_PREFIX, (f"{API_ENV_PREFIX}{field.upper()}" for field in ApiSettings.model_fields)
    )
    try:
        return ApiSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [
            f"{API_ENV_PREFIX}{str(err['loc'][0]).upper()}: {err['msg']}"
            for err in exc.errors()
            if err["loc"]
        ]
        raise SettingsError("invalid API settings: " + "; ".join(problems)) from None
