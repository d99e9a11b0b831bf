"""``learnrec api serve``: uvicorn with the app built from the environment in each worker."""

from __future__ import annotations

from fastapi import FastAPI

from exports.api.app import create_app
from exports.api.settings import ApiSettings, load_api_settings
from learnrec.settings import get_settings


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in every worker process (settings read there, not at import)."""
    return create_app(get_settings(), load_api_settings())


def serve(api: ApiSettings) -> None:
    import uvicorn

    create_app(get_settings(), api).state.services.close()  # fail fast on bad settings, before forking
    uvicorn.run(
        "exports.api.server:app_from_env",
        factory=True,
        host=api.host,
        port=api.port,
        workers=api.workers,
        proxy_headers=True,
        access_log=False,
        log_level="info",
    )
