"""``learnrec api serve``: uvicorn with the app built from the environment in each worker; and
the same server in a thread of this process, on loopback (the demo, the tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from exports.api.app import create_app
from exports.api.settings import ApiSettings, load_api_settings
from learnrec.settings import get_settings

#: How uvicorn serves the API (the benchmark serves its floor the same way).
UVICORN_OPTIONS: dict[str, object] = {"proxy_headers": True, "access_log": False, "timeout_keep_alive": 30}


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
        log_level="info",
        **UVICORN_OPTIONS,  # type: ignore[arg-type]
    )


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn (lifespan on) until the block ends; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="learnrec-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
