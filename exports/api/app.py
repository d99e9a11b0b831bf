"""The app factory: services built once per process, the routes of every module on one FastAPI app.

FastAPI (on Starlette, served by uvicorn) for typed request models and the OpenAPI document at
``/docs``; what blocks (validation, the sink's fsync, Kafka's acknowledgement wait, a token not
seen before) runs in threads, quick keyed reads on the event loop (``reads.py``); Strawberry
mounts on it for GraphQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from exports.api.auth import Authenticator, Principal, Scope, permit
from exports.api.collector import BadRequest, GroupValidator, Problem, split_batch
from exports.api.known import KnownIdsCache
from exports.api.settings import ApiSettings
from exports.api.sinks import KafkaSink, LandingSink, Sink, SinkUnavailable
from exports.api.store import ServingStore
from learnrec.ingest.sources.files import EVENTS_FOLDER
from learnrec.settings import Settings
from learnrec.warehouse.sources import SourceSnapshotError

log = logging.getLogger(__name__)

#: Reasons that mean the body has no single JSON meaning (400); the others are contract checks (422).
UNPARSEABLE = frozenset({"malformed_json", "not_an_object", "duplicate_field"})


@dataclass
class Services:
    api: ApiSettings
    auth: Authenticator
    sink: Sink
    validator: GroupValidator
    store: ServingStore
    feedback: LandingSink

    def close(self) -> None:
        self.sink.close()
        self.feedback.close()


def build_services(settings: Settings, api: ApiSettings) -> Services:
    from exports.api.feedback import FEEDBACK_FOLDER

    if settings.serving_store != "sqlite":
        raise ValueError(
            f"the API reads the SQLite serving store only; LEARNREC_SERVING_STORE={settings.serving_store} "
            "is not supported by it yet"
        )

    def landing(folder: str) -> LandingSink:
        return LandingSink(
            settings.landing_path / folder, api.landing_rotate_seconds, api.landing_rotate_bytes
        )

    if settings.event_source == "kafka":
        from learnrec.ingest.sources.kafka import kafka_config

        sink: Sink = KafkaSink(
            kafka_config(settings), settings.kafka_topic, api.kafka_delivery_timeout_seconds
        )
    else:
        sink = landing(EVENTS_FOLDER)
    return Services(
        api=api,
        auth=Authenticator(api),
        sink=sink,
        validator=GroupValidator(KnownIdsCache(settings.landing_path, api.known_ids_refresh_seconds)),
        store=ServingStore(settings.serving_path),
        feedback=landing(FEEDBACK_FOLDER),
    )


def problem_response(status: int, detail: str, problems: list[Problem]) -> JSONResponse:
    return JSONResponse(
        {
            "detail": detail,
            "errors": [{"index": p.index, "reason": p.reason, "detail": p.detail} for p in problems],
        },
        status_code=status,
    )


def unavailable(services: Services, detail: str) -> JSONResponse:
    log.warning("503: %s", detail)
    return JSONResponse(
        {"detail": detail}, 503, headers={"Retry-After": str(services.api.retry_after_seconds)}
    )


async def _body(request: Request, limit: int) -> bytes:
    body = await request.body()
    if len(body) > limit:
        raise BadRequest("too_large", f"the body exceeds {limit} bytes")
    return body


def _accept_events(services: Services, principal: Principal, payloads: list[str]) -> JSONResponse:
    try:
        checked = services.validator.check(payloads)
    except (SourceSnapshotError, OSError) as exc:
        return unavailable(services, f"learner and course ids cannot be read: {exc}")
    if checked.problems:
        status = 400 if all(p.reason in UNPARSEABLE for p in checked.problems) else 422
        return problem_response(status, "events refused by the learner event contract", checked.problems)
    for learner in dict.fromkeys(checked.learner_ids):
        permit(principal, Scope.EVENTS_WRITE, learner)
    try:
        services.sink.send(checked.compact, checked.learner_ids)
    except SinkUnavailable as exc:
        return unavailable(services, str(exc))
    return JSONResponse({"accepted": len(checked.event_ids), "event_ids": checked.event_ids}, 202)


def add_event_routes(app: FastAPI, services: Services) -> None:
    @app.post("/events/learner", status_code=202, tags=["collector"])
    async def post_event(request: Request) -> JSONResponse:
        """One learner event (the contract of ``learnrec.contracts.events``)."""
        principal = await asyncio.to_thread(services.auth.authorize, request, Scope.EVENTS_WRITE)
        body = await _body(request, services.api.max_body_bytes)
        return await asyncio.to_thread(
            _accept_events, services, principal, [body.decode("utf-8", "backslashreplace")]
        )

    @app.post("/events/learner:batch", status_code=202, tags=["collector"])
    async def post_batch(request: Request) -> JSONResponse:
        """A JSON array of up to ``LEARNREC_API_BATCH_MAX_EVENTS`` events, accepted all or none."""
        principal = await asyncio.to_thread(services.auth.authorize, request, Scope.EVENTS_WRITE)
        body = await _body(request, services.api.max_body_bytes)
        payloads = split_batch(body, services.api.batch_max_events)
        return await asyncio.to_thread(_accept_events, services, principal, payloads)


def create_app(settings: Settings, api: ApiSettings) -> FastAPI:
    """The whole service, with the configured store, sinks and issuer."""
    from exports.api.feedback import add_feedback_routes
    from exports.api.graphql import add_graphql
    from exports.api.reads import add_read_routes

    services = build_services(settings, api)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async def rotate() -> None:
            while True:
                await asyncio.sleep(1.0)
                for sink in (services.sink, services.feedback):
                    if isinstance(sink, LandingSink):
                        await asyncio.to_thread(sink.publish_due)

        timer = asyncio.create_task(rotate())
        try:
            yield
        finally:
            timer.cancel()
            with suppress(asyncio.CancelledError):
                await timer
            services.close()

    app = FastAPI(title="learnrec API", version="1", lifespan=lifespan)
    app.state.services = services

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        return problem_response(
            413 if exc.reason == "too_large" else 400, str(exc), [Problem(-1, exc.reason, str(exc))]
        )

    add_event_routes(app, services)
    add_feedback_routes(app, services)
    add_read_routes(app, services)
    add_graphql(app, services)
    return app
