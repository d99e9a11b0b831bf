"""``learnrec api serve``: the real command, as a process, on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from exports.api.app import create_app

from .conftest import AUDIENCE, ISSUER, Issuer, Store, api_settings

LEARNREC = [str(Path(sys.executable).with_name("learnrec"))]  # the installed console script


def test_serve_runs_the_api_and_bad_settings_stop_it(world, store: Store, issuer: Issuer):
    env = {**os.environ, "LEARNREC_HOME": str(world.settings.home)}
    missing = subprocess.run([*LEARNREC, "api", "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "LEARNREC_API_JWKS_URL" in missing.stderr
    env |= {
        "LEARNREC_API_JWKS_URL": issuer.url,
        "LEARNREC_API_ISSUER": ISSUER,
        "LEARNREC_API_AUDIENCE": AUDIENCE,
    }
    process = subprocess.Popen(
        [*LEARNREC, "api", "serve", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        port, deadline, seen = None, time.monotonic() + 60, []
        while port is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            seen.append(line)
            if match := re.search(r"running on http://127\.0\.0\.1:(\d+)", line):
                port = int(match.group(1))
        assert port, "".join(seen)
        learner = store.learners[0]
        response = httpx.get(
            f"http://127.0.0.1:{port}/learners/{learner}/recommendations",
            headers={"Authorization": f"Bearer {issuer.token(learner, 'recs:read')}"},
        )
        assert response.status_code == 200 and response.json()["version"] == "v1"
    finally:
        process.terminate()
        process.wait(30)


def test_a_store_the_api_cannot_read_stops_it_at_start(world, issuer: Issuer):
    settings = world.settings.model_copy(update={"serving_store": "postgres"})
    with pytest.raises(ValueError, match="SQLite serving store only"):
        create_app(settings, api_settings(issuer))
