"""The API under test: a real uvicorn server on loopback, an issuer's JWKS on loopback
(:class:`exports.api.devissuer.DevIssuer`: it counts fetches, so cache and rotation can be
checked), a small generated world (its landing folder and snapshots) and a serving store exported
from a DuckDB warehouse by the real serving export."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exports.api.app import create_app
from exports.api.devissuer import DEV_AUDIENCE, DEV_ISSUER, DevIssuer, new_key
from exports.api.server import serve_in_thread
from exports.api.settings import ApiSettings
from exports.recommendations import tables
from exports.recommendations.serving import export_sqlite
from learnrec.settings import Settings
from learnrec.vectors import DIMENSIONS
from learnrec.warehouse import connect_warehouse
from ml.embeddings import WarehouseVectorIndex
from tests.plugins.world.conftest import World, make_world

ISSUER = DEV_ISSUER
AUDIENCE = DEV_AUDIENCE
Issuer = DevIssuer


@pytest.fixture(scope="session")
def issuer() -> Iterator[DevIssuer]:
    keys = {kid: new_key(kid) for kid in ("rsa1", "rsa2", "ec1", "foreign")}
    state = DevIssuer(keys=keys, published=["rsa1", "ec1"]).start()
    yield state
    state.stop()


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
                "is_control": False,
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
        learners = sorted({r["learner_id"] for r in recs})  # the export drops expired learners
        far = datetime(2099, 1, 1, tzinfo=UTC)
        warehouse.load_arrow(
            "marts.dim_learners",
            pa.Table.from_pylist([{"learner_id": lid, "retention_expiry": far} for lid in learners]),
            mode="replace",
        )
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
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Running(url, client)


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
