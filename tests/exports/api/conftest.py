"""The API under test: a real uvicorn server on loopback, a real issuer's JWKS on loopback, a
small generated world (its landing folder and snapshots) and a serving store exported from a
DuckDB warehouse by the real serving export.

Tokens are signed by keys the test holds; the JWKS server publishes the public halves (and
counts fetches, so cache and rotation can be checked).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from exports.api.app import create_app
from exports.api.settings import ApiSettings
from exports.recommendations import tables
from exports.recommendations.serving import export_sqlite
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from ml.embeddings import DIMENSIONS, WarehouseVectorIndex
from tests.plugins.world.conftest import World, make_world

ISSUER = "https://id.learnrec.test/"
AUDIENCE = "learnrec-api"
SERVICE = "recs-web"  # a service's client id (client credentials: sub == client_id)


@dataclass
class Issuer:
    """Signing keys by kid; ``published`` are those the JWKS endpoint serves."""

    keys: dict[str, object]
    published: list[str]
    url: str = ""
    fetches: int = 0

    def jwks(self) -> dict:
        out = []
        for kid in self.published:
            jwk = json.loads(
                jwt.algorithms.get_default_algorithms()[self.alg(kid)].to_jwk(self.keys[kid].public_key())
            )
            out.append({**jwk, "kid": kid, "use": "sig", "alg": self.alg(kid)})
        return {"keys": out}

    @staticmethod
    def alg(kid: str) -> str:
        return "ES256" if kid.startswith("ec") else "RS256"

    def token(
        self,
        sub: str,
        scope: str,
        *,
        client_id: str = "learner-app",
        kid: str = "rsa1",
        lifetime: timedelta = timedelta(minutes=5),
        **claims: object,
    ) -> str:
        now = datetime.now(UTC)
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode(body, self.keys[kid], algorithm=self.alg(kid), headers={"kid": kid})

    def service_token(self, scope: str, **kwargs: object) -> str:
        return self.token(SERVICE, scope, client_id=SERVICE, **kwargs)


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    keys = {
        "rsa1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec1": ec.generate_private_key(ec.SECP256R1()),
        "foreign": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }
    state = Issuer(keys, ["rsa1", "ec1"])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.fetches += 1
            body = json.dumps(state.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("apiworld"), n_learners=60, n_courses=40, days=3)


@dataclass
class Store:
    """The served version: which learners have which recommendations."""

    run_id: str
    by_learner: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def learners(self) -> list[str]:
        return sorted(self.by_learner)


def export_store(settings: Settings, run_id: str, learners: list[str], n: int = 12) -> Store:
    """Write a version (recommendations + paths) for ``learners`` into a DuckDB warehouse and
    export it with the real serving export to ``settings.serving_path``."""
    courses = pq.read_table(settings.landing_path / "sources" / "courses.parquet").to_pylist()
    store = Store(run_id)
    recs, paths = [], []
    for li, learner in enumerate(learners):
        for rank in range(1, n + 1):
            course = courses[(li * 7 + rank * 3 + len(run_id)) % len(courses)]["course_id"]
            row = {
                "run_id": run_id,
                "learner_id": learner,
                "course_id": course,
                "rank": rank,
                "score": 1.0 / rank,
                "model_version": f"learnrec-blend:{len(run_id)}",
                "signals_used": ["history", "career_goal"],
                "reason": f"because of rank {rank}",
                "fallback": None,
                "log_id": f"{run_id}:{learner}:{rank}",
            }
            recs.append(row)
            store.by_learner.setdefault(learner, []).append(row)
        for step in (1, 2):
            paths.append(
                {
                    "run_id": run_id,
                    "learner_id": learner,
                    "career_goal": "data analyst",
                    "step": step,
                    "course_id": courses[step]["course_id"],
                    "reason": f"step {step}",
                    "source": "static",
                }
            )
    with connect_warehouse(settings) as warehouse:
        tables.ensure_tables(warehouse)
        warehouse.execute(f"DELETE FROM {tables.RECOMMENDATIONS} WHERE run_id = ?", [run_id])
        warehouse.execute(f"DELETE FROM {tables.LEARNING_PATHS} WHERE run_id = ?", [run_id])
        warehouse.load_arrow(tables.RECOMMENDATIONS, pa.Table.from_pylist(recs, tables.RECOMMENDATION_SCHEMA))
        warehouse.load_arrow(tables.LEARNING_PATHS, pa.Table.from_pylist(paths, tables.LEARNING_PATH_SCHEMA))
        warehouse.execute("CREATE SCHEMA IF NOT EXISTS marts")
        dim = [
            {
                "course_id": c["course_id"],
                "title": c["title"],
                "domain": c["domain"],
                "format": c["format"],
                "difficulty_score": 2.5,
                "duration_hours": c["duration_hours"],
                "quality_score": 0.7,
                "skill_tags": ["s1"],
                "prerequisites": c["instructor_prerequisites"],
            }
            for c in courses
        ]
        warehouse.load_arrow("marts.dim_courses", pa.Table.from_pylist(dim), mode="replace")
        index = WarehouseVectorIndex(warehouse)
        rng = np.random.default_rng(3)
        ids = [c["course_id"] for c in courses]
        index.upsert(ids, rng.normal(size=(len(ids), DIMENSIONS)).astype(np.float32), ids, datetime.now(UTC))
        export_sqlite(warehouse, run_id, settings.serving_path, index)
    return store


@pytest.fixture(scope="module")
def store(world: World) -> Store:
    learners = pq.read_table(world.landing / "sources" / "learners.parquet").column("learner_id").to_pylist()
    return export_store(world.settings, "v1", learners[:5])


@dataclass
class Running:
    url: str
    client: httpx.Client
    services: object

    def get(self, path: str, token: str | None = None, **kwargs: object) -> httpx.Response:
        return self.client.get(path, headers=_auth(token, kwargs.pop("headers", {})), **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: object) -> httpx.Response:
        return self.client.post(path, headers=_auth(token, kwargs.pop("headers", {})), **kwargs)


def _auth(token: str | None, headers: dict) -> dict:
    return {**headers, **({"Authorization": f"Bearer {token}"} if token else {})}


def api_settings(issuer: Issuer, **overrides: object) -> ApiSettings:
    return ApiSettings(
        jwks_url=issuer.url, issuer=ISSUER, audience=AUDIENCE, jwks_refetch_cooldown_seconds=0, **overrides
    )


@contextmanager
def serve(settings: Settings, api: ApiSettings) -> Iterator[Running]:
    """The app on a real uvicorn server, 127.0.0.1 on a free port, until the block ends."""
    app = create_app(settings, api)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield Running(url, client, app.state.services)
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.fixture
def api(world: World, store: Store, issuer: Issuer) -> Iterator[Running]:
    with serve(world.settings, api_settings(issuer)) as running:
        yield running


@pytest.fixture(scope="module")
def ids(world) -> tuple[str, str, str]:
    learners = pq.read_table(world.landing / "sources" / "learners.parquet").column("learner_id").to_pylist()
    course = pq.read_table(world.landing / "sources" / "courses.parquet").column("course_id")[0].as_py()
    return learners[0], learners[1], course


def event(learner: str, course: str, *, seconds: int = 0, **changes: object) -> dict:
    at = (datetime.now(UTC) - timedelta(minutes=5, seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    base = {
        "learner_id": learner,
        "event_type": "watch",
        "course_id": course,
        "timestamp": at,
        "metadata": {"watch_duration_seconds": 300 + seconds, "module_id": f"{course}-M01"},
    }
    return {**base, **changes}
