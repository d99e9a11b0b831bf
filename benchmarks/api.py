"""Benchmark suite ``api``: recommendation reads and event posts through ``learnrec api serve``,
against a bare "return a constant" FastAPI endpoint served the same way (the floor).

The store holds 1M learners x 10 recommendations (exported by the real serving export from a
DuckDB warehouse filled by SQL); the snapshots name the same learners, so every posted event is
valid. The API runs as ``learnrec api serve`` with one worker (one core); the load generator
(:mod:`benchmarks.loadgen`, the other core) keeps ``CONNECTIONS`` keep-alive connections busy:

* reads: ``GET /learners/{random}/recommendations?n=10`` with a service token (verified per
  request, RS256), vs ``GET /constant``;
* posts: ``POST /events/learner:batch`` of ``BATCH`` events (validated, appended and fsynced to
  the landing folder before each 202), vs ``POST /constant`` of the same body.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from benchmarks.harness import Recorder
from benchmarks.loadgen import LoadResult, request_bytes, run_load
from exports.api.devissuer import DevIssuer
from exports.recommendations import tables
from exports.recommendations.serving import export_sqlite
from learnrec.contracts.sources import SOURCE_TABLES
from learnrec.settings import Settings, load_settings
from learnrec.tables import DIM_LEARNERS
from learnrec.warehouse import connect_warehouse

#: label -> (learners, courses)
SCALES = {"1M learners x 10 recommendations": (1_000_000, 10_000)}
QUICK_SCALES = {"2k learners x 10 recommendations": (2_000, 200)}
RECS_PER_LEARNER = 10
BATCH = 100
CONNECTIONS = 8
SECONDS = {"full": 20.0, "quick": 3.0}
WARMUP = {"full": 3.0, "quick": 1.0}
TARGETS = {"reads_per_second": 2000, "reads_p99_ms": 25, "events_per_second": 5000, "over_floor": 3}


def floor_app() -> FastAPI:
    """The same framework doing nothing: the floor."""
    app = FastAPI()

    @app.get("/constant")
    async def constant() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/constant")
    async def constant_post(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"accepted": 1}, 202)

    return app


def _filled(schema: pa.Schema, n: int, **columns: pa.Array) -> pa.Table:
    """A contract-shaped table: the given columns, every other one a plain constant."""
    now = datetime.now(UTC)
    constant = {pa.string(): "x", pa.bool_(): False, pa.float64(): 1.0, pa.timestamp("us", tz="UTC"): now}
    arrays = []
    for field in schema:
        if field.name in columns:
            arrays.append(columns[field.name])
        elif pa.types.is_list(field.type):
            arrays.append(pa.array([[]] * n, field.type))
        else:
            arrays.append(pa.repeat(pa.scalar(constant[field.type], field.type), n))
    return pa.Table.from_arrays(arrays, schema=schema)


def build_home(home: Path, n_learners: int, n_courses: int) -> Settings:
    """Snapshots and a published, exported version of ``n_learners`` x 10 recommendations."""
    settings = load_settings(home=home)
    sources = settings.landing_path / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    learners = pa.array([f"L{i:07d}" for i in range(n_learners)])
    courses = pa.array([f"C{i:05d}" for i in range(n_courses)])
    pq.write_table(
        _filled(SOURCE_TABLES["learners"], n_learners, learner_id=learners), sources / "learners.parquet"
    )
    pq.write_table(
        _filled(SOURCE_TABLES["courses"], n_courses, course_id=courses), sources / "courses.parquet"
    )
    with connect_warehouse(settings) as warehouse:
        tables.ensure_tables(warehouse)
        warehouse.execute(
            f"""INSERT INTO {tables.RECOMMENDATIONS} (run_id, learner_id, course_id, rank, score,
                   model_version, signals_used, reason, fallback, log_id)
            SELECT 'bench', printf('L%07d', l), printf('C%05d', (l * 7 + r * 131) % {n_courses}), r + 1,
                   1.0 / (r + 1), 'learnrec-blend:1', ['history', 'career_goal'], 'Because you watched X',
                   NULL, printf('bench:L%07d:%d', l, r + 1)
            FROM range({n_learners}) a(l), range({RECS_PER_LEARNER}) b(r)"""
        )
        warehouse.execute("CREATE SCHEMA IF NOT EXISTS marts")
        warehouse.execute(
            f"""CREATE OR REPLACE TABLE marts.dim_courses AS SELECT printf('C%05d', c) AS course_id,
                'Course ' || c AS title, ['data', 'design'][c % 2 + 1] AS domain,
                ['video', 'text', 'live', 'mixed'][c % 4 + 1] AS format, 2.5::DOUBLE AS difficulty_score,
                3.0::DOUBLE AS duration_hours, 0.7::DOUBLE AS quality_score, ['s1'] AS skill_tags,
                []::VARCHAR[] AS prerequisites FROM range({n_courses}) t(c)"""
        )
        # the export serves only learners whose retention has not ended
        warehouse.execute(
            f"""CREATE OR REPLACE TABLE {DIM_LEARNERS} AS SELECT printf('L%07d', l) AS learner_id,
                TIMESTAMPTZ '2099-01-01 00:00:00+00' AS retention_expiry FROM range({n_learners}) t(l)"""
        )
        export_sqlite(warehouse, "bench", settings.serving_path)
    return settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}") from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def _events(learners: list[str], n_courses: int, rng: random.Random) -> bytes:
    now = datetime.now(UTC)
    events = [
        {
            "learner_id": rng.choice(learners),
            "event_type": "click",
            "course_id": f"C{rng.randrange(n_courses):05d}",
            "timestamp": (now - timedelta(seconds=rng.randrange(3600))).isoformat(timespec="milliseconds"),
            "metadata": {},
        }
        for _ in range(BATCH)
    ]
    return json.dumps(events, separators=(",", ":")).encode()


def measure(settings: Settings, n_learners: int, n_courses: int, mode: str) -> dict[str, LoadResult]:
    issuer = DevIssuer().start()
    env = {**os.environ, "LEARNREC_HOME": str(settings.home), **issuer.env()}
    api_port, floor_port = _free_port(), _free_port()
    learnrec = str(Path(sys.executable).with_name("learnrec"))
    floor_cmd = [
        sys.executable, "-c",
        "import uvicorn; from benchmarks.api import floor_app; from exports.api.server import UVICORN_OPTIONS; "
        f"uvicorn.run(floor_app(), host='127.0.0.1', port={floor_port}, log_level='warning', **UVICORN_OPTIONS)",
    ]  # fmt: skip
    servers = [
        _start([learnrec, "api", "serve", "--port", str(api_port), "--workers", "1"], env, api_port),
        _start(floor_cmd, env, floor_port),
    ]
    rng = random.Random(7)
    token = {"Authorization": f"Bearer {issuer.service_token('recs:read events:write')}"}
    learners = [f"L{rng.randrange(n_learners):07d}" for _ in range(2000)]
    api, floor = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{floor_port}"
    load = {"connections": CONNECTIONS, "seconds": SECONDS[mode], "warmup": WARMUP[mode]}
    try:
        reads = [
            request_bytes(api, "GET", f"/learners/{lid}/recommendations?n=10", token) for lid in learners
        ]
        bodies = [_events(learners, n_courses, rng) for _ in range(50)]
        json_headers = {**token, "Content-Type": "application/json"}
        posts = [request_bytes(api, "POST", "/events/learner:batch", json_headers, b) for b in bodies]
        return {
            "reads": run_load(api, reads, **load),
            "floor_reads": run_load(floor, [request_bytes(floor, "GET", "/constant", token)], **load),
            "posts": run_load(api, posts, expect=202, **load),
            "floor_posts": run_load(
                floor,
                [request_bytes(floor, "POST", "/constant", json_headers, b) for b in bodies],
                expect=202,
                **load,
            ),
        }
    finally:
        for server in servers:
            server.terminate()
            server.wait(30)
        issuer.stop()


def run(recorder: Recorder, quick: bool) -> None:
    mode = "quick" if quick else "full"
    for scale, (n_learners, n_courses) in (QUICK_SCALES if quick else SCALES).items():
        with tempfile.TemporaryDirectory(prefix="learnrec-bench-api-") as tmp:
            started = time.perf_counter()
            settings = build_home(Path(tmp), n_learners, n_courses)
            built = time.perf_counter() - started
            results = measure(settings, n_learners, n_courses, mode)
        notes = {"connections": CONNECTIONS, "workers": 1, "store_build_seconds": round(built, 1)}
        reads, floor_reads, posts, floor_posts = (
            results[k] for k in ("reads", "floor_reads", "posts", "floor_posts")
        )
        for name, result, per in (("reads", reads, 1), ("floor_reads", floor_reads, 1),
                                  ("event_posts", posts, BATCH), ("floor_posts", floor_posts, BATCH)):  # fmt: skip
            unit = "req/s" if per == 1 else "events/s"
            recorder.record(f"{name}_per_second", result.per_second * per, unit, scale, errors=result.errors,
                            batch=per, **notes)  # fmt: skip
            recorder.record(f"{name}_p50", result.p50_ms, "ms", scale)
            recorder.record(f"{name}_p99", result.p99_ms, "ms", scale)
        recorder.record("reads_floor_over_api", floor_reads.per_second / reads.per_second, "x", scale,
                        target=TARGETS["over_floor"])  # fmt: skip
        recorder.record("event_posts_floor_over_api", floor_posts.per_second / posts.per_second, "x", scale,
                        target=TARGETS["over_floor"])  # fmt: skip
