"""REST reads over the serving store: recommendations, learning path, courses, health.

Every response of a read names the version it came from (``version``) and carries it as a weak
ETag: ``If-None-Match`` with it is answered 304, and Cache-Control lets clients and proxies keep
a page until the next version (learner data ``private``, the catalogue ``public``).

The endpoints run on the event loop: a remembered token and a keyed SQLite read take tens of
microseconds, less than a hop to the thread pool (which halved the throughput); what may wait on
the network (verifying a new token, i.e. perhaps fetching the JWKS) goes to a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from exports.api.auth import Scope
from exports.api.store import StoreUnavailable, StoreView


def _cached(request: Request, view: StoreView, body: dict[str, Any], max_age: int, private: bool) -> Response:
    etag = f'W/"{view.run_id}"'
    headers = {"ETag": etag, "Cache-Control": f"{'private' if private else 'public'}, max-age={max_age}"}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status_code=304, headers=headers)
    return JSONResponse({"version": view.run_id, **body}, headers=headers)


def add_read_routes(app: FastAPI, services: Any) -> None:
    store, auth, api = services.store, services.auth, services.api

    async def read(request: Request, scope_learner: str | None, private: bool, produce) -> Response:
        await auth.authorize_async(request, Scope.RECS_READ, scope_learner)
        try:
            with store.view() as view:
                body = produce(view)
                return _cached(request, view, body, api.cache_max_age_seconds, private)
        except StoreUnavailable as exc:
            raise HTTPException(
                503, str(exc), headers={"Retry-After": str(api.retry_after_seconds)}
            ) from None

    @app.get("/learners/{learner_id}/recommendations", tags=["reads"])
    async def recommendations(
        request: Request,
        learner_id: str,
        n: int = Query(10, ge=1, le=api.page_max),
        offset: int = Query(0, ge=0),
        domain: str | None = Query(None, description="only courses of this skill domain"),
        format: str | None = Query(None, description="only courses of this format"),
    ) -> Response:
        """The learner's recommendations in rank order, a page at a time."""

        def produce(view: StoreView) -> dict[str, Any]:
            if not view.has_learner(learner_id):
                raise HTTPException(
                    404, f"no recommendations for learner {learner_id} in version {view.run_id}"
                )
            items, total = view.recommendations(learner_id, n, offset, domain, format)
            more = offset + len(items) < total
            return {
                "learner_id": learner_id,
                "total": total,
                "offset": offset,
                "next_offset": offset + len(items) if more else None,
                "items": items,
            }

        return await read(request, learner_id, True, produce)

    @app.get("/learners/{learner_id}/learning-path", tags=["reads"])
    async def learning_path(request: Request, learner_id: str) -> Response:
        """The one learning path served to the learner (the agent's, else the static one)."""

        def produce(view: StoreView) -> dict[str, Any]:
            steps = view.learning_path(learner_id)
            if not steps:
                raise HTTPException(
                    404, f"no learning path for learner {learner_id} in version {view.run_id}"
                )
            return {"learner_id": learner_id, "steps": steps}

        return await read(request, learner_id, True, produce)

    @app.get("/courses/{course_id}", tags=["reads"])
    async def course(request: Request, course_id: str) -> Response:
        def produce(view: StoreView) -> dict[str, Any]:
            found = view.course(course_id)
            if found is None:
                raise HTTPException(404, f"no course {course_id}")
            return {"course": found}

        return await read(request, None, False, produce)

    @app.get("/courses/{course_id}/similar", tags=["reads"])
    async def similar(
        request: Request, course_id: str, n: int = Query(10, ge=1, le=api.page_max)
    ) -> Response:
        """The courses nearest to this one in the content index."""

        def produce(view: StoreView) -> dict[str, Any]:
            if view.course(course_id) is None:
                raise HTTPException(404, f"no course {course_id}")
            return {"course_id": course_id, "items": view.similar_courses(course_id, n)}

        return await read(request, None, False, produce)

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/health/ready", tags=["health"])
    async def ready() -> JSONResponse:
        """Ready when the store serves a version; reports the version and its age."""

        def probe() -> dict[str, Any]:
            with store.view() as view:
                return {
                    "status": "ready",
                    "version": view.run_id,
                    "version_age_seconds": round(store.age_seconds(), 1),
                }

        try:
            return JSONResponse(await asyncio.to_thread(probe))
        except (StoreUnavailable, OSError) as exc:
            return JSONResponse({"status": "not ready", "detail": str(exc)}, 503)
